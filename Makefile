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

# NODES=N: N edge nodes, one network namespace and XDP program each
# (infra/nodes.sh, docs/ops/multinode.md); 1 is the single node.
NODES ?= 1
run: deps
	@$(MAKE) --no-print-directory all
	@NODES=$(NODES) bash infra/run.sh

test: deps
	@$(MAKE) --no-print-directory all
	@bash tests/run_all.sh

# The threaded parts under TSan, quickly (make test runs them too).
tsan-test: $(TSAN_TESTS)
	@set -e; for t in $^; do echo "== $$t"; TSAN_OPTIONS=halt_on_error=1 $$t; done

bench: deps
	@$(MAKE) --no-print-directory all
	@bash bench/run_bench.sh

# A smoke run of every benchmark suite in about 2.5 minutes (tiny durations,
# results in a temporary folder, never over bench/results or BENCHMARKS.md);
# fails when a suite fails. tests/run_all.sh (make test) runs it.
bench-quick:
	@$(MAKE) --no-print-directory build-all
	@BUILD=$(BUILD) BENCH_QUICK=1 bash bench/run_bench.sh

clean:
	rm -rf $(BUILD)

# ---- install, uninstall, Debian package (docs/ops/install.md) ----
# `make install` builds the programs and the web page, then installs them
# with the BPF object, man pages generated from each program's --help
# (docs/man), the systemd units (infra/systemd, paths rewritten for PREFIX)
# and a default config file (kept if one exists). DESTDIR is honoured. The
# database migrations and the XDP program are built into ticketd; the
# object is installed for inspection only. `make deb`: infra/debian/build.sh.
VERSION       := ${shell sed -n '1s/^[^(]*(\([^)-]*\).*/\1/p' infra/debian/changelog}
PREFIX        ?= /usr/local
BINDIR        ?= $(PREFIX)/bin
SBINDIR       ?= $(PREFIX)/sbin
LIBDIR        ?= $(PREFIX)/lib
DATADIR       ?= $(PREFIX)/share
MANDIR        ?= $(DATADIR)/man
# /usr installs configuration in /etc and units in /lib, others under PREFIX
SYSCONFDIR    ?= $(if $(filter /usr,$(PREFIX)),/etc,$(PREFIX)/etc)
SYSTEMDUNITDIR ?= $(if $(filter /usr,$(PREFIX)),/lib/systemd/system,$(PREFIX)/lib/systemd/system)
# StateDirectory=ticketd in the unit: always /var/lib/ticketd
STATEDIR      ?= /var/lib/ticketd
# Rewrites the Debian paths written in units, config and man pages.
INSTALL_PATHS := sed -e 's|/usr/sbin/|$(SBINDIR)/|g' -e 's|/etc/ticketd|$(SYSCONFDIR)/ticketd|g' \
	-e 's|/usr/lib/ticketd|$(LIBDIR)/ticketd|g' -e 's|/usr/share/ticketd|$(DATADIR)/ticketd|g' \
	-e 's|/lib/systemd/system|$(SYSTEMDUNITDIR)|g' -e 's|@WEBDIR@|$(DATADIR)/ticketd/web|g' \
	-e 's|@STATEDIR@|$(STATEDIR)|g'
MAN_PAGES     := ticketd paymentd ticketctl

.PHONY: install install-build uninstall deb test-ops
install-build: $(TICKETD) $(PAYMENTD) $(TICKETCTL) $(BPF_OBJ) web

install: install-build
	@echo "install: programs, BPF object, web page, man pages, units, config under $(DESTDIR)$(PREFIX)"
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBDIR)/ticketd \
		$(DESTDIR)$(DATADIR)/ticketd/web $(DESTDIR)$(MANDIR)/man8 \
		$(DESTDIR)$(SYSTEMDUNITDIR) $(DESTDIR)$(SYSCONFDIR)/ticketd
	install -m 0755 $(TICKETD) $(PAYMENTD) $(DESTDIR)$(SBINDIR)/
	install -m 0755 $(TICKETCTL) $(DESTDIR)$(BINDIR)/
	install -m 0644 $(BPF_OBJ) $(DESTDIR)$(LIBDIR)/ticketd/
	cp -R web/dist/. $(DESTDIR)$(DATADIR)/ticketd/web/
	chmod -R u=rwX,go=rX $(DESTDIR)$(DATADIR)/ticketd/web
	set -e; for p in $(MAN_PAGES); do \
		sh docs/man/mkman.sh docs/man/$$p.8.in $(BUILD)/$$p $(VERSION) | $(INSTALL_PATHS) \
			> $(DESTDIR)$(MANDIR)/man8/$$p.8; \
		chmod 0644 $(DESTDIR)$(MANDIR)/man8/$$p.8; done
	set -e; for u in ticketd.service paymentd.service; do \
		$(INSTALL_PATHS) infra/systemd/$$u > $(DESTDIR)$(SYSTEMDUNITDIR)/$$u; \
		chmod 0644 $(DESTDIR)$(SYSTEMDUNITDIR)/$$u; done
	@# A config file that exists is the operator's: never overwritten.
	@set -e; c=$(DESTDIR)$(SYSCONFDIR)/ticketd/ticketd.conf; \
	if [ -e $$c ]; then echo "install: keeping $$c"; else \
		(umask 077; $(INSTALL_PATHS) infra/systemd/ticketd.conf.in > $$c); chmod 0600 $$c; \
		echo "install: wrote $$c (0600)"; fi; \
	e=$(DESTDIR)$(SYSCONFDIR)/ticketd/paymentd.env; \
	if [ -e $$e ]; then echo "install: keeping $$e"; else \
		install -m 0644 infra/systemd/paymentd.env $$e; echo "install: wrote $$e"; fi

# Removes what install put there; config files only when unchanged.
uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/ticketd $(DESTDIR)$(SBINDIR)/paymentd $(DESTDIR)$(BINDIR)/ticketctl
	rm -rf $(DESTDIR)$(LIBDIR)/ticketd $(DESTDIR)$(DATADIR)/ticketd
	rm -f $(addprefix $(DESTDIR)$(MANDIR)/man8/,$(addsuffix .8,$(MAN_PAGES)))
	rm -f $(DESTDIR)$(SYSTEMDUNITDIR)/ticketd.service $(DESTDIR)$(SYSTEMDUNITDIR)/paymentd.service
	@set -e; d=$(DESTDIR)$(SYSCONFDIR)/ticketd; \
	if [ -f $$d/ticketd.conf ] && $(INSTALL_PATHS) infra/systemd/ticketd.conf.in | cmp -s - $$d/ticketd.conf; then \
		rm -f $$d/ticketd.conf; fi; \
	if [ -f $$d/paymentd.env ] && cmp -s infra/systemd/paymentd.env $$d/paymentd.env; then \
		rm -f $$d/paymentd.env; fi; \
	rmdir $$d 2>/dev/null || echo "uninstall: kept $$d (changed config files)"

# The Debian package, from this tree (dpkg-buildpackage; infra/debian).
deb: install-build
	@BUILD=$(BUILD) bash infra/debian/build.sh

# Operations tests (tests/ops/test_*.sh): install, package, systemd.
test-ops: install-build
	@BUILD=$(BUILD) bash tests/ops/run.sh

# Lists for tests/run_all.sh.
.PHONY: print-kafka-tests
print-kafka-tests:
	@echo $(KAFKA_TESTS)

# Header dependencies of every object the fragments listed in ALL_OBJS.
-include $(ALL_OBJS:.o=.d)
