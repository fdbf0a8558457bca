# ticketd and its parts. api/ and userspace/ objects are shared by ticketd
# and the unit tests.

TICKETD_SRCS := userspace/main.c userspace/config.c userspace/log.c \
	userspace/db.c userspace/catalog_store.c userspace/sessions.c \
	userspace/metrics.c userspace/health.c userspace/seat_view.c \
	userspace/edge_setup.c userspace/seat_stream.c userspace/sweeper.c \
	userspace/holds.c api/routes_reservations.c userspace/journal.c \
	userspace/recovery.c userspace/orders.c userspace/order_store.c \
	userspace/saga.c userspace/payment_client.c api/routes_orders.c \
	api/static_files.c userspace/sse_hub.c api/sse.c \
	$(OUTBOX_SRCS) \
	api/http_util.c api/http_server.c api/routes.c api/routes_events.c \
	api/routes_sessions.c api/routes_health.c
TICKETD_GEN  := $(BUILD)/gen/migrations_sql.c
MIGRATIONS   := $(sort $(wildcard userspace/migrations/*.sql))

TICKETD_CFLAGS := $(shell pkg-config --cflags libmariadb jansson libmicrohttpd hiredis rdkafka libcurl libcrypto 2>/dev/null)
TICKETD_LIBS   := $(shell pkg-config --libs libmariadb jansson libmicrohttpd hiredis rdkafka libcurl libcrypto 2>/dev/null) -lpthread

TICKETD_OBJS := $(patsubst %.c,$(BUILD)/obj/%.o,$(TICKETD_SRCS)) \
	$(BUILD)/obj/gen/migrations_sql.o

BINS += $(BUILD)/ticketd

$(TICKETD_GEN): userspace/embed_sql.sh $(MIGRATIONS)
	@mkdir -p $(dir $@)
	sh userspace/embed_sql.sh $@ migrations_sql $(MIGRATIONS)

$(BUILD)/obj/gen/migrations_sql.o: $(TICKETD_GEN)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(TICKETD_CFLAGS) -c $< -o $@

$(BUILD)/obj/%.o: %.c | $(BPF_SKEL)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(TICKETD_CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/ticketd: $(TICKETD_OBJS) $(EDGE_LIB)
	$(CC) $(CFLAGS) -o $@ $^ $(TICKETD_LIBS) $(EDGE_LDLIBS)

-include $(TICKETD_OBJS:.o=.d)
