# userspace/ticketctl/ticketctl.mk: the operator CLI (one UDP request, one
# answer; see `ticketctl --help`). It links the wire codec from libtkt.a;
# `ticketctl room` (room_cmd.c) speaks HTTP to ticketd's admin endpoints with
# libcurl and jansson; `ticketctl stats` and `ticketctl seat` (stats_cmd.c,
# seat_cmd.c, pins.c) read the pinned BPF maps with libbpf (edge_peek.c,
# edge_view.c from libtkt.a).

TICKETCTL := $(BUILD)/ticketctl
TICKETCTL_SRCS := userspace/ticketctl/ticketctl.c userspace/ticketctl/room_cmd.c \
	userspace/ticketctl/stats_cmd.c userspace/ticketctl/seat_cmd.c \
	userspace/ticketctl/pins.c userspace/ticketctl/ctl_http.c

$(TICKETCTL): $(TICKETCTL_SRCS) $(LIBTKT)
	$(link_c)
$(TICKETCTL): private EXTRA_CFLAGS := $(shell pkg-config --cflags libcurl jansson 2>/dev/null)
$(TICKETCTL): private EXTRA_LDLIBS := $(shell pkg-config --libs libcurl jansson 2>/dev/null) $(LIBTKT_LDLIBS)
$(TICKETCTL): userspace/ticketctl/room_cmd.h userspace/ticketctl/stats_cmd.h \
	userspace/ticketctl/seat_cmd.h userspace/ticketctl/pins.h userspace/ticketctl/ctl_http.h

BINS += $(TICKETCTL)
