/* hold_cost: what one hold decision of the real XDP program costs as the
 * seat table grows, measured with bpf_prog_test_run_opts (no network, no
 * daemon): the program of --obj is loaded with private maps, its config and
 * events maps are set up the way ticketd would (a random token key, the UDP
 * port, no rate limit, the default hold limit) with --events events sharing
 * --seats seats (event k, id k + 1, owns seats k*n .. k*n + n - 1 of the
 * seat array, n = seats / events), and then --runs holds go through it.
 *
 * The access pattern is the one that makes a big table expensive: every
 * hold takes a random free seat of a random event, --live holds stay in
 * place at once, and each new hold first releases the one taken --live
 * holds before it (so releases touch cold seats too). Sessions (minted
 * tokens, slots 1..--sessions) take turns, so no session reaches the hold
 * limit. --live holds are taken before the clock starts (the warm-up).
 *
 * Each timed run is one bpf_prog_test_run of one packet (repeat 1: an XDP
 * test run keeps the rewritten packet between repeats); the kernel's own
 * duration of the run is recorded, and a one-instruction XDP program is
 * run after every hold for the cost of the test run itself, so
 * net = program - empty program. With kernel.bpf_stats_enabled the
 * kernel's run_time_ns per run is given too.
 *
 * Output: one JSON object on stdout. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>

#include "bench/lib/bpf_obj.h"
#include "bench/lib/hist.h"
#include "bench/lib/msg.h"
#include "bench/lib/opts.h"
#include "bench/lib/proto.h"
#include "bpf/seat_word.h" /* TKT_MAX_SEATS */
#include "bpf/session_token.h"
#include "bpf/ticket_maps.h"
#include "userspace/lib/clock.h"
#include "userspace/lib/wire_codec.h"

#define ETH_LEN 14
#define IP_LEN 20
#define UDP_LEN 8
#define L4_OFF (ETH_LEN + IP_LEN + UDP_LEN)
#define FRAME_LEN (L4_OFF + TKT_REQ_LEN)
#define MAX_LIVE 65536
#define MAX_SESSIONS 65536
#define UDP_PORT 7000
#define PICK_TRIES 64

struct cost_opts {
	const char *obj, *prog;
	uint32_t seats, events, live, sessions;
	long runs;
	uint32_t seed;
};

#define BENCH_OPTS_TYPE struct cost_opts

static const char usage[] =
	"usage: hold_cost --obj build/bpf/seat_hold.bpf.o --seats N --events E\n"
	"                 [--runs R] [--live K] [--sessions S]";

static const struct bench_opt options[] = {
	BOPT(STR, "obj", obj, .arg = "PATH", .help = "the BPF object"),
	BOPT(STR, "prog", prog, .arg = "NAME", .def = "xdp_seat_hold",
	     .help = "its XDP program"),
	BOPT(U32, "seats", seats, .lo = 1, .hi = TKT_MAX_SEATS, .arg = "N",
	     .def = "1000", .help = "seats of all events together"),
	BOPT(U32, "events", events, .lo = 1, .hi = TKT_MAX_EVENTS - 1,
	     .arg = "E", .def = "1",
	     .help = "events (ids 1..E), seats / events seats each"),
	BOPT(LONG, "runs", runs, .lo = 1000, .hi = 10000000, .arg = "R",
	     .def = "200000", .help = "timed holds (each with a release)"),
	BOPT(U32, "live", live, .lo = 1, .hi = MAX_LIVE, .arg = "K",
	     .def = "1024",
	     .help = "holds in place at once (at most half the seats)"),
	BOPT(U32, "sessions", sessions, .lo = 1, .hi = MAX_SESSIONS,
	     .arg = "S", .def = "4096", .help = "session slots 1..S"),
	BOPT(U32, "seed", seed, .lo = 1, .hi = UINT32_MAX, .arg = "N",
	     .def = "1", .help = "seed of the seat choice"),
	BENCH_OPTS_END,
};

struct live_hold {
	uint32_t event_id, seat_id, index; /* index: into the seat array */
	uint32_t session;
	bool used;
};

struct rig {
	const struct cost_opts *o;
	int prog_fd, empty_fd;
	bench_token *tokens;
	uint8_t frame[FRAME_LEN];
	uint32_t req_id;
	long status[TKT_STATUS_COUNT];
	long no_reply, failures;
	struct ring_buffer *rb;
	long records;
};

static int64_t now_ns(void)
{
	return (int64_t)tkt_mono_ns();
}

