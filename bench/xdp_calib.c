/* xdp_calib: attach the benchmark's calibration XDP program to an interface
 * (optionally inside a network namespace), detach it, or measure what one
 * run of any XDP program costs with bpf_prog_test_run_opts.
 *
 *   xdp_calib --attach --iface IF [--netns NS] --obj PATH --prog NAME
 *             [--mode native|skb] [--force]
 *   xdp_calib --detach --iface IF [--netns NS]
 *   xdp_calib --prog-test-run N --obj PATH --prog NAME [packet options]
 *
 * Generic on purpose: it loads any object by path and program name (no
 * skeleton), so the same tool measures bench/xdp_trivial.bpf.c and the real
 * bpf/seat_hold.bpf.c. The --edge-* options know the real program's config
 * and events maps (bpf/ticket_maps.h), so it can also be set up and served
 * without ticketd: --serve keeps the program attached while this process
 * drains its ring buffer, the one job of ticketd the XDP path cannot skip.
 * Every result is one JSON object per line on stdout. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <net/if.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>
#include <linux/if_link.h>

#include "bench/lib/bpf_obj.h"
#include "bench/lib/hist.h"
#include "bench/lib/msg.h"
#include "bench/lib/opts.h"
#include "bench/lib/proto.h"
#include "bpf/seat_word.h" /* TKT_MAX_SEATS */
#include "bpf/session_token.h"
#include "bpf/ticket_maps.h"
#include "userspace/lib/clock.h"
#include "userspace/lib/hex.h"
#include "userspace/lib/wire_codec.h"

#define MAX_PACKETS 65536
#define MAX_FRAME 512
#define MAX_SETS 32
#define MAX_TEST_RUNS 10000000L
#define MAX_SERVE_S 3600
#define ETH_LEN 14
#define IP_LEN 20
#define UDP_LEN 8
#define L4_PAYLOAD_OFF (ETH_LEN + IP_LEN + UDP_LEN)

enum calib_cmd { CMD_NONE, CMD_ATTACH, CMD_DETACH, CMD_TEST_RUN };
enum xdp_mode { XDP_MODE_NATIVE, XDP_MODE_SKB };

struct frame {
	uint16_t len;
	uint8_t bytes[MAX_FRAME];
	struct tkt_request_fields q; /* --v2: rebuilt with each new id */
};

struct calib_opts {
	enum calib_cmd cmd;
	const char *iface, *netns, *obj, *prog, *pin_root;
	int mode; /* enum xdp_mode */
	bool force, bpf_stats, v2;
	long runs;
	/* packet sources: raw frames, or the built-in protocol builder */
	const char *packet_hex[MAX_SETS];
	int n_packet_hex;
	const char *token_hex, *tokens_file, *mint;
	uint32_t slot_lo, slot_hi, token_ttl;
	uint32_t event, seat_lo, seat_hi;
	uint16_t hold_secs, dport;
	const char *mix, *src_ip, *dst_ip;
	/* object set-up before and after load */
	const char *sets[MAX_SETS];
	int n_sets;
	const char *map_updates[MAX_SETS];
	int n_map_updates;
	/* the real program's maps (bpf/ticket_maps.h), set after load */
	uint16_t edge_port;   /* config.udp_port; 0 = leave config alone */
	uint32_t edge_hold_limit, edge_rl_rate, edge_rl_burst;
	uint32_t edge_event, edge_nseats; /* events[edge_event]; 0 seats = none */
	uint32_t origins; /* slot_origin: --slots spread over N origins; 0 = none */
	/* attach: stay, drain ring buffers, detach on exit */
	uint32_t serve_s;
	const char *tokens_out;
};

static volatile sig_atomic_t stop_flag;

static void on_stop(int sig)
{
	(void)sig;
	stop_flag = 1;
}

static int parse_edge_limits(const char *arg, void *settings)
{
	struct calib_opts *o = settings;
	unsigned long a, b, c;
	char extra;

	if (sscanf(arg, "%lu,%lu,%lu%c", &a, &b, &c, &extra) != 3 ||
	    a > UINT32_MAX || b > UINT32_MAX || c > UINT32_MAX)
		return -1;
	o->edge_hold_limit = (uint32_t)a;
	o->edge_rl_rate = (uint32_t)b;
	o->edge_rl_burst = (uint32_t)c;
	return 0;
}

static int parse_edge_event(const char *arg, void *settings)
{
	struct calib_opts *o = settings;
	unsigned long e, n;
	char extra;

	if (sscanf(arg, "%lu:%lu%c", &e, &n, &extra) != 2 || e > UINT32_MAX ||
	    n == 0 || n > TKT_MAX_SEATS)
		return -1;
	o->edge_event = (uint32_t)e;
	o->edge_nseats = (uint32_t)n;
	return 0;
}


#define BENCH_OPTS_TYPE struct calib_opts

static const char *const xdp_modes[] = {"native", "skb", NULL};

static const char usage[] =
	"usage:\n"
	"  xdp_calib --attach --iface IF [--netns NS] --obj PATH --prog NAME\n"
	"            [--mode native|skb] [--force]\n"
	"  xdp_calib --detach --iface IF [--netns NS]\n"
	"  xdp_calib --prog-test-run N --obj PATH --prog NAME [options]";

