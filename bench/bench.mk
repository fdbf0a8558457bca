# bench/bench.mk: the UDP client tools and the benchmark harness.
#   $(BUILD)/ticketctl              one request, one answer (userspace/ticketctl.c)
#   $(BUILD)/udp_load               load generator, UDP or Redis + Lua
#   $(BUILD)/xdp_calib              attach / detach / prog_test_run of XDP objects
#   $(BUILD)/bench/xdp_trivial.bpf.o  the calibration XDP program
#   tests/unit/test_wire_codec.c    cmocka, plain and ASan + UBSan
#   make fuzz-wire                  libFuzzer on the reply parser (FUZZ_SECS, 30)
# Included by the root Makefile (BUILD, CC, CLANG, CFLAGS, SANFLAGS,
# LDLIBS_BPF, BINS, UNIT_TESTS). `make bench` runs bench/run_bench.sh.

BENCH_BPF_ARCH_INC ?= /usr/include/$(shell uname -m)-linux-gnu
BENCH_BPF_CFLAGS := -target bpf -O2 -g -mcpu=v3 -Wall -Wextra -Werror \
	-Wno-unused-parameter -I$(ROOT) -I$(BENCH_BPF_ARCH_INC)

WIRE_CODEC     := userspace/wire_codec.c
WIRE_CODEC_HDR := userspace/wire_codec.h bpf/ticket_wire.h

BENCH_BPF_OBJ := $(BUILD)/bench/xdp_trivial.bpf.o

BINS += $(BUILD)/ticketctl $(BUILD)/udp_load $(BUILD)/xdp_calib $(BENCH_BPF_OBJ)
UNIT_TESTS += $(BUILD)/tests/unit/test_wire_codec \
	$(BUILD)/asan/tests/unit/test_wire_codec

$(BUILD)/ticketctl: userspace/ticketctl.c $(WIRE_CODEC) $(WIRE_CODEC_HDR)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(filter %.c,$^) -o $@

$(BUILD)/udp_load: bench/udp_load.c $(WIRE_CODEC) $(WIRE_CODEC_HDR)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(filter %.c,$^) -o $@ -lhiredis -lpthread -lm

$(BUILD)/xdp_calib: bench/xdp_calib.c $(WIRE_CODEC) $(WIRE_CODEC_HDR) bpf/session_token.h \
	bpf/ticket_maps.h bpf/seat_word.h
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(filter %.c,$^) -o $@ $(LDLIBS_BPF)

$(BENCH_BPF_OBJ): bench/xdp_trivial.bpf.c bpf/ticket_wire.h
	@mkdir -p $(@D)
	$(CLANG) $(BENCH_BPF_CFLAGS) -c $< -o $@

$(BUILD)/tests/unit/test_wire_codec: tests/unit/test_wire_codec.c $(WIRE_CODEC) $(WIRE_CODEC_HDR)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(filter %.c,$^) -o $@ -lcmocka

$(BUILD)/asan/tests/unit/test_wire_codec: tests/unit/test_wire_codec.c $(WIRE_CODEC) $(WIRE_CODEC_HDR)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(SANFLAGS) $(filter %.c,$^) -o $@ -lcmocka

# libFuzzer needs clang and libclang-rt-14-dev. Runs for FUZZ_SECS seconds
# from the seed corpus; new inputs it finds stay in the build tree.
FUZZ_SECS ?= 30
FUZZ_WIRE := $(BUILD)/fuzz/fuzz_wire_codec

$(FUZZ_WIRE): tests/fuzz/fuzz_wire_codec.c $(WIRE_CODEC) $(WIRE_CODEC_HDR)
	@mkdir -p $(@D)
	$(CLANG) -std=c11 -D_GNU_SOURCE -g -O1 -Wall -Wextra -Werror \
		-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
		-I$(ROOT) $(filter %.c,$^) -o $@

.PHONY: fuzz-wire bench-tools
fuzz-wire: $(FUZZ_WIRE)
	@mkdir -p $(BUILD)/fuzz/corpus-wire
	@printf '\x54\x58\x01\x81\x00\x00\x00\x01\x00\x00\x00\x07\x00\x00\x00\x05\x00\x00\x00\x00\x00\x00\x00\x02\x00\x00\x01\x93\x6d\x31\x2e\xfb' \
		> $(BUILD)/fuzz/corpus-wire/seed-ok-reply
	@printf '[::1]:7000' > $(BUILD)/fuzz/corpus-wire/seed-endpoint
	$(FUZZ_WIRE) -max_total_time=$(FUZZ_SECS) -max_len=256 \
		$(BUILD)/fuzz/corpus-wire

bench-tools: $(BUILD)/ticketctl $(BUILD)/udp_load $(BUILD)/xdp_calib $(BENCH_BPF_OBJ)

# bench/run_bench.sh reads BUILD from the environment: `make bench BUILD=x`
# must measure the binaries of x.
bench: export BUILD := $(BUILD)
