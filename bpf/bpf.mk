# bpf/bpf.mk: the XDP object, its skeleton, the edge library (userspace/edge.c,
# userspace/udp_door.c) and the tests of all three. Included by the root
# Makefile, which defines BUILD, CC, CLANG, BPFTOOL, CFLAGS, LDLIBS_BPF,
# SANFLAGS and the lists BINS, UNIT_TESTS, BPF_TESTS appended to here.
#
# For ticketd: link $(EDGE_LIB) (or $(EDGE_LIB_ASAN) in sanitizer builds)
# with $(LDLIBS_BPF) -lpthread, and make objects that include
# seat_hold.skel.h depend on $(BPF_SKEL).

BPF_ARCH_INC ?= /usr/include/$(shell uname -m)-linux-gnu
# -mcpu=v3: BPF atomics (compare-and-swap) and 32-bit sub-registers.
BPF_CFLAGS := -target bpf -O2 -g -mcpu=v3 -Wall -Wextra -Werror \
	-Wno-unused-parameter -I$(ROOT) -I$(BPF_ARCH_INC)

BPF_HDRS := bpf/seat_word.h bpf/ticket_maps.h bpf/ticket_wire.h \
	bpf/session_token.h bpf/hold_door.h
BPF_OBJ  := $(BUILD)/bpf/seat_hold.bpf.o
BPF_SKEL := $(BUILD)/bpf/seat_hold.skel.h

$(BPF_OBJ): bpf/seat_hold.bpf.c $(BPF_HDRS)
	@mkdir -p $(@D)
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(BPF_SKEL): $(BPF_OBJ)
	$(BPFTOOL) gen skeleton $< name seat_hold > $@.tmp
	mv $@.tmp $@

# ---- the edge library: seat table handle + socket door ----

EDGE_HDRS := userspace/edge.h userspace/udp_door.h $(BPF_HDRS) $(BPF_SKEL)
EDGE_OBJS := $(BUILD)/edge/edge.o $(BUILD)/edge/udp_door.o
EDGE_OBJS_ASAN := $(BUILD)/edge-asan/edge.o $(BUILD)/edge-asan/udp_door.o
EDGE_OBJS_TSAN := $(BUILD)/edge-tsan/edge.o $(BUILD)/edge-tsan/udp_door.o
EDGE_LIB := $(BUILD)/edge/libedge.a
EDGE_LIB_ASAN := $(BUILD)/edge-asan/libedge.a
EDGE_LIB_TSAN := $(BUILD)/edge-tsan/libedge.a
# ThreadSanitizer for the threaded parts (socket door workers, change queue,
# consumer); not combinable with ASan, hence its own build.
TSANFLAGS := -fsanitize=thread -fno-omit-frame-pointer
EDGE_LDLIBS := $(LDLIBS_BPF) -lpthread