static const struct bench_opt options[] = {
	BOPT(SET, "attach", cmd, .lo = CMD_ATTACH,
	     .help = "attach --obj's --prog to --iface"),
	BOPT(SET, "detach", cmd, .lo = CMD_DETACH,
	     .help = "detach what is attached to --iface"),
	BOPT(LONG, "prog-test-run", runs, .lo = 1, .hi = MAX_TEST_RUNS,
	     .arg = "N", .help = "N bpf_prog_test_run of --prog, one a packet"),
	BOPT(STR, "iface", iface, .arg = "IF", .help = "the interface"),
	BOPT(STR, "netns", netns, .arg = "NS",
	     .help = "the interface lives in /run/netns/NS"),
	BOPT(STR, "obj", obj, .arg = "PATH", .help = "the BPF object"),
	BOPT(STR, "prog", prog, .arg = "NAME", .help = "its XDP program"),
	BOPT(CHOICE, "mode", mode, .choices = xdp_modes, .def = "native",
	     .help = "attach mode"),
	BOPT(FLAG, "force", force, .help = "replace a program already attached"),
	BENCH_OPT_HEADING("object set-up:"),
	BOPT2(LIST, "set", sets, n_sets, .hi = MAX_SETS, .arg = "VAR=VALUE",
	      .help = "write an integer global (.rodata/.data/.bss)\n"
		      "before load (repeatable)"),
	BOPT2(LIST, "map-update", map_updates, n_map_updates, .hi = MAX_SETS,
	      .arg = "MAP=KEYHEX:VALHEX", .help = "after load (repeatable)"),
	BOPT(STR, "pin-root", pin_root, .arg = "DIR",
	     .help = "reuse maps pinned by name under DIR (a live\n"
		     "edge's tables!); default: private maps, no pins"),
	BOPT(FLAG, "bpf-stats", bpf_stats,
	     .help = "also report the kernel's run_time_ns/run_cnt"),
	BENCH_OPT_HEADING("the real program's maps (bpf/ticket_maps.h), set "
			  "after load:"),
	BOPT(U16, "edge-config", edge_port, .lo = 1, .hi = UINT16_MAX,
	     .arg = "PORT", .help = "config: key of --mint, clock offset, udp_port"),
	BOPT(FUNC, "edge-limits", edge_hold_limit, .parse = parse_edge_limits,
	     .arg = "HOLD,RATE,BURST",
	     .help = "hold limit (0 = 8), rate limit (0 = off)"),
	BOPT(FUNC, "edge-event", edge_event, .parse = parse_edge_event,
	     .arg = "E:N", .help = "events[E] = seats 0..N-1 at index 0, owned"),
	BOPT(U32, "origins", origins, .lo = 1, .hi = TKT_SLOT_MAX, .arg = "N",
	     .help = "slot_origin: the --slots in N blocks of one origin\n"
		     "each (keyed hash, as ticketd records), origin\n"
		     "hold limit never reached; needs --mint"),
	BENCH_OPT_HEADING("attach only:"),
	BOPT(U32, "serve", serve_s, .lo = 1, .hi = MAX_SERVE_S, .arg = "SECS",
	     .help = "stay attached SECS draining the ring buffers,\n"
		     "then detach (also on SIGINT/SIGTERM)"),
	BOPT(STR, "tokens-out", tokens_out, .arg = "FILE",
	     .help = "write the tokens of --mint/--slots, one a line"),
	BENCH_OPT_HEADING("packets (rotated, one bpf_prog_test_run per packet, "
			  "repeat 1):"),
	BOPT2(LIST, "packet-hex", packet_hex, n_packet_hex, .hi = MAX_SETS,
	      .arg = "HEX", .help = "a whole Ethernet frame (repeatable)"),
	BENCH_OPT_HEADING("  or built from the UDP hold protocol:"),
	BOPT(STR, "token", token_hex, .arg = "HEX32",
	     .help = "one token for every packet"),
	BOPT_TOKENS(tokens_file, ""),
	BOPT(STR, "mint", mint, .arg = "K0HEX,K1HEX",
	     .help = "mint tokens with bpf/session_token.h"),
	BOPT2(RANGE, "slots", slot_lo, slot_hi, .arg = "A-B", .def = "1-1",
	      .help = "--mint: session slots"),
	BOPT(U32, "token-ttl", token_ttl, .lo = 0, .hi = 86400 * 365,
	     .arg = "SECS", .def = "3600", .help = "--mint: lifetime"),
	BOPT_EVENT(event),
	BOPT_SEATS(seat_lo, seat_hi, "0-1023", "seats"),
	BOPT(STR, "mix", mix, .arg = "OP[,OP...]", .def = "hold,release",
	     .help = "op cycle per seat"),
	BOPT(FLAG, "v2", v2,
	     .help = "protocol v2 requests (MAC); each run gets a\n"
		     "fresh request id and MAC, outside the timing"),
	BOPT(U16, "hold-secs", hold_secs, .lo = 0, .hi = UINT16_MAX, .arg = "S",
	     .help = "hold seconds (default 0)"),
	BOPT(U16, "dport", dport, .lo = 1, .hi = UINT16_MAX, .arg = "P",
	     .def = "7000", .help = "UDP destination port"),
	BOPT(STR, "src-ip", src_ip, .arg = "A", .def = "10.79.0.1",
	     .help = "IPv4 source"),
	BOPT(STR, "dst-ip", dst_ip, .arg = "A", .def = "10.79.0.2",
	     .help = "IPv4 destination"),
	BENCH_OPTS_END,
};

/* CLOCK_MONOTONIC, signed for differences */
static int64_t now_ns(void)
{
	return (int64_t)tkt_mono_ns();
}

/* ---- network namespace and attach ----------------------------------- */

static int enter_netns(const char *name)
{
	char path[256];
	int fd, rc;

	if (!name)
		return 0;
	snprintf(path, sizeof(path), "/run/netns/%s", name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "xdp_calib: netns %s: %s\n", name,
			strerror(errno));
		return -1;
	}
	rc = setns(fd, CLONE_NEWNET);
	if (rc < 0)
		fprintf(stderr, "xdp_calib: setns %s: %s\n", name,
			strerror(errno));
	close(fd);
	return rc;
}

