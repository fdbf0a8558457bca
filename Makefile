# ticketing edge: one Makefile, one fragment per folder. Each fragment builds
# its own folder's sources and tests and nothing else:
#
#   bpf/bpf.mk                     XDP object, skeleton, BPF and seat-rule tests
#   userspace/lib/lib.mk           libtkt.a: shared library (+ its tests)
#   api/api.mk                     libapi.a: generic HTTP/SSE layer (+ tests)
#   userspace/ticketd/ticketd.mk   ticketd (+ its unit and Kafka tests)
#   userspace/paymentd/paymentd.mk paymentd (+ its tests)
#   userspace/ticketctl/ticketctl.mk ticketctl
#   bench/bench.mk                 load tools and benchmark programs
#   fuzz/fuzz.mk                   libFuzzer harnesses, `make fuzz`
#
# `make run` and `make test` are the two commands README.md promises.

BUILD      ?= build
CC         ?= gcc
CLANG      ?= clang
BPFTOOL    ?= bpftool
ROOT       := $(abspath .)

# snprintf truncation is deliberate wherever we use it (bounded messages).
WARN       := -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wno-unused-parameter -Wno-format-truncation
# clang has no -Wformat-truncation; let it ignore the option.
WARN       += $(if $(findstring clang,$(CC)),-Wno-unknown-warning-option)
CFLAGS     ?= -O2 -g
CFLAGS     += -std=c11 -D_GNU_SOURCE $(WARN) -I$(ROOT) -I$(BUILD)
LDLIBS_BPF := -lbpf -lelf -lz

# Sanitizer builds: ASan + UBSan, and TSan for the threaded parts (TSan
# does not combine with ASan, hence a third flavour).
SANFLAGS   := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
TSANFLAGS  := -fsanitize=thread -fno-omit-frame-pointer
# libFuzzer flavour: always clang, ASan + UBSan plus the coverage libFuzzer
# needs; fuzz/fuzz.mk links the harnesses with -fsanitize=fuzzer.
FUZZ_CC    ?= $(CLANG)
FUZZFLAGS  := -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer \
	-fno-sanitize-recover=all -Wno-unknown-warning-option

# Artefacts that more than one fragment links, named here so that the order
# in which fragments are read does not matter. Each is built by the fragment
# of its folder.
BPF_OBJ       := $(BUILD)/bpf/seat_hold.bpf.o
BPF_SKEL      := $(BUILD)/bpf/seat_hold.skel.h
LIBTKT        := $(BUILD)/lib/libtkt.a
LIBTKT_ASAN   := $(BUILD)/asan/lib/libtkt.a
LIBTKT_TSAN   := $(BUILD)/tsan/lib/libtkt.a
LIBAPI        := $(BUILD)/api/libapi.a
LIBAPI_ASAN   := $(BUILD)/asan/api/libapi.a
LIBTKT_FUZZ   := $(BUILD)/fuzz/lib/libtkt.a
LIBAPI_FUZZ   := $(BUILD)/fuzz/api/libapi.a

# Fragments append to these. UNIT_TESTS and ASAN_UNIT_TESTS are run by
# tests/run_all.sh (every executable in $(BUILD)/tests/unit and
# $(BUILD)/asan/tests/unit), BPF_TESTS likewise from $(BUILD)/tests/bpf,
# FUZZ_TARGETS (libFuzzer harnesses) from $(BUILD)/fuzz/bin. TSAN_TESTS
# are the TSan unit tests among UNIT_TESTS (*.tsan), which `make tsan-test`
# runs on their own (no root, no services).
BINS            :=
UNIT_TESTS      :=
TSAN_TESTS      :=
ASAN_UNIT_TESTS :=
BPF_TESTS       :=
KAFKA_TESTS     :=
FUZZ_TARGETS    :=
ALL_OBJS        :=

.PHONY: all deps run test bench bench-quick clean web web-test e2e build-all tsan-test

all: build-all web

# Objects, in four flavours told apart by their folder under $(BUILD).
# A fragment gives its objects their library flags with a private
# target-specific EXTRA_CFLAGS (private: a test binary's flags never leak
# into the objects it links).
$(BUILD)/obj/%.o: %.c | $(BPF_SKEL)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(EXTRA_CFLAGS) -MMD -MP -c $< -o $@
$(BUILD)/asan/obj/%.o: %.c | $(BPF_SKEL)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(SANFLAGS) $(EXTRA_CFLAGS) -MMD -MP -c $< -o $@
$(BUILD)/tsan/obj/%.o: %.c | $(BPF_SKEL)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(TSANFLAGS) $(EXTRA_CFLAGS) -MMD -MP -c $< -o $@
$(BUILD)/fuzz/obj/%.o: %.c | $(BPF_SKEL)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(CFLAGS) $(FUZZFLAGS) $(EXTRA_CFLAGS) -MMD -MP -c $< -o $@

# $(call objs,FLAVOUR,SOURCES): object paths; FLAVOUR is empty, asan/, tsan/
# or fuzz/.
objs = $(patsubst %.c,$(BUILD)/$(1)obj/%.o,$(2))

# Links a test or tool: its .c sources and archives from the prerequisites,
# then EXTRA_LDLIBS. Sanitizer flavours add their flags through FLAVOUR_CFLAGS.
# Archives the prerequisites into a static library.
define archive
	@mkdir -p $(@D)
	rm -f $@ && $(AR) rcs $@ $^
endef

define link_c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(FLAVOUR_CFLAGS) $(EXTRA_CFLAGS) $(filter %.c,$^) -o $@ \
		$(filter %.o %.a,$^) $(EXTRA_LDLIBS)
endef

include bpf/bpf.mk
include userspace/lib/lib.mk
include api/api.mk
include userspace/ticketd/ticketd.mk
include userspace/paymentd/paymentd.mk
include userspace/ticketctl/ticketctl.mk
include bench/bench.mk
include fuzz/fuzz.mk

BINS += $(UNIT_TESTS) $(ASAN_UNIT_TESTS) $(BPF_TESTS) $(KAFKA_TESTS) $(FUZZ_TARGETS)

build-all: $(BINS)

deps:
	@bash infra/install.sh

# The browser page (web/dist), served by ticketd at /; quick when up to date.
web:
	@bash web/build.sh
web-test:
	@bash web/test.sh
# End-to-end in Chromium with a private stack (own ports, tests/e2e/.run).
e2e: build-all web
	@bash tests/e2e/run.sh --with-stack

run: deps
	@$(MAKE) --no-print-directory all
	@bash infra/run.sh

test: deps
	@$(MAKE) --no-print-directory all
	@bash tests/run_all.sh

# The threaded parts under TSan, quickly (make test runs them too).
tsan-test: $(TSAN_TESTS)
	@set -e; for t in $^; do echo "== $$t"; TSAN_OPTIONS=halt_on_error=1 $$t; done

bench: deps
	@$(MAKE) --no-print-directory all
	@bash bench/run_bench.sh

# A smoke run of every benchmark suite in under 3 minutes (tiny durations,
# results in a temporary folder, never over bench/results or BENCHMARKS.md);
# fails when a suite fails. tests/run_all.sh (make test) runs it.
bench-quick:
	@$(MAKE) --no-print-directory build-all
	@BUILD=$(BUILD) BENCH_QUICK=1 bash bench/run_bench.sh

clean:
	rm -rf $(BUILD)

# Lists for tests/run_all.sh.
.PHONY: print-kafka-tests
print-kafka-tests:
	@echo $(KAFKA_TESTS)

# Header dependencies of every object the fragments listed in ALL_OBJS.
-include $(ALL_OBJS:.o=.d)
