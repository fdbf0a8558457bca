# userspace/ticketctl/ticketctl.mk: the operator CLI (one UDP request, one
# answer; see `ticketctl --help`). It links only the wire codec from libtkt.a;
# `ticketctl room` (room_cmd.c) speaks HTTP to ticketd's admin endpoints with
# libcurl and jansson.

TICKETCTL := $(BUILD)/ticketctl

$(TICKETCTL): userspace/ticketctl/ticketctl.c userspace/ticketctl/room_cmd.c $(LIBTKT)
	$(link_c)
$(TICKETCTL): private EXTRA_CFLAGS := $(shell pkg-config --cflags libcurl jansson 2>/dev/null)
$(TICKETCTL): private EXTRA_LDLIBS := $(shell pkg-config --libs libcurl jansson 2>/dev/null)
$(TICKETCTL): userspace/ticketctl/room_cmd.h

BINS += $(TICKETCTL)