static int prog_id_of(int fd, uint32_t *id)
{
	struct bpf_prog_info info;
	uint32_t len = sizeof(info);

	memset(&info, 0, sizeof(info));
	if (bpf_obj_get_info_by_fd(fd, &info, &len) < 0)
		return -1;
	*id = info.id;
	return 0;
}

/* Writes VAR=VALUE into the initial value of whichever global section holds
 * VAR (found through the object's BTF). Returns 0 or -1 after a message. */
static int set_global(struct bpf_object *obj, const char *spec)
{
	char name[128];
	const char *eq = strchr(spec, '=');
	unsigned long long val;
	struct bpf_map *map;
	char *end;

	if (!eq || (size_t)(eq - spec) >= sizeof(name)) {
		fprintf(stderr, "xdp_calib: --set wants VAR=VALUE\n");
		return -1;
	}
	memcpy(name, spec, (size_t)(eq - spec));
	name[eq - spec] = '\0';
	errno = 0;
	val = strtoull(eq + 1, &end, 0);
	if (errno || *end || end == eq + 1) {
		fprintf(stderr, "xdp_calib: --set %s: bad number\n", name);
		return -1;
	}
	bpf_object__for_each_map(map, obj) {
		const struct btf *btf = bpf_object__btf(obj);
		const struct btf_type *sec;
		const struct btf_var_secinfo *vs;
		const char *mname = bpf_map__name(map);
		const char *dot;
		size_t size;
		uint8_t *data;
		int id;

		if (!btf || !bpf_map__is_internal(map))
			continue;
		/* internal maps are named "<obj prefix>.rodata" etc. */
		dot = strchr(mname, '.');
		if (!dot)
			continue;
		id = btf__find_by_name_kind(btf, dot, BTF_KIND_DATASEC);
		if (id < 0)
			continue;
		sec = btf__type_by_id(btf, (uint32_t)id);
		vs = btf_var_secinfos(sec);
		for (int i = 0; i < btf_vlen(sec); i++, vs++) {
			const struct btf_type *var = btf__type_by_id(btf, vs->type);

			if (strcmp(btf__name_by_offset(btf, var->name_off),
				   name) != 0)
				continue;
			{
				const void *init = bpf_map__initial_value(map, &size);
				int rc;

				if (!init || vs->offset + vs->size > size)
					return -1;
				if (vs->size != 1 && vs->size != 2 &&
				    vs->size != 4 && vs->size != 8) {
					fprintf(stderr, "xdp_calib: %s is %u "
							"bytes, not an integer\n",
						name, vs->size);
					return -1;
				}
				data = malloc(size);
				if (!data)
					return -1;
				memcpy(data, init, size);
				/* little-endian host: the low bytes come first */
				memcpy(data + vs->offset, &val, vs->size);
				rc = bpf_map__set_initial_value(map, data, size);
				free(data);
				if (rc) {
					fprintf(stderr, "xdp_calib: --set %s: "
							"%s\n",
						name, strerror(-rc));
					return -1;
				}
			}
			return 0;
		}
	}
	fprintf(stderr, "xdp_calib: no global variable %s in the object\n",
		name);
	return -1;
}

static int map_update(struct bpf_object *obj, const char *spec)
{
	char name[128];
	uint8_t key[256], val[4096];
	const char *eq = strchr(spec, '='), *colon;
	struct bpf_map *map;
	char *keyhex;
	int kn, vn;

	if (!eq || (size_t)(eq - spec) >= sizeof(name) ||
	    !(colon = strchr(eq, ':'))) {
		fprintf(stderr, "xdp_calib: --map-update wants MAP=KEY:VAL\n");
		return -1;
	}
	memcpy(name, spec, (size_t)(eq - spec));
	name[eq - spec] = '\0';
	keyhex = strndup(eq + 1, (size_t)(colon - eq - 1));
	if (!keyhex)
		return -1;
	kn = hex_decode_loose(keyhex, key, sizeof(key));
	free(keyhex);
	vn = hex_decode_loose(colon + 1, val, sizeof(val));
	map = bpf_object__find_map_by_name(obj, name);
	if (!map) {
		fprintf(stderr, "xdp_calib: no map %s\n", name);
		return -1;
	}
	if (kn != (int)bpf_map__key_size(map) ||
	    vn != (int)bpf_map__value_size(map)) {
		fprintf(stderr, "xdp_calib: map %s wants a %u-byte key and a "
				"%u-byte value\n",
			name, bpf_map__key_size(map), bpf_map__value_size(map));
		return -1;
	}
	if (bpf_map_update_elem(bpf_map__fd(map), key, val, BPF_ANY) < 0) {
		fprintf(stderr, "xdp_calib: update %s: %s\n", name,
			strerror(errno));
		return -1;
	}
	return 0;
}

/* Opens obj, keeps only the named program for loading, applies --set and
 * pinning, loads, applies --map-update. Returns the object or NULL. */
static struct bpf_object *load_object(const struct calib_opts *o,
				      struct bpf_program **progp)
{
	struct bpf_program *want;
	struct bpf_object *obj;
	int err;

	/* Without --pin-root, never touch bpffs: private maps only. */
	obj = bench_bpf_open_one("xdp_calib", o->obj, o->prog, o->pin_root, &want);
	if (!obj)
		return NULL;
	for (int i = 0; i < o->n_sets; i++)
		if (set_global(obj, o->sets[i]) < 0)
			goto fail;
	err = bpf_object__load(obj);
	if (err) {
		fprintf(stderr, "xdp_calib: load %s: %s\n", o->obj,
			strerror(-err));
		goto fail;
	}
	for (int i = 0; i < o->n_map_updates; i++)
		if (map_update(obj, o->map_updates[i]) < 0)
			goto fail;
	*progp = want;
	return obj;
fail:
	bpf_object__close(obj);
	return NULL;
}

