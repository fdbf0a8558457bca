# userspace/ticketctl/ticketctl.mk: the operator CLI (one UDP request, one
# answer; see `ticketctl --help`). It links only the wire codec from libtkt.a.

TICKETCTL := $(BUILD)/ticketctl

$(TICKETCTL): userspace/ticketctl/ticketctl.c $(LIBTKT)
	$(link_c)

BINS += $(TICKETCTL)
