# userspace/ticketd/ticketd.mk: the daemon, from every .c below
# userspace/ticketd/ (seats/, live/, commerce/, messaging/, db/, rest/ and
# the composition root main.c), linked with libapi.a and libtkt.a; its unit
# tests (plain and ASan + UBSan) link libticketd.a, every object but main;
# the TSan tests of the seat change stream and the SSE hub link a TSan
# libticketd.a of just those and what they call; the Kafka tests of the
# outbox relay; and libFuzzer's flavour of libticketd.a for fuzz/
# (fuzz_http).
#
# The Kafka test needs running services (it does not start them) and
# restarts Kafka and MariaDB through infra/kafka.sh and infra/mariadb.sh
# with the same environment:
#   export RUN_DIR=... MARIADB_PORT=... KAFKA_PORT=... KAFKA_CONTROLLER_PORT=...
#   bash infra/services.sh start mariadb kafka
#   make kafka-tests && $(BUILD)/tests/kafka/test_outbox_relay
#   bash infra/services.sh stop
# There is no TSan build of ticketd: TSan crashes in librdkafka's own
# threads (an uninstrumented library), before any test runs. The threaded
# parts that need no Kafka (the seat change stream, the SSE hub) get a TSan
# flavour of their own objects and TSan unit tests instead.