static int cmd_detach(const struct calib_opts *o)
{
	LIBBPF_OPTS(bpf_xdp_query_opts, q);
	uint32_t flags;
	int ifindex, err;

	if (enter_netns(o->netns) < 0)
		return 1;
	ifindex = (int)if_nametoindex(o->iface);
	if (!ifindex) {
		fprintf(stderr, "xdp_calib: no interface %s\n", o->iface);
		return 1;
	}
	err = bpf_xdp_query(ifindex, 0, &q);
	if (err) {
		fprintf(stderr, "xdp_calib: query %s: %s\n", o->iface,
			strerror(-err));
		return 1;
	}
	switch (q.attach_mode) {
	case XDP_ATTACHED_NONE:
		printf("{\"detached\":false,\"iface\":\"%s\","
		       "\"reason\":\"nothing attached\"}\n",
		       o->iface);
		return 0;
	case XDP_ATTACHED_SKB:
		flags = XDP_FLAGS_SKB_MODE;
		break;
	case XDP_ATTACHED_DRV:
		flags = XDP_FLAGS_DRV_MODE;
		break;
	default:
		fprintf(stderr, "xdp_calib: %s has a mode we did not attach "
				"(%u); not touching it\n",
			o->iface, q.attach_mode);
		return 1;
	}
	err = bpf_xdp_detach(ifindex, flags, NULL);
	if (err) {
		fprintf(stderr, "xdp_calib: detach %s: %s\n", o->iface,
			strerror(-err));
		return 1;
	}
	printf("{\"detached\":true,\"iface\":\"%s\",\"prog_id\":%u}\n",
	       o->iface, q.prog_id);
	return 0;
}

/* ---- packets for prog_test_run ----------------------------------------- */

static uint16_t ip_checksum(const uint8_t *p, size_t len)
{
	uint32_t sum = 0;

	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)p[i] << 8 | p[i + 1];
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* Ethernet + IPv4 + UDP (checksum 0) around one 40-byte request. */
static void build_frame(struct frame *f, const struct calib_opts *o,
			const struct in_addr *src, const struct in_addr *dst,
			const struct tkt_request_fields *q)
{
	static const uint8_t dmac[6] = {0x02, 0, 0, 0, 0x79, 0x02};
	static const uint8_t smac[6] = {0x02, 0, 0, 0, 0x79, 0x01};
	uint8_t *p = f->bytes, *ip = p + ETH_LEN, *udp = ip + IP_LEN;
	uint16_t ip_len = IP_LEN + UDP_LEN + TKT_REQ_LEN;
	uint16_t csum;

	memset(p, 0, L4_PAYLOAD_OFF + TKT_REQ_LEN);
	memcpy(p, dmac, 6);
	memcpy(p + 6, smac, 6);
	p[12] = 0x08; /* IPv4 */
	ip[0] = 0x45;
	ip[2] = (uint8_t)(ip_len >> 8);
	ip[3] = (uint8_t)ip_len;
	ip[6] = 0x40; /* DF */
	ip[8] = 64;
	ip[9] = 17; /* UDP */
	memcpy(ip + 12, &src->s_addr, 4);
	memcpy(ip + 16, &dst->s_addr, 4);
	csum = ip_checksum(ip, IP_LEN);
	ip[10] = (uint8_t)(csum >> 8);
	ip[11] = (uint8_t)csum;
	udp[0] = 40000 >> 8;
	udp[1] = 40000 & 0xff;
	udp[2] = (uint8_t)(o->dport >> 8);
	udp[3] = (uint8_t)o->dport;
	udp[5] = UDP_LEN + TKT_REQ_LEN;
	if (o->v2)
		tkt_build_request_v2(udp + UDP_LEN, TKT_REQ_LEN, q);
	else
		tkt_build_request(udp + UDP_LEN, TKT_REQ_LEN, q);
	f->q = *q;
	f->len = L4_PAYLOAD_OFF + TKT_REQ_LEN;
}

/* Parses "K0HEX,K1HEX": the two u64 halves of struct tkt_token_key. */
static int parse_mint_key(const char *keyspec, struct tkt_token_key *key)
{
	char *end;

	errno = 0;
	key->k0 = strtoull(keyspec, &end, 16);
	if (errno || *end != ',')
		goto bad;
	key->k1 = strtoull(end + 1, &end, 16);
	if (errno || *end)
		goto bad;
	return 0;
bad:
	fprintf(stderr, "xdp_calib: --mint wants K0HEX,K1HEX\n");
	return -1;
}

/* Mints tokens for slots lo..hi with the key "K0HEX,K1HEX", valid for ttl
 * seconds from now. */
static int mint_tokens(const char *keyspec, uint32_t lo, uint32_t hi,
		       uint32_t ttl, uint8_t (**out)[TKT_TOKEN_LEN])
{
	struct tkt_token_key key;
	uint8_t(*toks)[TKT_TOKEN_LEN];
	uint32_t expiry = (uint32_t)time(NULL) + ttl;
	int n;

	if (parse_mint_key(keyspec, &key) < 0)
		return -1;
	if (lo == 0 || hi > TKT_SLOT_MAX || hi - lo >= MAX_PACKETS) {
		fprintf(stderr, "xdp_calib: --slots must lie in 1..%u, at "
				"most %d of them\n",
			TKT_SLOT_MAX, MAX_PACKETS);
		return -1;
	}
	n = (int)(hi - lo + 1);
	toks = calloc((size_t)n, TKT_TOKEN_LEN);
	if (!toks)
		return -1;
	for (int i = 0; i < n; i++)
		tkt_token_mint(&key, lo + (uint32_t)i, expiry, toks[i]);
	*out = toks;
	return n;
}