static uint16_t ip_checksum(const uint8_t *p, size_t len)
{
	uint32_t sum = 0;

	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)p[i] << 8 | p[i + 1];
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* Ethernet + IPv4 + UDP headers; the request is written per run. */
static void frame_headers(uint8_t *p)
{
	static const uint8_t dmac[6] = {0x02, 0, 0, 0, 0x79, 0x02};
	static const uint8_t smac[6] = {0x02, 0, 0, 0, 0x79, 0x01};
	uint8_t *ip = p + ETH_LEN, *udp = ip + IP_LEN;
	uint16_t ip_len = IP_LEN + UDP_LEN + TKT_REQ_LEN, csum;
	struct in_addr src, dst;

	inet_pton(AF_INET, "10.79.0.1", &src);
	inet_pton(AF_INET, "10.79.0.2", &dst);
	memset(p, 0, FRAME_LEN);
	memcpy(p, dmac, 6);
	memcpy(p + 6, smac, 6);
	p[12] = 0x08;
	ip[0] = 0x45;
	ip[2] = (uint8_t)(ip_len >> 8);
	ip[3] = (uint8_t)ip_len;
	ip[6] = 0x40;
	ip[8] = 64;
	ip[9] = 17;
	memcpy(ip + 12, &src.s_addr, 4);
	memcpy(ip + 16, &dst.s_addr, 4);
	csum = ip_checksum(ip, IP_LEN);
	ip[10] = (uint8_t)(csum >> 8);
	ip[11] = (uint8_t)csum;
	udp[0] = 40000 >> 8;
	udp[1] = 40000 & 0xff;
	udp[2] = UDP_PORT >> 8;
	udp[3] = UDP_PORT & 0xff;
	udp[5] = UDP_LEN + TKT_REQ_LEN;
}

/* One test run of one request; its kernel duration in *ns. Returns the
 * reply status, or -1 (no valid reply, or the run failed). */
static int run_op(struct rig *r, uint8_t op, const struct live_hold *h,
		  uint32_t *ns)
{
	struct tkt_request_fields q = {
		.op = op,
		.req_id = ++r->req_id,
		.event_id = h->event_id,
		.seat_id = h->seat_id,
	};
	uint8_t out[FRAME_LEN + 256];
	struct tkt_reply_fields rep;

	memcpy(q.token, r->tokens[h->session], TKT_TOKEN_LEN);
	tkt_build_request(r->frame + L4_OFF, TKT_REQ_LEN, &q);
	{
		LIBBPF_OPTS(bpf_test_run_opts, t, .data_in = r->frame,
			    .data_size_in = FRAME_LEN, .data_out = out,
			    .data_size_out = sizeof(out), .repeat = 1);

		if (bpf_prog_test_run_opts(r->prog_fd, &t) < 0) {
			if (r->failures++ == 0)
				fprintf(stderr, "hold_cost: test run: %s\n",
					strerror(errno));
			return -1;
		}
		*ns = t.duration;
		if ((r->req_id & 31) == 0 && r->rb)
			ring_buffer__consume(r->rb);
		if (t.data_size_out < L4_OFF ||
		    tkt_parse_reply(out + L4_OFF, t.data_size_out - L4_OFF,
				    &rep) != TKT_REPLY_VALID) {
			r->no_reply++;
			return -1;
		}
	}
	r->status[rep.status]++;
	return rep.status;
}

static uint32_t empty_run(struct rig *r)
{
	LIBBPF_OPTS(bpf_test_run_opts, e, .data_in = r->frame,
		    .data_size_in = FRAME_LEN, .repeat = 1);

	if (bpf_prog_test_run_opts(r->empty_fd, &e) < 0)
		return 0;
	return e.duration;
}

static int load_empty_prog(void)
{
	const struct bpf_insn insns[] = {
		{.code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0,
		 .imm = XDP_PASS},
		{.code = BPF_JMP | BPF_EXIT},
	};

	return bpf_prog_load(BPF_PROG_TYPE_XDP, "cost_empty", "GPL", insns, 2,
			     NULL);
}

static int count_record(void *ctx, void *data, size_t size)
{
	(void)data;
	(void)size;
	(*(long *)ctx)++;
	return 0;
}

/* config (key 0) and events 1..E, as ticketd would write them. */
static int setup_maps(struct bpf_object *obj, const struct cost_opts *o,
		      const struct tkt_token_key *key)
{
	struct bpf_map *cfg_map = bpf_object__find_map_by_name(obj, "config");
	struct bpf_map *ev_map = bpf_object__find_map_by_name(obj, "events");
	uint32_t per = o->seats / o->events, zero = 0;
	struct tkt_config cfg;

	if (!cfg_map || !ev_map ||
	    bpf_map__value_size(cfg_map) != sizeof(cfg) ||
	    bpf_map__value_size(ev_map) != sizeof(struct tkt_event)) {
		fprintf(stderr, "hold_cost: %s has no config/events maps of "
				"bpf/ticket_maps.h\n",
			o->obj);
		return -1;
	}
	memset(&cfg, 0, sizeof(cfg));
	cfg.key = *key;
	cfg.unix_offset_ns = tkt_unix_offset_ns();
	cfg.udp_port = UDP_PORT;
	if (bpf_map_update_elem(bpf_map__fd(cfg_map), &zero, &cfg, BPF_ANY)) {
		fprintf(stderr, "hold_cost: config: %s\n", strerror(errno));
		return -1;
	}
	for (uint32_t k = 0; k < o->events; k++) {
		struct tkt_event ev = {.base = k * per, .nseats = per,
				       .owned = 1};
		uint32_t id = k + 1;

		if (bpf_map_update_elem(bpf_map__fd(ev_map), &id, &ev,
					BPF_ANY)) {
			fprintf(stderr, "hold_cost: event %u: %s\n", id,
				strerror(errno));
			return -1;
		}
	}
	return 0;
}

