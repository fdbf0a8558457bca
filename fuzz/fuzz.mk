# fuzz/fuzz.mk: libFuzzer harnesses (clang, ASan + UBSan), linked with the
# libFuzzer flavour of the libraries (the root Makefile's $(BUILD)/fuzz/obj
# objects, archived by each folder's fragment):
#
#   fuzz_udp_request  tkt_req_check and the client side of the protocol
#   fuzz_door         tkt_door_serve against a real seat table (shm edge)
#   fuzz_http         the REST request parsers, headers and paths
#   fuzz_room_ticket  the waiting room's queue ticket parser and check
#   fuzz_forwarded    the trusted-proxy list and X-Forwarded-For walk
#   fuzz_pkt_gen_reply  bench/pkt_gen's frame builder and reply parser
#   fuzz_traceparent  the W3C traceparent parser and formatter
#   fuzz_ticket       the signed ticket parser and its Ed25519 check
#   fuzz_best         best available's seat choice on random seat maps
#   fuzz_waitlist     the waiting-list core under random joins, leaves,
#                     freed seats and lapses, against a plain model
#   fuzz_layout       the admin API's event description and seat-map builder
#
# Seeds and dictionaries live in fuzz/corpus/<target>/ and fuzz/<target>.dict.
#   make fuzz                       each target FUZZ_SECONDS (300) seconds
#   make fuzz FUZZ_SECONDS=30 FUZZ_TARGET=fuzz_door   one target, shorter
# New inputs go to $(BUILD)/fuzz/corpus/<target>/ (the committed seeds stay
# as they are); crashes to $(BUILD)/fuzz/crashes/<target>/. tests/run_all.sh
# runs every target for a few seconds ("fuzz (bounded)"). Reproduce a crash
# with: $(BUILD)/fuzz/bin/<target> <crash file>

FUZZ_BIN := $(BUILD)/fuzz/bin
FUZZ_LINKFLAGS := -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all

FUZZ_UDP_REQUEST := $(FUZZ_BIN)/fuzz_udp_request
FUZZ_DOOR := $(FUZZ_BIN)/fuzz_door
FUZZ_HTTP := $(FUZZ_BIN)/fuzz_http
FUZZ_ROOM_TICKET := $(FUZZ_BIN)/fuzz_room_ticket
FUZZ_FORWARDED := $(FUZZ_BIN)/fuzz_forwarded
FUZZ_PKT_GEN_REPLY := $(FUZZ_BIN)/fuzz_pkt_gen_reply
FUZZ_TRACEPARENT := $(FUZZ_BIN)/fuzz_traceparent
FUZZ_TICKET := $(FUZZ_BIN)/fuzz_ticket
FUZZ_BEST := $(FUZZ_BIN)/fuzz_best
FUZZ_WAITLIST := $(FUZZ_BIN)/fuzz_waitlist
FUZZ_LAYOUT := $(FUZZ_BIN)/fuzz_layout

define link_fuzz
	@mkdir -p $(@D)
	$(FUZZ_CC) $(CFLAGS) $(FUZZFLAGS) $(FUZZ_LINKFLAGS) $(EXTRA_CFLAGS) \
		$(filter %.c,$^) -o $@ $(filter %.o %.a,$^) $(EXTRA_LDLIBS)
endef

$(FUZZ_UDP_REQUEST): fuzz/fuzz_udp_request.c $(LIBTKT_FUZZ)
	$(link_fuzz)
$(FUZZ_DOOR): fuzz/fuzz_door.c $(LIBTKT_FUZZ)
	$(link_fuzz)
$(FUZZ_UDP_REQUEST) $(FUZZ_DOOR): private EXTRA_LDLIBS := $(LIBTKT_LDLIBS)

$(FUZZ_HTTP): fuzz/fuzz_http.c $(LIBTICKETD_FUZZ) $(LIBAPI_FUZZ) $(LIBTKT_FUZZ)
	$(link_fuzz)
