# Transactional outbox, its Kafka relay, the consumer inbox and the Kafka
# consumer helper; and their integration test against real MariaDB + Kafka.
#
# The root Makefile includes this before userspace/userspace.mk, which puts
# $(OUTBOX_SRCS) into TICKETD_SRCS (so into ticketd and libticketd.a).
# Rules used here but defined elsewhere: $(BUILD)/obj/%.o (userspace.mk),
# $(BUILD)/asan/obj/%.o and the two libticketd.a (tests/tests.mk).
#
# The test needs running services (it does not start them) and restarts
# Kafka and MariaDB through infra/kafka.sh and infra/mariadb.sh with the
# same environment:
#   export RUN_DIR=... MARIADB_PORT=... KAFKA_PORT=... KAFKA_CONTROLLER_PORT=...
#   bash infra/services.sh start mariadb kafka
#   make kafka-tests && $(BUILD)/tests/kafka/test_outbox_relay
#   bash infra/services.sh stop
# Both binaries in KAFKA_TESTS run the same tests (the second under ASan +
# UBSan). There is no TSan build: TSan crashes in librdkafka's own threads
# (an uninstrumented library), before any test runs.

OUTBOX_SRCS += userspace/outbox.c userspace/outbox_relay.c \
	userspace/inbox.c userspace/kafka_consumer.c
OUTBOX_OBJS       = $(patsubst %.c,$(BUILD)/obj/%.o,$(OUTBOX_SRCS))
ASAN_OUTBOX_OBJS  = $(patsubst %.c,$(BUILD)/asan/obj/%.o,$(OUTBOX_SRCS))

KAFKA_TESTS += $(BUILD)/tests/kafka/test_outbox_relay \
	$(BUILD)/asan/tests/kafka/test_outbox_relay

# The outbox objects are named first so the test does not depend on
# libticketd.a carrying them; the archive supplies db, config, log, metrics
# and the embedded migrations.
$(BUILD)/tests/kafka/test_outbox_relay: tests/kafka/test_outbox_relay.c \
		$(OUTBOX_OBJS) $(BUILD)/libticketd.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(TICKETD_CFLAGS) $< -o $@ $(OUTBOX_OBJS) \
		$(BUILD)/libticketd.a $(TICKETD_LIBS) $(LDLIBS_BPF) -lcmocka

$(BUILD)/asan/tests/kafka/test_outbox_relay: tests/kafka/test_outbox_relay.c \
		$(ASAN_OUTBOX_OBJS) $(BUILD)/asan/libticketd.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(SANFLAGS) $(TICKETD_CFLAGS) $< -o $@ $(ASAN_OUTBOX_OBJS) \
		$(BUILD)/asan/libticketd.a $(TICKETD_LIBS) $(LDLIBS_BPF) -lcmocka

.PHONY: kafka-tests
kafka-tests: $(KAFKA_TESTS)

BINS += $(KAFKA_TESTS)

-include $(OUTBOX_OBJS:.o=.d) $(ASAN_OUTBOX_OBJS:.o=.d)