static struct bpf_object *load(const struct cost_opts *o, int *prog_fd)
{
	struct bpf_program *want;
	struct bpf_object *obj;
	int err;

	obj = bench_bpf_open_one("hold_cost", o->obj, o->prog, NULL, &want);
	if (!obj)
		return NULL;
	err = bpf_object__load(obj);
	if (err) {
		fprintf(stderr, "hold_cost: load %s: %s\n", o->obj,
			strerror(-err));
		goto fail;
	}
	*prog_fd = bpf_program__fd(want);
	return obj;
fail:
	bpf_object__close(obj);
	return NULL;
}

static int open_ringbufs(struct bpf_object *obj, struct rig *r)
{
	struct bpf_map *map;

	bpf_object__for_each_map(map, obj) {
		if (bpf_map__type(map) != BPF_MAP_TYPE_RINGBUF)
			continue;
		if (!r->rb)
			r->rb = ring_buffer__new(bpf_map__fd(map), count_record,
						 &r->records, NULL);
		else if (ring_buffer__add(r->rb, bpf_map__fd(map),
					  count_record, &r->records) < 0)
			return -1;
		if (!r->rb)
			return -1;
	}
	return 0;
}

/* A free seat of a random event (bounded tries; a held seat is skipped). */
static bool pick(const struct cost_opts *o, uint64_t *rng,
		 const uint8_t *held, struct live_hold *h)
{
	uint32_t per = o->seats / o->events;

	for (int i = 0; i < PICK_TRIES; i++) {
		uint32_t k = (uint32_t)(bench_xorshift(rng) % o->events);
		uint32_t s = (uint32_t)(bench_xorshift(rng) % per);
		uint32_t idx = k * per + s;

		if (held[idx])
			continue;
		h->event_id = k + 1;
		h->seat_id = s;
		h->index = idx;
		return true;
	}
	return false;
}

static void print_ns(const char *name, const struct bench_hist *h)
{
	bench_hist_json(stdout, name, h, "n,mean,min,median,p90,p99,max", 1,
			1);
}

