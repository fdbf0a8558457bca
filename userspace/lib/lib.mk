# userspace/lib/lib.mk: libtkt.a, what several programs share with no
# knowledge of any one of them (logging, metrics text, the wire codec, the
# seat table and its UDP door), in three flavours (plain, ASan + UBSan,
# TSan); its unit tests, which link nothing but libtkt.a, libbpf, jansson and
# cmocka; and `make fuzz-wire`.

LIBTKT_SRCS := $(wildcard userspace/lib/*.c)
LIBTKT_CFLAGS := $(shell pkg-config --cflags jansson rdkafka 2>/dev/null)
# What a program linking libtkt.a adds (it pulls only the objects it uses).
LIBTKT_LDLIBS := $(LDLIBS_BPF) $(shell pkg-config --libs jansson 2>/dev/null) -lpthread

LIBTKT_OBJS := $(call objs,,$(LIBTKT_SRCS))
LIBTKT_OBJS_ASAN := $(call objs,asan/,$(LIBTKT_SRCS))
LIBTKT_OBJS_TSAN := $(call objs,tsan/,$(LIBTKT_SRCS))
$(LIBTKT_OBJS) $(LIBTKT_OBJS_ASAN) $(LIBTKT_OBJS_TSAN): private EXTRA_CFLAGS := $(LIBTKT_CFLAGS)
ALL_OBJS += $(LIBTKT_OBJS) $(LIBTKT_OBJS_ASAN) $(LIBTKT_OBJS_TSAN)

$(LIBTKT): $(LIBTKT_OBJS)
	$(archive)
$(LIBTKT_ASAN): $(LIBTKT_OBJS_ASAN)
	$(archive)
$(LIBTKT_TSAN): $(LIBTKT_OBJS_TSAN)
	$(archive)

# ---- unit tests: plain, ASan + UBSan, and TSan for the threaded parts ----

LIBTKT_UNIT := test_udp_door test_wire_codec test_lib_text test_settings test_worker \
	test_change_queue test_addr_limit test_private_dir
LIBTKT_TESTS := $(addprefix $(BUILD)/tests/unit/,$(LIBTKT_UNIT))
LIBTKT_TESTS_ASAN := $(addprefix $(BUILD)/asan/tests/unit/,$(LIBTKT_UNIT))
LIBTKT_TESTS_TSAN := $(addprefix $(BUILD)/tests/unit/,$(addsuffix .tsan,test_udp_door test_worker test_change_queue test_addr_limit))

$(LIBTKT_TESTS): $(BUILD)/tests/unit/%: tests/unit/%.c $(LIBTKT)
	$(link_c)
$(LIBTKT_TESTS_ASAN): $(BUILD)/asan/tests/unit/%: tests/unit/%.c $(LIBTKT_ASAN)
	$(link_c)
$(LIBTKT_TESTS_TSAN): $(BUILD)/tests/unit/%.tsan: tests/unit/%.c $(LIBTKT_TSAN)
	$(link_c)
$(LIBTKT_TESTS) $(LIBTKT_TESTS_ASAN) $(LIBTKT_TESTS_TSAN): private EXTRA_LDLIBS := -lcmocka $(LIBTKT_LDLIBS)
$(LIBTKT_TESTS_ASAN): private FLAVOUR_CFLAGS := $(SANFLAGS)
$(LIBTKT_TESTS_TSAN): private FLAVOUR_CFLAGS := $(TSANFLAGS)

UNIT_TESTS      += $(LIBTKT_TESTS) $(LIBTKT_TESTS_TSAN)
ASAN_UNIT_TESTS += $(LIBTKT_TESTS_ASAN)

# ---- libFuzzer on the reply parser (needs clang and libclang-rt-14-dev) ----
# Runs for FUZZ_SECS seconds from a seed corpus; new inputs it finds stay in
# the build tree.
FUZZ_SECS ?= 30
FUZZ_WIRE := $(BUILD)/fuzz/fuzz_wire_codec

$(FUZZ_WIRE): tests/fuzz/fuzz_wire_codec.c userspace/lib/wire_codec.c userspace/lib/hex.c userspace/lib/timefmt.c userspace/lib/wire_codec.h bpf/ticket_wire.h
	@mkdir -p $(@D)
	$(CLANG) -std=c11 -D_GNU_SOURCE -g -O1 -Wall -Wextra -Werror \
		-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
		-I$(ROOT) $(filter %.c,$^) -o $@

.PHONY: fuzz-wire
fuzz-wire: $(FUZZ_WIRE)
	@mkdir -p $(BUILD)/fuzz/corpus-wire
	@printf '\x54\x58\x01\x81\x00\x00\x00\x01\x00\x00\x00\x07\x00\x00\x00\x05\x00\x00\x00\x00\x00\x00\x00\x02\x00\x00\x01\x93\x6d\x31\x2e\xfb' \
		> $(BUILD)/fuzz/corpus-wire/seed-ok-reply
	@printf '[::1]:7000' > $(BUILD)/fuzz/corpus-wire/seed-endpoint
	$(FUZZ_WIRE) -max_total_time=$(FUZZ_SECS) -max_len=256 \
		$(BUILD)/fuzz/corpus-wire