/* The tokens the packets (or --tokens-out) use: from --tokens, --mint or
 * --token, else one all-zero token. Returns the count or -1. */
static int prepare_tokens(const struct calib_opts *o,
			  uint8_t (**out)[TKT_TOKEN_LEN])
{
	if (!o->tokens_file && o->mint)
		return mint_tokens(o->mint, o->slot_lo, o->slot_hi,
				   o->token_ttl, out);
	return bench_tokens_from(o->tokens_file, o->token_hex, out);
}

static int write_tokens(const char *path, uint8_t (*toks)[TKT_TOKEN_LEN],
			int n)
{
	char tmp[4096], hex[TKT_TOKEN_HEX_LEN + 1];
	FILE *f;

	/* written whole, then renamed: a reader never sees half a file */
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "w");
	if (!f) {
		fprintf(stderr, "xdp_calib: %s: %s\n", tmp, strerror(errno));
		return -1;
	}
	for (int i = 0; i < n; i++) {
		tkt_token_to_hex(toks[i], hex);
		fprintf(f, "%s\n", hex);
	}
	if (fclose(f) != 0 || rename(tmp, path) != 0) {
		fprintf(stderr, "xdp_calib: %s: %s\n", path, strerror(errno));
		return -1;
	}
	return 0;
}

/* slot_origin as ticketd's edge_slot_claim leaves it: slots --slots
 * lo..hi in o->origins contiguous blocks, one origin a block (4 slots an
 * origin for 1024 slots over 256), each origin a keyed 31-bit hash, never
 * 0 (edge_origin_hash hashes the client address; here the block's
 * number). The map stores the u32 entries as u64 pairs (entry i is half
 * i & 1 of element i / 2, bpf/seat_hold.bpf.c). */
static int set_origins(struct bpf_object *obj, const struct calib_opts *o)
{
	struct bpf_map *map = bpf_object__find_map_by_name(obj, "slot_origin");
	uint32_t n = o->slot_hi - o->slot_lo + 1, s;
	struct tkt_token_key key, k;
	int fd;

	if (!o->mint || parse_mint_key(o->mint, &key) < 0) {
		fprintf(stderr, "xdp_calib: --origins needs --mint\n");
		return -1;
	}
	if (!map || bpf_map__value_size(map) != sizeof(uint64_t)) {
		fprintf(stderr, "xdp_calib: the object has no slot_origin map "
				"of u64 pairs\n");
		return -1;
	}
	if (o->origins > n) {
		fprintf(stderr, "xdp_calib: --origins %u: more than the %u "
				"slots\n", o->origins, n);
		return -1;
	}
	k.k0 = tkt_siphash24_u64(&key, 0x6f726967696e2d30ull); /* "origin-0" */
	k.k1 = tkt_siphash24_u64(&key, 0x6f726967696e2d31ull); /* "origin-1" */
	fd = bpf_map__fd(map);
	for (s = o->slot_lo; s <= o->slot_hi && s <= TKT_SLOT_MAX; s++) {
		uint64_t b = (uint64_t)(s - o->slot_lo) * o->origins / n;
		uint64_t h = tkt_siphash24_u64(&k, b);
		uint32_t v = (uint32_t)(h ^ h >> 32) & TKT_ORIGIN_HASH_MASK;
		uint32_t key_i = s / 2, pair[2] = {0, 0};

		if (bpf_map_lookup_elem(fd, &key_i, pair) < 0)
			goto fail;
		pair[s & 1] = v ? v : 1;
		if (bpf_map_update_elem(fd, &key_i, pair, BPF_ANY) < 0)
			goto fail;
	}
	return 0;
fail:
	fprintf(stderr, "xdp_calib: slot_origin: %s\n", strerror(errno));
	return -1;
}

/* Sets up the real program's config and events maps (bpf/ticket_maps.h)
 * the way ticketd would: token key, wall-clock offset, port, limits, one
 * event. Does nothing without --edge-config / --edge-event. */
static int edge_setup(struct bpf_object *obj, const struct calib_opts *o)
{
	struct bpf_map *map;

	if (o->edge_port) {
		struct tkt_config cfg;
		uint32_t zero = 0;

		memset(&cfg, 0, sizeof(cfg));
		if (!o->mint) {
			fprintf(stderr, "xdp_calib: --edge-config needs the "
					"token key: give --mint\n");
			return -1;
		}
		if (parse_mint_key(o->mint, &cfg.key) < 0)
			return -1;
		cfg.unix_offset_ns = tkt_unix_offset_ns();
		cfg.udp_port = o->edge_port;
		cfg.hold_limit = o->edge_hold_limit;
		cfg.rl_rate = o->edge_rl_rate;
		cfg.rl_burst = o->edge_rl_burst;
		/* every origin counted, none ever refused */
		if (o->origins)
			cfg.origin_hold_limit = TKT_COUNT_MAX;
		map = bpf_object__find_map_by_name(obj, "config");
		if (!map || bpf_map__value_size(map) != sizeof(cfg) ||
		    bpf_map_update_elem(bpf_map__fd(map), &zero, &cfg,
					BPF_ANY) < 0) {
			fprintf(stderr, "xdp_calib: the object has no config map "
					"of struct tkt_config\n");
			return -1;
		}
	}
	if (o->origins && set_origins(obj, o) < 0)
		return -1;
	if (o->edge_nseats) {
		struct tkt_event ev;

		memset(&ev, 0, sizeof(ev));
		ev.base = 0;
		ev.nseats = o->edge_nseats;
		ev.owned = 1;
		map = bpf_object__find_map_by_name(obj, "events");
		if (!map || bpf_map__value_size(map) != sizeof(ev) ||
		    bpf_map_update_elem(bpf_map__fd(map), &o->edge_event, &ev,
					BPF_ANY) < 0) {
			fprintf(stderr, "xdp_calib: the object has no events map "
					"of struct tkt_event\n");
			return -1;
		}
	}
	return 0;
}

