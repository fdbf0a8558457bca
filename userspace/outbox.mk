# Transactional outbox, its Kafka relay, the consumer inbox and the Kafka
# consumer helper; and their integration test against real MariaDB + Kafka.
#
# Include after userspace/userspace.mk (it uses BUILD, CFLAGS,
# TICKETD_CFLAGS, TICKETD_LIBS and the $(BUILD)/obj/%.o rule). To build the
# objects into ticketd, add $(OUTBOX_SRCS) to TICKETD_SRCS.
#
# The test needs running services (it does not start them):
#   RUN_DIR=... MARIADB_PORT=... KAFKA_PORT=... KAFKA_CONTROLLER_PORT=... \
#     bash infra/services.sh start mariadb kafka    (or infra/mariadb.sh, infra/kafka.sh)
#   make kafka-tests && $(BUILD)/tests/kafka/test_outbox_relay
# It stops and restarts that Kafka through infra/kafka.sh with the same env.

OUTBOX_SRCS += userspace/outbox.c userspace/outbox_relay.c \
	userspace/inbox.c userspace/kafka_consumer.c
OUTBOX_OBJS  = $(patsubst %.c,$(BUILD)/obj/%.o,$(OUTBOX_SRCS))

KAFKA_TESTS += $(BUILD)/tests/kafka/test_outbox_relay

# The test's own objects come first; libticketd.a supplies db, config, log,
# metrics and the embedded migrations (and, once OUTBOX_SRCS is part of
# ticketd, copies of these objects that the linker then leaves unused).
$(BUILD)/tests/kafka/test_outbox_relay: tests/kafka/test_outbox_relay.c \
		$(OUTBOX_OBJS) $(BUILD)/libticketd.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(TICKETD_CFLAGS) $< -o $@ $(OUTBOX_OBJS) \
		$(BUILD)/libticketd.a $(TICKETD_LIBS) $(LDLIBS_BPF) -lcmocka

.PHONY: kafka-tests
kafka-tests: $(KAFKA_TESTS)

BINS += $(KAFKA_TESTS)

-include $(OUTBOX_OBJS:.o=.d)