$(FUZZ_HTTP): private EXTRA_CFLAGS := $(TICKETD_CFLAGS)
$(FUZZ_HTTP): private EXTRA_LDLIBS := $(TICKETD_LINK)

$(FUZZ_ROOM_TICKET): fuzz/fuzz_room_ticket.c $(LIBTICKETD_FUZZ) $(LIBAPI_FUZZ) $(LIBTKT_FUZZ)
	$(link_fuzz)
$(FUZZ_ROOM_TICKET): private EXTRA_CFLAGS := $(TICKETD_CFLAGS)
$(FUZZ_ROOM_TICKET): private EXTRA_LDLIBS := $(TICKETD_LINK)

$(FUZZ_FORWARDED): fuzz/fuzz_forwarded.c $(LIBAPI_FUZZ) $(LIBTKT_FUZZ)
	$(link_fuzz)
$(FUZZ_FORWARDED): private EXTRA_LDLIBS := $(TICKETD_LINK)

$(FUZZ_PKT_GEN_REPLY): fuzz/fuzz_pkt_gen_reply.c $(LIBPKT_GEN_FUZZ) $(LIBTKT_FUZZ)
	$(link_fuzz)
$(FUZZ_PKT_GEN_REPLY): private EXTRA_LDLIBS := $(LIBTKT_LDLIBS)

$(FUZZ_TRACEPARENT): fuzz/fuzz_traceparent.c $(LIBTKT_FUZZ)
	$(link_fuzz)
$(FUZZ_TRACEPARENT): private EXTRA_LDLIBS := $(LIBTKT_LDLIBS)

$(FUZZ_TICKET): fuzz/fuzz_ticket.c $(LIBTICKETD_FUZZ) $(LIBAPI_FUZZ) $(LIBTKT_FUZZ)
	$(link_fuzz)
$(FUZZ_TICKET): private EXTRA_CFLAGS := $(TICKETD_CFLAGS)
$(FUZZ_TICKET): private EXTRA_LDLIBS := $(TICKETD_LINK)

# the seat choice is a pure function: its one object is all it links
$(FUZZ_BEST): fuzz/fuzz_best.c $(BUILD)/fuzz/obj/userspace/ticketd/seats/best.o
	$(link_fuzz)

# the waiting-list core is pure too
$(FUZZ_WAITLIST): fuzz/fuzz_waitlist.c $(BUILD)/fuzz/obj/userspace/ticketd/waitlist/waitlist.o
	$(link_fuzz)

FUZZ_TARGETS += $(FUZZ_BEST) $(FUZZ_WAITLIST)

# the layout builder needs jansson, the catalogue's snapshot helpers and
# the time parser only
$(FUZZ_LAYOUT): fuzz/fuzz_layout.c $(BUILD)/fuzz/obj/userspace/ticketd/commerce/event_layout.o \
		$(BUILD)/fuzz/obj/userspace/ticketd/commerce/catalog.o $(LIBTKT_FUZZ)
	$(link_fuzz)
$(FUZZ_LAYOUT): private EXTRA_CFLAGS := $(TICKETD_CFLAGS)
$(FUZZ_LAYOUT): private EXTRA_LDLIBS := $(TICKETD_LINK)
FUZZ_TARGETS += $(FUZZ_LAYOUT)
FUZZ_TARGETS += $(FUZZ_UDP_REQUEST) $(FUZZ_DOOR) $(FUZZ_HTTP) $(FUZZ_ROOM_TICKET) \
	$(FUZZ_FORWARDED) $(FUZZ_PKT_GEN_REPLY) $(FUZZ_TRACEPARENT) $(FUZZ_TICKET)

# ---- runs ----
FUZZ_SECONDS ?= 300
# FUZZ_TARGET empty: every harness, one per fuzz/fuzz_*.c (fuzz/run.sh)
FUZZ_TARGET ?=

.PHONY: fuzz fuzz-build
fuzz-build: $(FUZZ_TARGETS)
fuzz: fuzz-build
	@bash fuzz/run.sh --seconds $(FUZZ_SECONDS) $(FUZZ_TARGET)