static int count_record(void *ctx, void *data, size_t size)
{
	(void)data;
	(void)size;
	(*(long *)ctx)++;
	return 0;
}

/* A consumer for every ring buffer of the object, counting records into
 * *records. *out stays NULL when there is none. Returns 0 or -1. */
static int open_ringbufs(struct bpf_object *obj, long *records,
			 struct ring_buffer **out)
{
	struct ring_buffer *rb = NULL;
	struct bpf_map *map;

	bpf_object__for_each_map(map, obj) {
		if (bpf_map__type(map) != BPF_MAP_TYPE_RINGBUF)
			continue;
		if (!rb)
			rb = ring_buffer__new(bpf_map__fd(map), count_record,
					      records, NULL);
		else if (ring_buffer__add(rb, bpf_map__fd(map), count_record,
					  records) < 0)
			goto fail;
		if (!rb)
			goto fail;
	}
	*out = rb;
	return 0;
fail:
	fprintf(stderr, "xdp_calib: ring buffer %s: %s\n", bpf_map__name(map),
		strerror(errno));
	ring_buffer__free(rb);
	return -1;
}

/* Builds the packet set: for each seat in turn, the mix of ops, each with
 * the token of that seat (seat index mod token count), so a hold and the
 * release after it come from one session and every session holds at most
 * one seat at a time. */
static int build_packets(const struct calib_opts *o, struct frame **out)
{
	uint8_t(*toks)[TKT_TOKEN_LEN] = NULL;
	uint8_t ops[16];
	struct in_addr src, dst;
	struct frame *frames;
	int ntok, nops, n = 0;

	if (o->n_packet_hex) {
		frames = calloc((size_t)o->n_packet_hex, sizeof(*frames));
		if (!frames)
			return -1;
		for (int i = 0; i < o->n_packet_hex; i++) {
			int len = hex_decode_loose(o->packet_hex[i],
						 frames[i].bytes, MAX_FRAME);

			if (len < ETH_LEN) {
				fprintf(stderr, "xdp_calib: --packet-hex %d: "
						"need a frame of 14..%d bytes\n",
					i + 1, MAX_FRAME);
				free(frames);
				return -1;
			}
			frames[i].len = (uint16_t)len;
		}
		*out = frames;
		return o->n_packet_hex;
	}
	if (inet_pton(AF_INET, o->src_ip, &src) != 1 ||
	    inet_pton(AF_INET, o->dst_ip, &dst) != 1) {
		fprintf(stderr, "xdp_calib: --src-ip/--dst-ip are IPv4\n");
		return -1;
	}
	nops = bench_parse_mix(o->mix, ops, (int)sizeof(ops));
	if (nops < 0) {
		fprintf(stderr, "xdp_calib: bad --mix '%s'\n", o->mix);
		return -1;
	}
	ntok = prepare_tokens(o, &toks);
	if (ntok < 0)
		return -1;
	frames = calloc(MAX_PACKETS, sizeof(*frames));
	if (!frames) {
		free(toks);
		return -1;
	}
	for (uint64_t s = o->seat_lo; s <= o->seat_hi && n + nops <= MAX_PACKETS;
	     s++) {
		for (int k = 0; k < nops; k++) {
			struct tkt_request_fields q = {
				.op = ops[k],
				.req_id = (uint32_t)n + 1,
				.event_id = o->event,
				.seat_id = (uint32_t)s,
				.hold_secs = o->hold_secs,
			};

			memcpy(q.token, toks[(s - o->seat_lo) % (uint64_t)ntok],
			       TKT_TOKEN_LEN);
			build_frame(&frames[n++], o, &src, &dst, &q);
		}
	}
	free(toks);
	*out = frames;
	return n;
}

/* ---- attach ------------------------------------------------------------ */

/* Detaches prog_fd from ifindex only if it is still the one attached. */
static void detach_ours(int ifindex, uint32_t mode_flags, int prog_fd)
{
	LIBBPF_OPTS(bpf_xdp_attach_opts, ao, .old_prog_fd = prog_fd);
	int err = bpf_xdp_detach(ifindex, mode_flags | XDP_FLAGS_REPLACE, &ao);

	if (err)
		fprintf(stderr, "xdp_calib: detach: %s\n", strerror(-err));
}

