# userspace/ticketctl/ticketctl.mk: the operator CLI (one UDP request, one
# answer; see `ticketctl --help`). It links the wire codec from libtkt.a;
# `ticketctl room` (room_cmd.c) speaks HTTP to ticketd's admin endpoints with
# libcurl and jansson; `ticketctl stats` and `ticketctl seat` (stats_cmd.c,
# seat_cmd.c, pins.c) read the pinned BPF maps with libbpf (edge_peek.c,
# edge_view.c from libtkt.a); `ticketctl status`, `events` and `drain`
# speak HTTP to ticketd (ctl_http.c; prom_text.c reads /metrics), so does
# `checkin` (checkin_cmd.c, the scanner key), `pins`
# lists the pin directory. Its unit test: test_prom_text.

TICKETCTL := $(BUILD)/ticketctl
TICKETCTL_SRCS := userspace/ticketctl/ticketctl.c userspace/ticketctl/room_cmd.c \
	userspace/ticketctl/stats_cmd.c userspace/ticketctl/seat_cmd.c \
	userspace/ticketctl/pins.c userspace/ticketctl/ctl_http.c \
	userspace/ticketctl/prom_text.c userspace/ticketctl/status_cmd.c \
	userspace/ticketctl/events_cmd.c userspace/ticketctl/drain_cmd.c \
	userspace/ticketctl/pins_cmd.c userspace/ticketctl/checkin_cmd.c \
	userspace/ticketctl/shards_cmd.c

$(TICKETCTL): $(TICKETCTL_SRCS) $(LIBTKT)
	$(link_c)
$(TICKETCTL): private EXTRA_CFLAGS := $(shell pkg-config --cflags libcurl jansson 2>/dev/null)
$(TICKETCTL): private EXTRA_LDLIBS := $(shell pkg-config --libs libcurl jansson 2>/dev/null) $(LIBTKT_LDLIBS)
$(TICKETCTL): userspace/ticketctl/room_cmd.h userspace/ticketctl/stats_cmd.h \
	userspace/ticketctl/seat_cmd.h userspace/ticketctl/pins.h userspace/ticketctl/ctl_http.h \
	userspace/ticketctl/prom_text.h userspace/ticketctl/status_cmd.h \
	userspace/ticketctl/events_cmd.h userspace/ticketctl/drain_cmd.h \
	userspace/ticketctl/pins_cmd.h userspace/ticketctl/checkin_cmd.h

BINS += $(TICKETCTL)

# The /metrics parser's unit test (plain and ASan + UBSan).
TICKETCTL_TEST := $(BUILD)/tests/unit/test_prom_text
TICKETCTL_TEST_ASAN := $(BUILD)/asan/tests/unit/test_prom_text
$(TICKETCTL_TEST) $(TICKETCTL_TEST_ASAN): tests/unit/test_prom_text.c \
	userspace/ticketctl/prom_text.c userspace/ticketctl/prom_text.h
	$(link_c)
$(TICKETCTL_TEST): private EXTRA_LDLIBS := -lcmocka -lm
$(TICKETCTL_TEST_ASAN): private FLAVOUR_CFLAGS := $(SANFLAGS)
$(TICKETCTL_TEST_ASAN): private EXTRA_LDLIBS := -lcmocka -lm
UNIT_TESTS += $(TICKETCTL_TEST)
ASAN_UNIT_TESTS += $(TICKETCTL_TEST_ASAN)
