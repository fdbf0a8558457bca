# ticketing edge: one Makefile, fragments per folder (bpf/bpf.mk, bench/bench.mk,
# userspace/userspace.mk, tests/tests.mk). `make run` and `make test` are the
# two commands README.md promises.

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
LDLIBS_BPF := -lxdp -lbpf -lelf -lz

# Sanitizer build of the unit tests (ASan + UBSan).
SANFLAGS   := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all

# Fragments append to these.
BINS        :=
UNIT_TESTS  :=
BPF_TESTS   :=

.PHONY: all deps run test bench clean unit unit-asan bpf-tests integration web web-test e2e

all: build-all web

include bpf/bpf.mk
include userspace/outbox.mk
include userspace/userspace.mk
include userspace/paymentd.mk
include bench/bench.mk
include bench/orders.mk
include tests/tests.mk

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

bench: deps
	@$(MAKE) --no-print-directory all
	@bash bench/run_bench.sh

clean:
	rm -rf $(BUILD)

# Lists for tests/run_all.sh.
.PHONY: print-kafka-tests
print-kafka-tests:
	@echo $(KAFKA_TESTS)