static int cmd_attach(const struct calib_opts *o)
{
	struct bpf_program *prog;
	struct bpf_object *obj;
	struct ring_buffer *rb = NULL;
	uint8_t(*toks)[TKT_TOKEN_LEN] = NULL;
	uint32_t flags = 0, mode_flags, id = 0;
	bool skb = o->mode == XDP_MODE_SKB;
	long records = 0;
	int ifindex, err, ret = 1;

	obj = load_object(o, &prog);
	if (!obj)
		return 1;
	if (edge_setup(obj, o) < 0)
		goto out;
	if (o->tokens_out) {
		int n = prepare_tokens(o, &toks);

		if (n < 0 || write_tokens(o->tokens_out, toks, n) < 0)
			goto out;
	}
	if (o->serve_s && open_ringbufs(obj, &records, &rb) < 0)
		goto out;
	if (enter_netns(o->netns) < 0)
		goto out;
	ifindex = (int)if_nametoindex(o->iface);
	if (!ifindex) {
		fprintf(stderr, "xdp_calib: no interface %s\n", o->iface);
		goto out;
	}
	mode_flags = skb ? XDP_FLAGS_SKB_MODE : XDP_FLAGS_DRV_MODE;
	flags = mode_flags;
	if (!o->force)
		flags |= XDP_FLAGS_UPDATE_IF_NOEXIST;
	err = bpf_xdp_attach(ifindex, bpf_program__fd(prog), flags, NULL);
	if (err) {
		fprintf(stderr, "xdp_calib: attach %s to %s (%s mode): %s\n",
			o->prog, o->iface, skb ? "skb" : "native",
			strerror(-err));
		goto out;
	}
	prog_id_of(bpf_program__fd(prog), &id);
	printf("{\"attached\":true,\"iface\":\"%s\",\"ifindex\":%d,"
	       "\"netns\":\"%s\",\"obj\":\"%s\",\"prog\":\"%s\","
	       "\"prog_id\":%u,\"mode\":\"%s\",\"pid\":%d}\n",
	       o->iface, ifindex, o->netns ? o->netns : "", o->obj, o->prog,
	       id, skb ? "skb" : "native", (int)getpid());
	fflush(stdout);
	ret = 0;
	if (o->serve_s) {
		/* Serve: drain what the program emits, as ticketd would, for
		 * a bounded time, then take the program away again. */
		struct sigaction sa = {.sa_handler = on_stop};
		time_t until = time(NULL) + (time_t)o->serve_s;

		sigaction(SIGINT, &sa, NULL);
		sigaction(SIGTERM, &sa, NULL);
		while (!stop_flag && time(NULL) < until) {
			/* producers may skip the wakeup (BPF_RB_NO_WAKEUP):
			 * poll briefly, then consume whether woken or not */
			err = rb ? ring_buffer__poll(rb, 5) : 0;
			if (rb && err >= 0)
				err = ring_buffer__consume(rb);
			if (!rb)
				usleep(100000);
			if (err < 0 && err != -EINTR) {
				fprintf(stderr, "xdp_calib: ring buffer: %s\n",
					strerror(-err));
				ret = 1;
				break;
			}
		}
		if (rb)
			ring_buffer__consume(rb);
		detach_ours(ifindex, mode_flags, bpf_program__fd(prog));
		printf("{\"detached\":true,\"iface\":\"%s\","
		       "\"ringbuf_records\":%ld}\n",
		       o->iface, records);
	}
	/* Without --serve the attachment holds the program; our fds may go. */
out:
	free(toks);
	ring_buffer__free(rb);
	bpf_object__close(obj);
	return ret;
}

/* ---- prog_test_run ----------------------------------------------------- */

/* ns per run: "name":{mean, min, percentiles, max} */
static void print_dist(const char *name, const struct bench_hist *h)
{
	bench_hist_json(stdout, name, h, "mean,min,p10,median,p90,p99,max", 1,
			2);
}

/* A one-instruction program that returns XDP_PASS: what a test run costs
 * before the program under test does anything. */
static int load_empty_prog(void)
{
	const struct bpf_insn insns[] = {
		{.code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0,
		 .imm = XDP_PASS},
		{.code = BPF_JMP | BPF_EXIT},
	};

	return bpf_prog_load(BPF_PROG_TYPE_XDP, "calib_empty", "GPL", insns,
			     2, NULL);
}

static const char *action_name(uint32_t a)
{
	static const char *const names[] = {"XDP_ABORTED", "XDP_DROP",
					    "XDP_PASS", "XDP_TX",
					    "XDP_REDIRECT"};

	return a < 5 ? names[a] : "OTHER";
}

/* Gives a built v2 request a new request id and the MAC that goes
 * with it. */
static void v2_renumber(struct frame *f, uint32_t id)
{
	f->q.req_id = id;
	tkt_build_request_v2(f->bytes + L4_PAYLOAD_OFF, TKT_REQ_LEN, &f->q);
}

