# bpf/bpf.mk: the XDP object and its skeleton, the tests of the seat rules
# and token check (pure headers, no privileges), and the BPF tests (root:
# load the object, prog_test_run, a race against the daemon's CAS, a real
# attach in a namespace). The race test and the netns driver link the seat
# table from $(LIBTKT).

BPF_ARCH_INC ?= /usr/include/$(shell uname -m)-linux-gnu
# -mcpu=v3: BPF atomics (compare-and-swap) and 32-bit sub-registers.
BPF_CFLAGS := -target bpf -O2 -g -mcpu=v3 -Wall -Wextra -Werror \
	-Wno-unused-parameter -I$(ROOT) -I$(BPF_ARCH_INC)

BPF_HDRS := bpf/seat_word.h bpf/ticket_maps.h bpf/ticket_wire.h \
	bpf/session_token.h bpf/hold_door.h

$(BPF_OBJ): bpf/seat_hold.bpf.c $(BPF_HDRS)
	@mkdir -p $(@D)
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(BPF_SKEL): $(BPF_OBJ)
	$(BPFTOOL) gen skeleton $< name seat_hold > $@.tmp
	mv $@.tmp $@

# ---- unit tests of the headers (no privileges, no BPF), plain and ASan ----

BPF_UNIT := test_seat_word test_session_token test_hold_door

$(addprefix $(BUILD)/tests/unit/,$(BPF_UNIT)): $(BUILD)/tests/unit/%: tests/unit/%.c $(BPF_HDRS)
	$(link_c)
$(addprefix $(BUILD)/asan/tests/unit/,$(BPF_UNIT)): $(BUILD)/asan/tests/unit/%: tests/unit/%.c $(BPF_HDRS)
	$(link_c)
$(addprefix $(BUILD)/tests/unit/,$(BPF_UNIT)) \
$(addprefix $(BUILD)/asan/tests/unit/,$(BPF_UNIT)): private EXTRA_LDLIBS := -lcmocka
$(addprefix $(BUILD)/asan/tests/unit/,$(BPF_UNIT)): private FLAVOUR_CFLAGS := $(SANFLAGS)

UNIT_TESTS      += $(addprefix $(BUILD)/tests/unit/,$(BPF_UNIT))
ASAN_UNIT_TESTS += $(addprefix $(BUILD)/asan/tests/unit/,$(BPF_UNIT))

# ---- BPF tests (root) ----
# tests/run_all.sh runs every executable directly in $(BUILD)/tests/bpf;
# the netns driver sits in tools/ below it because tests/bpf/test_xdp_netns.sh
# drives it with arguments.

BPF_NETNS_DRIVER := $(BUILD)/tests/bpf/tools/xdp_netns_driver
BPF_RUN_TESTS := $(BUILD)/tests/bpf/test_xdp_seat_hold \
	$(BUILD)/tests/bpf/test_seat_race $(BUILD)/tests/bpf/test_seat_race.tsan \
	$(BUILD)/tests/bpf/test_hold_counts $(BUILD)/tests/bpf/test_admission

$(BUILD)/tests/bpf/test_xdp_seat_hold: tests/bpf/test_xdp_seat_hold.c tests/bpf/packets.h $(BPF_HDRS) $(BPF_SKEL)
	$(link_c)
$(BUILD)/tests/bpf/test_seat_race: tests/bpf/test_seat_race.c tests/bpf/packets.h $(LIBTKT) $(BPF_SKEL)
	$(link_c)
$(BUILD)/tests/bpf/test_seat_race.tsan: tests/bpf/test_seat_race.c tests/bpf/packets.h $(LIBTKT_TSAN) $(BPF_SKEL)
	$(link_c)
$(BUILD)/tests/bpf/test_hold_counts: tests/bpf/test_hold_counts.c tests/bpf/packets.h $(LIBTKT) $(BPF_SKEL)
	$(link_c)
$(BUILD)/tests/bpf/test_admission: tests/bpf/test_admission.c tests/bpf/packets.h $(LIBTKT) $(BPF_SKEL)
	$(link_c)
$(BPF_NETNS_DRIVER): tests/bpf/xdp_netns_driver.c tests/bpf/packets.h $(LIBTKT) $(BPF_SKEL)
	$(link_c)
$(BPF_RUN_TESTS) $(BPF_NETNS_DRIVER): private EXTRA_LDLIBS := -lcmocka $(LDLIBS_BPF) -lpthread
$(BUILD)/tests/bpf/test_seat_race.tsan: private FLAVOUR_CFLAGS := $(TSANFLAGS)

BPF_TESTS += $(BPF_RUN_TESTS) $(BPF_NETNS_DRIVER)

# `make edge-test`: just the seat rules, the seat table and the XDP program.
.PHONY: edge-test edge-unit edge-bpf-tests
edge-unit: $(addprefix $(BUILD)/tests/unit/,$(BPF_UNIT))
	@set -e; for t in $^; do echo "== $$t"; $$t; done
edge-bpf-tests: $(BPF_RUN_TESTS) $(BPF_NETNS_DRIVER)
	@set -e; for t in $(BPF_RUN_TESTS); do echo "== $$t"; $$t; done; \
	echo "== tests/bpf/test_xdp_netns.sh"; BUILD=$(BUILD) bash tests/bpf/test_xdp_netns.sh
edge-test: edge-unit edge-bpf-tests
