# bench/bench.mk: the load tools and benchmark programs. `make bench` runs
# bench/run_bench.sh, which writes BENCHMARKS.md.
#   $(BUILD)/bench/libbench.a         bench/lib: what the load tools share,
#                                     linked before libtkt.a: hist (the one
#                                     histogram and percentile rule), cpu
#                                     (/proc and getrusage), opts (option
#                                     tables and --help), conn (endpoints,
#                                     epoll plumbing, HTTP/1.1), proto
#                                     (tokens, op cycles), tally (named
#                                     counters), sse (server-sent events
#                                     off an HTTP answer), msg, bpf_obj (open one
#                                     program of an object); bench/lib/common.sh is
#                                     the scripts' shell counterpart
#   $(BUILD)/udp_load                 load generator, UDP or Redis + Lua
#   $(BUILD)/xdp_calib                attach / detach / prog_test_run of XDP objects
#   $(BUILD)/pkt_gen                  hold-protocol frames through a PF_PACKET TX
#                                     ring (qdisc bypass) on the host-side veth,
#                                     replies counted off a PF_PACKET RX ring: the
#                                     load beyond the socket ceiling
#                                     (bench/wire_bench.sh, issue #14)
#   $(BUILD)/node_follow              UDP holds on events spread over several
#                                     edge nodes, following WRONG_NODE to the
#                                     owner; prints every ownership move with
#                                     its gap (bench/nodes_bench.sh, issue 16)
#   $(BUILD)/hold_cost                ns per hold of the real XDP program as the seat
#                                     table grows (bpf_prog_test_run; bench/plots_bench.sh)
#   $(BUILD)/bench/xdp_trivial.bpf.o  the calibration XDP program
#   $(BUILD)/orders_load              open-loop purchase load against ticketd
#                                     (hold, order, authorize, poll), the same
#                                     schedule against paymentd alone, and a
#                                     session maker; --room goes through the
#                                     waiting room first, --closed measures
#                                     capacity (bench/room_bench.sh)
#   $(BUILD)/vu_load                  the prior design's 1000-user scenario:
#                                     virtual users looping events, seat map,
#                                     hold, order, authorize, status; closed
#                                     (user stages) or open loop (arrival
#                                     rates), think time off or on
#                                     (bench/vu_bench.sh)
#   $(BUILD)/rest_load                closed/paced REST or Redis + Lua hold load
#   $(BUILD)/sse_bench                seat-stream fan-out client
#   $(BUILD)/flood_load               hostile clients (session flood, slow
#                                     headers, UDP garbage, one-address hold
#                                     probe) and the bystander that measures
#                                     them (bench/hostile_bench.sh)
#   make bench-orders                 runs bench/orders_bench.sh (about 4 minutes)
#   make bench-vu                     runs bench/vu_bench.sh alone (about 4
#                                     minutes); `make bench SUITES=vu` runs
#                                     it inside make bench
#   make bench-room                   runs bench/room_bench.sh alone (about
#                                     6 minutes); `make bench SUITES=room`
#                                     runs it inside make bench
#   make bench-wire                   runs bench/wire_bench.sh alone (about
#                                     4 minutes); `make bench SUITES=wire`
#                                     runs it inside make bench
#   make bench-checkin                runs bench/checkin_bench.sh alone (about
#                                     a minute): accepted ticket check-ins/s
#   make bench-best                   runs bench/best_bench.sh alone (about
#                                     a minute): best available at 1,000
#                                     connections on a 20,000-seat map
#   make bench-nodes                  runs bench/nodes_bench.sh alone (about
#                                     3 minutes): three edge nodes, holds/s
#                                     per node, failover time (issue 16)
#   make bench-hostile                runs bench/hostile_bench.sh alone (about
#                                     3 minutes); `make bench SUITES=hostile`
#                                     runs it inside make bench
#   make chaos                        the fault suite, full form
#                                     (tests/chaos/run.sh --full, about 4
#                                     minutes, own services under
#                                     .run-chaos/): writes
#                                     bench/results/chaos.md; `make test`
#                                     runs its short form

# ---- bench/lib: libbench.a, plain and ASan + UBSan (for its unit test) ----