int main(int argc, char **argv)
{
	struct cost_opts o = {0};
	struct rig r;
	struct bpf_object *obj = NULL;
	struct tkt_token_key key;
	struct live_hold *live = NULL;
	struct bench_hist *hold = NULL, *rel = NULL, *base = NULL;
	struct bpf_prog_info i0, i1;
	uint32_t ilen, expiry, per;
	uint8_t *held = NULL;
	uint64_t rng;
	long skipped = 0;
	int stats_fd = -1, ret = 1;
	int64_t t0, t1;

	bench_prog = "hold_cost";
	bench_opts_parse(options, &o, usage, argc, argv);
	memset(&r, 0, sizeof(r));
	r.o = &o;
	r.empty_fd = -1;
	if (!o.obj) {
		bench_err("--obj is required");
		return 2;
	}
	per = o.seats / o.events;
	if (per == 0 || o.live > per * o.events / 2) {
		bench_err("need at least one seat per event and --live at most "
			  "half the seats");
		return 2;
	}
	rng = (uint64_t)o.seed * 0x9e3779b97f4a7c15ull | 1;
	if (getrandom(&key, sizeof(key), 0) != (ssize_t)sizeof(key)) {
		bench_err("getrandom failed");
		return 1;
	}
	r.tokens = calloc(o.sessions, sizeof(*r.tokens));
	live = calloc(o.live, sizeof(*live));
	held = calloc((size_t)per * o.events, 1);
	hold = calloc(1, sizeof(*hold));
	rel = calloc(1, sizeof(*rel));
	base = calloc(1, sizeof(*base));
	if (!r.tokens || !live || !held || !hold || !rel || !base) {
		bench_err("out of memory");
		goto out;
	}
	expiry = (uint32_t)time(NULL) + 3600;
	for (uint32_t s = 0; s < o.sessions; s++)
		tkt_token_mint(&key, s + 1, expiry, r.tokens[s]);
	frame_headers(r.frame);

	obj = load(&o, &r.prog_fd);
	if (!obj || setup_maps(obj, &o, &key) < 0)
		goto out;
	if (open_ringbufs(obj, &r) < 0) {
		fprintf(stderr, "hold_cost: ring buffer: %s\n", strerror(errno));
		goto out;
	}
	r.empty_fd = load_empty_prog();
	if (r.empty_fd < 0) {
		fprintf(stderr, "hold_cost: empty program: %s\n",
			strerror(errno));
		goto out;
	}
	stats_fd = bpf_enable_stats(BPF_STATS_RUN_TIME);

	/* warm-up: --live holds in place, untimed */
	for (uint32_t i = 0; i < o.live; i++) {
		struct live_hold *h = &live[i];
		uint32_t ns;

		if (!pick(&o, &rng, held, h))
			continue;
		h->session = i % o.sessions;
		if (run_op(&r, TKT_OP_HOLD, h, &ns) == TKT_OK) {
			h->used = true;
			held[h->index] = 1;
		}
	}
	memset(r.status, 0, sizeof(r.status));
	r.no_reply = 0;

	memset(&i0, 0, sizeof(i0));
	ilen = sizeof(i0);
	bpf_obj_get_info_by_fd(r.prog_fd, &i0, &ilen);
	t0 = now_ns();
	for (long n = 0; n < o.runs; n++) {
		struct live_hold *h = &live[n % o.live];
		uint32_t ns;

		if (h->used) {
			if (run_op(&r, TKT_OP_RELEASE, h, &ns) >= 0)
				bench_hist_add(rel, ns);
			held[h->index] = 0;
			h->used = false;
		}
		if (!pick(&o, &rng, held, h)) {
			skipped++;
			continue;
		}
		h->session = (uint32_t)((n + o.live) % o.sessions);
		if (run_op(&r, TKT_OP_HOLD, h, &ns) == TKT_OK) {
			bench_hist_add(hold, ns);
			h->used = true;
			held[h->index] = 1;
		}
		bench_hist_add(base, empty_run(&r));
	}
	t1 = now_ns();
	memset(&i1, 0, sizeof(i1));
	ilen = sizeof(i1);
	bpf_obj_get_info_by_fd(r.prog_fd, &i1, &ilen);
	if (r.rb)
		ring_buffer__consume(r.rb);

	printf("{\"tool\":\"hold_cost\",\"obj\":\"%s\",\"prog\":\"%s\","
	       "\"seats\":%u,\"events\":%u,\"seats_per_event\":%u,"
	       "\"live\":%u,\"sessions\":%u,\"runs\":%ld,\"skipped\":%ld,",
	       o.obj, o.prog, per * o.events, o.events, per, o.live,
	       o.sessions, o.runs, skipped);
	print_ns("hold_ns", hold);
	printf(",");
	print_ns("release_ns", rel);
	printf(",");
	print_ns("empty_prog_ns", base);
	printf(",\"net_hold_ns\":{\"median\":%.1f,\"mean\":%.1f},"
	       "\"net_release_ns\":{\"median\":%.1f,\"mean\":%.1f}",
	       (double)bench_hist_percentile(hold, 0.5) -
		       (double)bench_hist_percentile(base, 0.5),
	       bench_hist_mean(hold) - bench_hist_mean(base),
	       (double)bench_hist_percentile(rel, 0.5) -
		       (double)bench_hist_percentile(base, 0.5),
	       bench_hist_mean(rel) - bench_hist_mean(base));
	if (stats_fd >= 0 && i1.run_cnt > i0.run_cnt)
		printf(",\"bpf_stats_ns_per_run\":%.1f",
		       (double)(i1.run_time_ns - i0.run_time_ns) /
			       (double)(i1.run_cnt - i0.run_cnt));
	printf(",\"status\":{");
	for (int s = 0, first = 1; s < TKT_STATUS_COUNT; s++) {
		if (!r.status[s])
			continue;
		printf("%s\"%s\":%ld", first ? "" : ",",
		       tkt_status_name((unsigned)s), r.status[s]);
		first = 0;
	}
	printf("},\"no_reply\":%ld,\"failures\":%ld,\"ringbuf_records\":%ld,"
	       "\"wall_s\":%.3f}\n",
	       r.no_reply, r.failures, r.records, (double)(t1 - t0) / 1e9);
	ret = hold->total > 0 ? 0 : 1;
	if (ret)
		fprintf(stderr, "hold_cost: no hold was granted\n");
out:
	if (stats_fd >= 0)
		close(stats_fd);
	if (r.empty_fd >= 0)
		close(r.empty_fd);
	ring_buffer__free(r.rb);
	bpf_object__close(obj);
	free(r.tokens);
	free(live);
	free(held);
	free(hold);
	free(rel);
	free(base);
	return ret;
}