TICKETD_SRCS := $(wildcard userspace/ticketd/*.c userspace/ticketd/*/*.c)
TICKETD_GEN  := $(BUILD)/gen/migrations_sql.c
MIGRATIONS   := $(sort $(wildcard userspace/ticketd/db/migrations/*.sql))

TICKETD_CFLAGS := $(shell pkg-config --cflags libmariadb jansson libmicrohttpd hiredis rdkafka libcurl libcrypto libcap libsodium libqrencode libpng 2>/dev/null)
TICKETD_LIBS   := $(shell pkg-config --libs libmariadb jansson libmicrohttpd hiredis rdkafka libcurl libcrypto libcap libsodium libqrencode libpng 2>/dev/null) -lpthread

TICKETD_OBJS := $(call objs,,$(TICKETD_SRCS) $(TICKETD_GEN))
TICKETD_OBJS_ASAN := $(call objs,asan/,$(TICKETD_SRCS) $(TICKETD_GEN))
TICKETD_OBJS_FUZZ := $(call objs,fuzz/,$(TICKETD_SRCS) $(TICKETD_GEN))
$(TICKETD_OBJS) $(TICKETD_OBJS_ASAN) $(TICKETD_OBJS_FUZZ): private EXTRA_CFLAGS := $(TICKETD_CFLAGS)
ALL_OBJS += $(TICKETD_OBJS) $(TICKETD_OBJS_ASAN) $(TICKETD_OBJS_FUZZ)

# The migrations, embedded as a C array (compiled by the generic object
# rules from $(BUILD)/gen, hence the two rules for the generated source).
$(TICKETD_GEN): userspace/ticketd/db/embed_sql.sh $(MIGRATIONS)
	@mkdir -p $(dir $@)
	sh userspace/ticketd/db/embed_sql.sh $@ migrations_sql $(MIGRATIONS)
$(call objs,,$(TICKETD_GEN)): $(TICKETD_GEN)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(EXTRA_CFLAGS) -c $< -o $@
$(call objs,asan/,$(TICKETD_GEN)): $(TICKETD_GEN)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(SANFLAGS) $(EXTRA_CFLAGS) -c $< -o $@
$(call objs,fuzz/,$(TICKETD_GEN)): $(TICKETD_GEN)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(CFLAGS) $(FUZZFLAGS) $(EXTRA_CFLAGS) -c $< -o $@

TICKETD := $(BUILD)/ticketd
# sd_notify (main.c; infra/systemd/ticketd.service): only the daemon links it.
TICKETD_SYSTEMD_LIBS := $(shell pkg-config --libs libsystemd 2>/dev/null)
LIBTICKETD := $(BUILD)/lib/libticketd.a
LIBTICKETD_ASAN := $(BUILD)/asan/lib/libticketd.a
LIBTICKETD_FUZZ := $(BUILD)/fuzz/lib/libticketd.a
TICKETD_LINK := $(TICKETD_LIBS) $(API_LDLIBS) $(LIBTKT_LDLIBS)

$(TICKETD): $(TICKETD_OBJS) $(LIBAPI) $(LIBTKT)
	$(link_c)
$(TICKETD): private EXTRA_LDLIBS := $(TICKETD_LINK) $(TICKETD_SYSTEMD_LIBS)

# ASan + UBSan ticketd: tests/run_all.sh runs the integration suite against
# it (TICKETD_BIN, see tests/integration/conftest.py and docs/operations.md).
TICKETD_ASAN := $(BUILD)/asan/ticketd
$(TICKETD_ASAN): $(TICKETD_OBJS_ASAN) $(LIBAPI_ASAN) $(LIBTKT_ASAN)
	$(link_c)
$(TICKETD_ASAN): private EXTRA_LDLIBS := $(TICKETD_LINK) $(TICKETD_SYSTEMD_LIBS)
$(TICKETD_ASAN): private FLAVOUR_CFLAGS := $(SANFLAGS)

$(LIBTICKETD): $(filter-out %/main.o,$(TICKETD_OBJS))
	$(archive)
$(LIBTICKETD_ASAN): $(filter-out %/main.o,$(TICKETD_OBJS_ASAN))
	$(archive)
$(LIBTICKETD_FUZZ): $(filter-out %/main.o,$(TICKETD_OBJS_FUZZ))
	$(archive)

# ---- unit tests ----
TICKETD_UNIT := test_config test_sessions test_db_pool test_stmt_cache test_rest_parse test_journal \
	test_stream_epoch test_saga_sell test_seat_stream test_sse_hub test_room \
	test_overload_bounds test_tickets test_best test_waitlist test_event_layout test_catalog \
	test_shard_map test_sweeper test_order_cache test_saga_batcher
TICKETD_TESTS := $(addprefix $(BUILD)/tests/unit/,$(TICKETD_UNIT))
TICKETD_TESTS_ASAN := $(addprefix $(BUILD)/asan/tests/unit/,$(TICKETD_UNIT))

$(TICKETD_TESTS): $(BUILD)/tests/unit/%: tests/unit/%.c $(LIBTICKETD) $(LIBAPI) $(LIBTKT)
	$(link_c)
$(TICKETD_TESTS_ASAN): $(BUILD)/asan/tests/unit/%: tests/unit/%.c $(LIBTICKETD_ASAN) $(LIBAPI_ASAN) $(LIBTKT_ASAN)
	$(link_c)

# ---- TSan: the seat change stream and the SSE hub ----
# Only these objects and what they call are instrumented (with the TSan
# libtkt.a); jansson and hiredis (the journal's Redis replay) are linked
# plain. tests/run_all.sh runs build/tests/unit/*.tsan with the unit tests.
TICKETD_TSAN_SRCS := userspace/ticketd/seats/seat_stream.c userspace/ticketd/seats/seat_view.c \
	userspace/ticketd/live/sse_hub.c userspace/ticketd/seats/journal.c \
	userspace/ticketd/commerce/catalog.c
TICKETD_OBJS_TSAN := $(call objs,tsan/,$(TICKETD_TSAN_SRCS))
LIBTICKETD_TSAN := $(BUILD)/tsan/lib/libticketd.a
$(TICKETD_OBJS_TSAN): private EXTRA_CFLAGS := $(TICKETD_CFLAGS)
ALL_OBJS += $(TICKETD_OBJS_TSAN)

$(LIBTICKETD_TSAN): $(TICKETD_OBJS_TSAN)
	$(archive)

TICKETD_TESTS_TSAN := $(addprefix $(BUILD)/tests/unit/,$(addsuffix .tsan,test_seat_stream test_sse_hub))
$(TICKETD_TESTS_TSAN): $(BUILD)/tests/unit/%.tsan: tests/unit/%.c $(LIBTICKETD_TSAN) $(LIBTKT_TSAN)
	$(link_c)
$(TICKETD_TESTS_TSAN): private EXTRA_CFLAGS := $(TICKETD_CFLAGS)
$(TICKETD_TESTS_TSAN): private EXTRA_LDLIBS := -lcmocka \
	$(shell pkg-config --libs jansson hiredis 2>/dev/null) $(LIBTKT_LDLIBS)
$(TICKETD_TESTS_TSAN): private FLAVOUR_CFLAGS := $(TSANFLAGS)

# The threaded tests' shared fixture (header-only; the link takes the .c).
TICKETD_STREAM_TESTS := $(foreach t,test_seat_stream test_sse_hub,\
	$(BUILD)/tests/unit/$(t) $(BUILD)/asan/tests/unit/$(t) $(BUILD)/tests/unit/$(t).tsan)
$(TICKETD_STREAM_TESTS): tests/unit/stream_fixture.h

# ---- Kafka tests (real MariaDB + Kafka; run by tests/run_all.sh) ----
TICKETD_KAFKA := $(BUILD)/tests/kafka/test_outbox_relay
TICKETD_KAFKA_ASAN := $(BUILD)/asan/tests/kafka/test_outbox_relay

$(TICKETD_KAFKA): tests/kafka/test_outbox_relay.c $(LIBTICKETD) $(LIBAPI) $(LIBTKT)
	$(link_c)
$(TICKETD_KAFKA_ASAN): tests/kafka/test_outbox_relay.c $(LIBTICKETD_ASAN) $(LIBAPI_ASAN) $(LIBTKT_ASAN)
	$(link_c)

$(TICKETD_TESTS) $(TICKETD_TESTS_ASAN) $(TICKETD_KAFKA) $(TICKETD_KAFKA_ASAN): private EXTRA_CFLAGS := $(TICKETD_CFLAGS)
$(TICKETD_TESTS) $(TICKETD_TESTS_ASAN) $(TICKETD_KAFKA) $(TICKETD_KAFKA_ASAN): private EXTRA_LDLIBS := -lcmocka $(TICKETD_LINK)
$(TICKETD_TESTS_ASAN) $(TICKETD_KAFKA_ASAN): private FLAVOUR_CFLAGS := $(SANFLAGS)

BINS            += $(TICKETD) $(TICKETD_ASAN)
UNIT_TESTS      += $(TICKETD_TESTS) $(TICKETD_TESTS_TSAN)
TSAN_TESTS      += $(TICKETD_TESTS_TSAN)
ASAN_UNIT_TESTS += $(TICKETD_TESTS_ASAN)
KAFKA_TESTS     += $(TICKETD_KAFKA) $(TICKETD_KAFKA_ASAN)

.PHONY: kafka-tests
kafka-tests: $(KAFKA_TESTS)