LIBBENCH := $(BUILD)/bench/libbench.a
LIBBENCH_ASAN := $(BUILD)/asan/bench/libbench.a
LIBBENCH_SRCS := $(wildcard bench/lib/*.c)
LIBBENCH_HDRS := $(wildcard bench/lib/*.h)
LIBBENCH_OBJS := $(call objs,,$(LIBBENCH_SRCS))
LIBBENCH_OBJS_ASAN := $(call objs,asan/,$(LIBBENCH_SRCS))
ALL_OBJS += $(LIBBENCH_OBJS) $(LIBBENCH_OBJS_ASAN)

$(LIBBENCH): $(LIBBENCH_OBJS)
	$(archive)
$(LIBBENCH_ASAN): $(LIBBENCH_OBJS_ASAN)
	$(archive)

BENCH_UNIT := test_bench_hist
BENCH_TESTS := $(addprefix $(BUILD)/tests/unit/,$(BENCH_UNIT))
BENCH_TESTS_ASAN := $(addprefix $(BUILD)/asan/tests/unit/,$(BENCH_UNIT))

$(BENCH_TESTS): $(BUILD)/tests/unit/%: tests/unit/%.c $(LIBBENCH)
	$(link_c)
$(BENCH_TESTS_ASAN): $(BUILD)/asan/tests/unit/%: tests/unit/%.c $(LIBBENCH_ASAN)
	$(link_c)
$(BENCH_TESTS) $(BENCH_TESTS_ASAN): private EXTRA_LDLIBS := -lcmocka
$(BENCH_TESTS_ASAN): private FLAVOUR_CFLAGS := $(SANFLAGS)

# the answers the room benchmark reads (conn.c needs libtkt.a's clock)
BENCH_TKT_UNIT := test_bench_sse
BENCH_TKT_TESTS := $(addprefix $(BUILD)/tests/unit/,$(BENCH_TKT_UNIT))
BENCH_TKT_TESTS_ASAN := $(addprefix $(BUILD)/asan/tests/unit/,$(BENCH_TKT_UNIT))

$(BENCH_TKT_TESTS): $(BUILD)/tests/unit/%: tests/unit/%.c $(LIBBENCH) $(LIBTKT)
	$(link_c)
$(BENCH_TKT_TESTS_ASAN): $(BUILD)/asan/tests/unit/%: tests/unit/%.c $(LIBBENCH_ASAN) $(LIBTKT_ASAN)
	$(link_c)
$(BENCH_TKT_TESTS) $(BENCH_TKT_TESTS_ASAN): private EXTRA_LDLIBS := -lcmocka
$(BENCH_TKT_TESTS_ASAN): private FLAVOUR_CFLAGS := $(SANFLAGS)

# pkt_gen's frame builder and reply parser (bench/pkt_gen_frame.c); its
# libFuzzer flavour is archived here for the fuzz_pkt_gen_reply harness
LIBPKT_GEN_FUZZ := $(BUILD)/fuzz/bench/libpkt_gen.a
$(LIBPKT_GEN_FUZZ): $(call objs,fuzz/,bench/pkt_gen_frame.c)
	$(archive)
PKT_GEN_UNIT := test_pkt_gen_frame
PKT_GEN_TESTS := $(addprefix $(BUILD)/tests/unit/,$(PKT_GEN_UNIT))
PKT_GEN_TESTS_ASAN := $(addprefix $(BUILD)/asan/tests/unit/,$(PKT_GEN_UNIT))

$(PKT_GEN_TESTS): $(BUILD)/tests/unit/%: tests/unit/%.c bench/pkt_gen_frame.c bench/pkt_gen_frame.h $(LIBTKT)
	$(link_c)
$(PKT_GEN_TESTS_ASAN): $(BUILD)/asan/tests/unit/%: tests/unit/%.c bench/pkt_gen_frame.c bench/pkt_gen_frame.h $(LIBTKT_ASAN)
	$(link_c)
$(PKT_GEN_TESTS) $(PKT_GEN_TESTS_ASAN): private EXTRA_LDLIBS := -lcmocka $(LIBTKT_LDLIBS)
$(PKT_GEN_TESTS_ASAN): private FLAVOUR_CFLAGS := $(SANFLAGS)

UNIT_TESTS      += $(BENCH_TESTS) $(BENCH_TKT_TESTS) $(PKT_GEN_TESTS)
ASAN_UNIT_TESTS += $(BENCH_TESTS_ASAN) $(BENCH_TKT_TESTS_ASAN) $(PKT_GEN_TESTS_ASAN)

# ---- the tools ----

BENCH_BPF_OBJ := $(BUILD)/bench/xdp_trivial.bpf.o
UDP_LOAD := $(BUILD)/udp_load
XDP_CALIB := $(BUILD)/xdp_calib
ORDERS_LOAD := $(BUILD)/orders_load
VU_LOAD := $(BUILD)/vu_load
REST_LOAD := $(BUILD)/rest_load
SSE_BENCH := $(BUILD)/sse_bench
FLOOD_LOAD := $(BUILD)/flood_load
HOLD_COST := $(BUILD)/hold_cost
PKT_GEN := $(BUILD)/pkt_gen
NODE_FOLLOW := $(BUILD)/node_follow

# Each tool links libbench.a before libtkt.a (bench/lib uses the wire codec).
$(UDP_LOAD): bench/udp_load.c $(LIBBENCH) $(LIBTKT) $(LIBBENCH_HDRS)
	$(link_c)
$(UDP_LOAD): private EXTRA_LDLIBS := -lhiredis -lpthread

$(XDP_CALIB): bench/xdp_calib.c $(LIBBENCH) $(LIBTKT) $(BPF_SKEL) $(LIBBENCH_HDRS)
	$(link_c)
$(XDP_CALIB): private EXTRA_LDLIBS := $(LDLIBS_BPF)

$(ORDERS_LOAD): bench/orders_load.c $(LIBBENCH) $(LIBTKT) $(LIBBENCH_HDRS)
	$(link_c)

$(VU_LOAD): bench/vu_load.c $(LIBBENCH) $(LIBTKT) $(LIBBENCH_HDRS)
	$(link_c)

$(REST_LOAD): bench/rest_load.c $(LIBBENCH) $(LIBTKT) $(LIBBENCH_HDRS)
	$(link_c)
$(REST_LOAD): private EXTRA_LDLIBS := -lpthread

$(SSE_BENCH): bench/sse_bench.c $(LIBBENCH) $(LIBTKT) $(LIBBENCH_HDRS)
	$(link_c)
$(SSE_BENCH): private EXTRA_LDLIBS := -lpthread

$(FLOOD_LOAD): bench/flood_load.c $(LIBBENCH) $(LIBTKT) $(LIBBENCH_HDRS)
	$(link_c)
$(FLOOD_LOAD): private EXTRA_LDLIBS := -lpthread

$(HOLD_COST): bench/hold_cost.c $(LIBBENCH) $(LIBTKT) $(BPF_SKEL) $(LIBBENCH_HDRS)
	$(link_c)
$(HOLD_COST): private EXTRA_LDLIBS := $(LDLIBS_BPF)

$(PKT_GEN): bench/pkt_gen.c bench/pkt_gen_frame.c bench/pkt_gen_frame.h $(LIBBENCH) $(LIBTKT) $(LIBBENCH_HDRS)
	$(link_c)
$(PKT_GEN): private EXTRA_LDLIBS := -lpthread

$(NODE_FOLLOW): bench/node_follow.c $(LIBBENCH) $(LIBTKT) $(LIBBENCH_HDRS)
	$(link_c)

$(BENCH_BPF_OBJ): bench/xdp_trivial.bpf.c bpf/ticket_wire.h
	@mkdir -p $(@D)
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@

BENCH_TOOLS := $(UDP_LOAD) $(XDP_CALIB) $(ORDERS_LOAD) $(VU_LOAD) $(REST_LOAD) \
	$(SSE_BENCH) $(FLOOD_LOAD) $(HOLD_COST) $(PKT_GEN) $(NODE_FOLLOW)
BINS += $(BENCH_TOOLS) $(BENCH_BPF_OBJ)

.PHONY: bench-tools bench-orders bench-vu bench-hostile bench-room bench-wire bench-checkin bench-best bench-nodes
bench-tools: $(TICKETCTL) $(BENCH_TOOLS) $(BENCH_BPF_OBJ)

bench-orders: $(ORDERS_LOAD) $(TICKETD) $(PAYMENTD)
	BUILD=$(BUILD) bash bench/orders_bench.sh

bench-vu: $(VU_LOAD) $(ORDERS_LOAD) $(TICKETD) $(PAYMENTD)
	BUILD=$(BUILD) bash bench/vu_bench.sh

bench-room: $(ORDERS_LOAD) $(TICKETD) $(PAYMENTD)
	BUILD=$(BUILD) bash bench/room_bench.sh

bench-checkin: $(TICKETD) $(PAYMENTD)
	BUILD=$(BUILD) bash bench/checkin_bench.sh

bench-best: $(REST_LOAD) $(TICKETD) $(PAYMENTD)
	BUILD=$(BUILD) bash bench/best_bench.sh

bench-nodes: $(UDP_LOAD) $(NODE_FOLLOW) $(TICKETD)
	BUILD=$(BUILD) bash bench/nodes_bench.sh

bench-hostile: $(FLOOD_LOAD) $(TICKETD)
	BUILD=$(BUILD) bash bench/hostile_bench.sh

bench-wire: $(PKT_GEN) $(XDP_CALIB) $(BENCH_BPF_OBJ) $(BPF_OBJ) $(TICKETD)
	BUILD=$(BUILD) bash bench/wire_bench.sh

# The fault suite (issue #11): faults under a steady load, then audits.
.PHONY: chaos
chaos: $(TICKETD) $(PAYMENTD)
	BUILD=$(BUILD) bash tests/chaos/run.sh --full

# `make bench SUITES="hostile rest"`: the parts of make bench to run
# (bench/run_bench.sh's BENCH_SUITES).
ifdef SUITES
bench: export BENCH_SUITES := $(SUITES)
endif

# bench/run_bench.sh reads BUILD from the environment: `make bench BUILD=x`
# must measure the binaries of x.
bench: export BUILD := $(BUILD)