$(BUILD)/edge/%.o: userspace/%.c $(EDGE_HDRS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/edge-asan/%.o: userspace/%.c $(EDGE_HDRS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(SANFLAGS) -c $< -o $@

$(BUILD)/edge-tsan/%.o: userspace/%.c $(EDGE_HDRS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(TSANFLAGS) -c $< -o $@

$(EDGE_LIB_TSAN): $(EDGE_OBJS_TSAN)
	$(AR) rcs $@ $^

$(EDGE_LIB): $(EDGE_OBJS)
	$(AR) rcs $@ $^

$(EDGE_LIB_ASAN): $(EDGE_OBJS_ASAN)
	$(AR) rcs $@ $^

# ---- unit tests (no privileges, no BPF): plain, ASan+UBSan, TSan ----
# tests/run_all.sh runs every executable in $(BUILD)/tests/unit,
# $(BUILD)/asan/tests/unit and $(BUILD)/tests/bpf, so the TSan builds sit
# beside the plain ones with a .tsan suffix.

EDGE_UNIT_PURE := test_seat_word test_session_token test_hold_door
EDGE_UNIT_LIBS := test_udp_door

EDGE_UNIT := $(addprefix $(BUILD)/tests/unit/,$(EDGE_UNIT_PURE) $(EDGE_UNIT_LIBS))
EDGE_UNIT_ASAN := $(addprefix $(BUILD)/asan/tests/unit/,$(EDGE_UNIT_PURE) $(EDGE_UNIT_LIBS))
EDGE_UNIT_TSAN := $(BUILD)/tests/unit/test_udp_door.tsan

$(addprefix $(BUILD)/tests/unit/,$(EDGE_UNIT_PURE)): $(BUILD)/tests/unit/%: tests/unit/%.c $(BPF_HDRS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $< -o $@ -lcmocka

$(addprefix $(BUILD)/asan/tests/unit/,$(EDGE_UNIT_PURE)): $(BUILD)/asan/tests/unit/%: tests/unit/%.c $(BPF_HDRS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(SANFLAGS) $< -o $@ -lcmocka

$(BUILD)/tests/unit/test_udp_door: tests/unit/test_udp_door.c $(EDGE_LIB) $(EDGE_HDRS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $< -o $@ $(EDGE_LIB) -lcmocka $(EDGE_LDLIBS)

$(BUILD)/asan/tests/unit/test_udp_door: tests/unit/test_udp_door.c $(EDGE_LIB_ASAN) $(EDGE_HDRS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(SANFLAGS) $< -o $@ $(EDGE_LIB_ASAN) -lcmocka $(EDGE_LDLIBS)

$(BUILD)/tests/unit/test_udp_door.tsan: tests/unit/test_udp_door.c $(EDGE_LIB_TSAN) $(EDGE_HDRS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(TSANFLAGS) $< -o $@ $(EDGE_LIB_TSAN) -lcmocka $(EDGE_LDLIBS)

UNIT_TESTS += $(EDGE_UNIT) $(EDGE_UNIT_TSAN)
ASAN_UNIT_TESTS += $(EDGE_UNIT_ASAN)

# ---- BPF tests (root: load the object, prog_test_run, netns) ----

EDGE_NETNS_DRIVER := $(BUILD)/tests/bpf/tools/xdp_netns_driver
EDGE_BPF_TESTS := $(BUILD)/tests/bpf/test_xdp_seat_hold \
	$(BUILD)/tests/bpf/test_seat_race $(BUILD)/tests/bpf/test_seat_race.tsan

$(BUILD)/tests/bpf/test_xdp_seat_hold: tests/bpf/test_xdp_seat_hold.c tests/bpf/packets.h $(EDGE_HDRS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $< -o $@ -lcmocka $(EDGE_LDLIBS)

$(BUILD)/tests/bpf/test_seat_race: tests/bpf/test_seat_race.c tests/bpf/packets.h $(EDGE_LIB) $(EDGE_HDRS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $< -o $@ $(EDGE_LIB) -lcmocka $(EDGE_LDLIBS)

$(BUILD)/tests/bpf/test_seat_race.tsan: tests/bpf/test_seat_race.c tests/bpf/packets.h $(EDGE_LIB_TSAN) $(EDGE_HDRS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(TSANFLAGS) $< -o $@ $(EDGE_LIB_TSAN) -lcmocka $(EDGE_LDLIBS)

# tests/bpf/test_xdp_netns.sh (run from the source tree, as run_all.sh runs
# tests/bpf/*.sh) drives this; it lives in a subdirectory so that the
# runner's loop over $(BUILD)/tests/bpf/* does not start it without
# arguments.
$(EDGE_NETNS_DRIVER): tests/bpf/xdp_netns_driver.c tests/bpf/packets.h $(EDGE_LIB) $(EDGE_HDRS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $< -o $@ $(EDGE_LIB) $(EDGE_LDLIBS)

BPF_TESTS += $(EDGE_BPF_TESTS) $(EDGE_NETNS_DRIVER)
# `make all` builds what `make test` runs
BINS += $(EDGE_BPF_TESTS) $(EDGE_NETNS_DRIVER)

# `make edge-test`: just this part, for whoever works on it.
.PHONY: edge-test edge-unit edge-bpf-tests
edge-unit: $(EDGE_UNIT) $(EDGE_UNIT_ASAN) $(EDGE_UNIT_TSAN)
	@set -e; for t in $^; do echo "== $$t"; $$t; done
edge-bpf-tests: $(EDGE_BPF_TESTS) $(EDGE_NETNS_DRIVER)
	@set -e; for t in $(EDGE_BPF_TESTS); do echo "== $$t"; $$t; done; \
	echo "== tests/bpf/test_xdp_netns.sh"; BUILD=$(BUILD) bash tests/bpf/test_xdp_netns.sh
edge-test: edge-unit edge-bpf-tests