static int cmd_test_run(const struct calib_opts *o)
{
	struct ring_buffer *rb = NULL;
	struct bpf_program *prog;
	struct bpf_object *obj;
	struct frame *frames = NULL;
	struct bench_hist *dur = NULL, *base = NULL; /* ns per run */
	long actions[6] = {0}, status[TKT_STATUS_COUNT] = {0};
	long no_reply = 0, records = 0, failures = 0;
	struct bpf_prog_info info0, info1;
	uint32_t ilen;
	int nframes, prog_fd, empty_fd = -1, stats_fd = -1, ret = 1;
	int64_t t0, t1;

	obj = load_object(o, &prog);
	if (!obj)
		return 1;
	if (edge_setup(obj, o) < 0)
		goto out;
	prog_fd = bpf_program__fd(prog);
	nframes = build_packets(o, &frames);
	if (nframes <= 0) {
		if (nframes == 0)
			fprintf(stderr, "xdp_calib: no packets to send\n");
		goto out;
	}
	empty_fd = load_empty_prog();
	if (empty_fd < 0) {
		fprintf(stderr, "xdp_calib: load empty program: %s\n",
			strerror(errno));
		goto out;
	}
	/* Records the program emits would fill its ring buffer and change
	 * its path (RATE_LIMITED): drain them as the daemon would. */
	if (open_ringbufs(obj, &records, &rb) < 0)
		goto out;
	if (o->bpf_stats) {
		stats_fd = bpf_enable_stats(BPF_STATS_RUN_TIME);
		if (stats_fd < 0)
			fprintf(stderr, "xdp_calib: bpf_enable_stats: %s\n",
				strerror(errno));
	}
	dur = calloc(1, sizeof(*dur));
	base = calloc(1, sizeof(*base));
	if (!dur || !base)
		goto out;
	memset(&info0, 0, sizeof(info0));
	ilen = sizeof(info0);
	bpf_obj_get_info_by_fd(prog_fd, &info0, &ilen);

	t0 = now_ns();
	for (long i = 0; i < o->runs; i++) {
		struct frame *f = &frames[i % nframes];
		uint8_t out[MAX_FRAME + 256];
		struct tkt_reply_fields r;
		/* repeat stays 1: XDP test runs keep the rewritten packet
		 * between repeats, so a second repeat would see our reply,
		 * not a request. */
		LIBBPF_OPTS(bpf_test_run_opts, e, .data_in = f->bytes,
			    .data_size_in = f->len, .repeat = 1);
		LIBBPF_OPTS(bpf_test_run_opts, t, .data_in = f->bytes,
			    .data_size_in = f->len, .data_out = out,
			    .data_size_out = sizeof(out), .repeat = 1);

		/* v2: a replayed id would be dropped early, so every run
		 * gets the next id and its MAC (untimed, in userspace) */
		if (o->v2 && !o->n_packet_hex)
			v2_renumber(f, (uint32_t)i + 1);
		/* interleaved, so drift hits both the same way */
		if (bpf_prog_test_run_opts(empty_fd, &e) < 0 ||
		    bpf_prog_test_run_opts(prog_fd, &t) < 0) {
			if (failures++ == 0)
				fprintf(stderr, "xdp_calib: test run: %s\n",
					strerror(errno));
			continue;
		}
		bench_hist_add(base, e.duration);
		bench_hist_add(dur, t.duration);
		actions[t.retval < 5 ? t.retval : 5]++;
		if (t.data_size_out >= L4_PAYLOAD_OFF &&
		    tkt_parse_reply(out + L4_PAYLOAD_OFF,
				    t.data_size_out - L4_PAYLOAD_OFF,
				    &r) == TKT_REPLY_VALID)
			status[r.status]++;
		else
			no_reply++;
		if (rb && (i & 31) == 31)
			ring_buffer__consume(rb);
	}
	t1 = now_ns();
	if (rb)
		ring_buffer__consume(rb);
	memset(&info1, 0, sizeof(info1));
	ilen = sizeof(info1);
	bpf_obj_get_info_by_fd(prog_fd, &info1, &ilen);

	{
		bool first = true;

		printf("{\"tool\":\"xdp_calib\",\"mode\":\"prog_test_run\","
		       "\"obj\":\"%s\",\"prog\":\"%s\",\"runs\":%ld,"
		       "\"packets\":%d,\"frame_len\":%u,\"failures\":%ld,",
		       o->obj, o->prog, o->runs, nframes, frames[0].len,
		       failures);
		print_dist("ns_per_run", dur);
		printf(",");
		print_dist("empty_prog_ns_per_run", base);
		printf(",\"net_ns_per_run\":{\"median\":%.1f,\"mean\":%.2f}",
		       (double)bench_hist_percentile(dur, 0.5) -
			       (double)bench_hist_percentile(base, 0.5),
		       bench_hist_mean(dur) - bench_hist_mean(base));
		if (stats_fd >= 0 && info1.run_cnt > info0.run_cnt)
			printf(",\"bpf_stats\":{\"run_cnt\":%llu,"
			       "\"run_time_ns\":%llu,\"ns_per_run\":%.2f}",
			       (unsigned long long)(info1.run_cnt -
						    info0.run_cnt),
			       (unsigned long long)(info1.run_time_ns -
						    info0.run_time_ns),
			       (double)(info1.run_time_ns - info0.run_time_ns) /
				       (double)(info1.run_cnt - info0.run_cnt));
		printf(",\"actions\":{");
		for (uint32_t a = 0; a < 6; a++) {
			if (!actions[a])
				continue;
			printf("%s\"%s\":%ld", first ? "" : ",", action_name(a),
			       actions[a]);
			first = false;
		}
		printf("},\"status\":{");
		first = true;
		for (int s = 0; s < TKT_STATUS_COUNT; s++) {
			if (!status[s])
				continue;
			printf("%s\"%s\":%ld", first ? "" : ",",
			       tkt_status_name((unsigned)s), status[s]);
			first = false;
		}
		printf("},\"no_reply\":%ld,\"ringbuf_records\":%ld,"
		       "\"wall_s\":%.3f}\n",
		       no_reply, records, (double)(t1 - t0) / 1e9);
	}
	ret = failures == o->runs ? 1 : 0;
out:
	free(dur);
	free(base);
	free(frames);
	ring_buffer__free(rb);
	if (empty_fd >= 0)
		close(empty_fd);
	if (stats_fd >= 0)
		close(stats_fd);
	bpf_object__close(obj);
	return ret;
}

int main(int argc, char **argv)
{
	struct calib_opts o = {0}; /* the defaults are in options[] */

	bench_prog = "xdp_calib";
	bench_opts_parse(options, &o, usage, argc, argv);
	if (o.runs && o.cmd != CMD_NONE) {
		bench_err("one of --attach, --detach and --prog-test-run");
		return 2;
	}
	if (o.runs)
		o.cmd = CMD_TEST_RUN;
	switch (o.cmd) {
	case CMD_ATTACH:
		if (!o.iface || !o.obj || !o.prog)
			goto bad;
		return cmd_attach(&o);
	case CMD_DETACH:
		if (!o.iface)
			goto bad;
		return cmd_detach(&o);
	case CMD_TEST_RUN:
		if (!o.obj || !o.prog)
			goto bad;
		return cmd_test_run(&o);
	default:
		break;
	}
bad:
	bench_err("missing options");
	fprintf(stderr, "%s\n(xdp_calib --help lists the options)\n", usage);
	return 2;
}
