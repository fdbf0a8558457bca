/* pkt_gen: hold-protocol load that bypasses the client's socket stack
 * (issue #14, "Beyond the socket ceiling"). Each thread writes whole
 * Ethernet frames (bench/pkt_gen_frame.c) into a PF_PACKET TX ring
 * (TPACKET_V2, PACKET_QDISC_BYPASS: straight to the driver's xmit, no
 * qdisc, no UDP socket, no route lookup) on the host-side veth, and counts
 * the door's replies off a PF_PACKET RX ring (TPACKET_V3) on the same
 * interface; the RX sockets of the threads share a fanout group.
 *
 * The frames carry the source MAC --src-mac (default 02:74:6b:62:00:01, a
 * locally administered address that is not the veth's), so the replies,
 * addressed to it, reach the host stack as PACKET_OTHERHOST and are dropped
 * at once by IPv4 after the packet socket saw them: no UDP lookup, no ICMP
 * port unreachable for every reply.
 *
 * Load: slot i (of --slots, default one per token) uses token i mod
 * count, UDP source port --src-port + i and the seats lo + i, lo + i +
 * slots, ... in turn; per seat it sends the ops of --mix (hold,release
 * by default, so the table never fills). Frames are sent flat out (no
 * --rate) or paced at --rate frames/s over all threads; nothing waits for
 * a reply. Bounded: --warmup + --duration seconds of sending (each at most
 * 60), --max-frames frames, then --drain-ms of listening for late replies.
 *
 * Prints one JSON object: frames sent and replies counted in the measured
 * window (decisions/s), statuses, frames lost (sent - answered over the
 * whole run, after the drain), damaged replies by kind, and CPU over the
 * window: softirq of all CPUs from /proc/stat (tick samples) and NET_RX
 * softirq runs from /proc/softirqs, per decision; this process (getrusage)
 * and --server-pid. Needs CAP_NET_RAW. */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <linux/ethtool.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "bench/lib/cpu.h"
#include "bench/lib/opts.h"
#include "bench/lib/proto.h"
#include "bench/pkt_gen_frame.h"

#define MAX_THREADS 16
#define MAX_OPS 8
#define MAX_SECS 60.0
#define TX_FRAME_SIZE 256 /* > TPACKET2_HDRLEN + an 82-byte frame */
#define TX_BLOCK_SIZE 4096
#define RX_BLOCK_SIZE (1 << 18)
#define RX_BLOCKS 16

struct gen_opts {
	const char *iface, *src_mac_s, *dst_mac_s, *src_ip_s, *dst_ip_s;
	const char *tokens_file, *token_hex, *mix;
	uint16_t dst_port, src_port, hold_secs;
	uint32_t event, seat_lo, seat_hi;
	int threads, slots, batch, tx_frames, drain_ms, server_pid;
	double rate, duration_s, warmup_s;
	long max_frames;
	/* derived */
	struct pg_addrs addrs;
	int ifindex, nops, ntokens;
	uint8_t ops[MAX_OPS];
	bench_token *tokens;
};

struct counts {
	uint64_t sent, sent_measured, tx_errors, received, received_measured;
	uint64_t status[TKT_STATUS_COUNT], status_measured[TKT_STATUS_COUNT];
	uint64_t rx_err[PG_RX_ERR_COUNT];
	uint64_t ring_drops; /* PACKET_STATISTICS tp_drops of the RX ring */
};

struct slot {
	uint32_t k, nseats, global;
	uint8_t phase;
};

struct worker {
	pthread_t tid;
	int index;
	const struct gen_opts *o;
	int tx_fd, rx_fd;
	uint8_t *tx_ring, *rx_ring;
	size_t tx_len, rx_len;
	unsigned tx_next, rx_block;
	struct slot *slots;
	int nslots, next_slot;
	uint32_t req_seq;
	uint16_t ip_id;
	struct counts c;
	char error[200];
};

static int64_t t_start, t_measure, t_end; /* CLOCK_MONOTONIC ns */
static atomic_bool stop_now;

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void on_signal(int sig)
{
	(void)sig;
	atomic_store(&stop_now, true);
}

static void sleep_until(int64_t t)
{
	while (!atomic_load(&stop_now)) {
		int64_t d = t - now_ns();
		struct timespec ts;

		if (d <= 0)
			return;
		if (d > 100000000)
			d = 100000000;
		ts.tv_sec = d / 1000000000;
		ts.tv_nsec = d % 1000000000;
		nanosleep(&ts, NULL);
	}
}

/* ---- sockets and rings ---------------------------------------------------- */

static int fail(struct worker *w, const char *what)
{
	snprintf(w->error, sizeof(w->error), "%s: %s", what, strerror(errno));
	return -1;
}

static int open_tx(struct worker *w)
{
	const struct gen_opts *o = w->o;
	int v = TPACKET_V2, one = 1;
	struct tpacket_req req = {
		.tp_block_size = TX_BLOCK_SIZE,
		.tp_frame_size = TX_FRAME_SIZE,
		.tp_block_nr = (unsigned)o->tx_frames / (TX_BLOCK_SIZE / TX_FRAME_SIZE),
		.tp_frame_nr = (unsigned)o->tx_frames,
	};
	struct sockaddr_ll sll = {
		.sll_family = AF_PACKET,
		.sll_protocol = 0, /* send only: no frames come to this socket */
		.sll_ifindex = o->ifindex,
	};

	w->tx_fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
	if (w->tx_fd < 0)
		return fail(w, "socket(AF_PACKET) for TX (needs CAP_NET_RAW)");
	if (setsockopt(w->tx_fd, SOL_PACKET, PACKET_VERSION, &v, sizeof(v)) ||
	    setsockopt(w->tx_fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one,
		       sizeof(one)) ||
	    /* a frame the driver refuses is dropped and counted as lost,
	     * instead of failing the send */
	    setsockopt(w->tx_fd, SOL_PACKET, PACKET_LOSS, &one, sizeof(one)) ||
	    setsockopt(w->tx_fd, SOL_PACKET, PACKET_TX_RING, &req, sizeof(req)))
		return fail(w, "TX ring set-up");
	w->tx_len = (size_t)req.tp_block_size * req.tp_block_nr;
	w->tx_ring = mmap(NULL, w->tx_len, PROT_READ | PROT_WRITE, MAP_SHARED,
			  w->tx_fd, 0);
	if (w->tx_ring == MAP_FAILED) {
		w->tx_ring = NULL;
		return fail(w, "mmap of the TX ring");
	}
	if (bind(w->tx_fd, (struct sockaddr *)&sll, sizeof(sll)))
		return fail(w, "bind of the TX socket");
	return 0;
}

static int open_rx(struct worker *w)
{
	const struct gen_opts *o = w->o;
	int v = TPACKET_V3, one = 1;
	struct tpacket_req3 req = {
		.tp_block_size = RX_BLOCK_SIZE,
		.tp_block_nr = RX_BLOCKS,
		.tp_frame_size = 2048,
		.tp_frame_nr = RX_BLOCK_SIZE / 2048 * RX_BLOCKS,
		.tp_retire_blk_tov = 5, /* ms: a block is handed over at least this often */
	};
	struct sockaddr_ll sll = {
		.sll_family = AF_PACKET,
		.sll_protocol = htons(ETH_P_IP),
		.sll_ifindex = o->ifindex,
	};

	w->rx_fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_IP));
	if (w->rx_fd < 0)
		return fail(w, "socket(AF_PACKET) for RX");
	if (setsockopt(w->rx_fd, SOL_PACKET, PACKET_VERSION, &v, sizeof(v)) ||
	    setsockopt(w->rx_fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one,
		       sizeof(one)) ||
	    setsockopt(w->rx_fd, SOL_PACKET, PACKET_RX_RING, &req, sizeof(req)))
		return fail(w, "RX ring set-up");
	w->rx_len = (size_t)req.tp_block_size * req.tp_block_nr;
	w->rx_ring = mmap(NULL, w->rx_len, PROT_READ | PROT_WRITE, MAP_SHARED,
			  w->rx_fd, 0);
	if (w->rx_ring == MAP_FAILED) {
		w->rx_ring = NULL;
		return fail(w, "mmap of the RX ring");
	}
	if (bind(w->rx_fd, (struct sockaddr *)&sll, sizeof(sll)))
		return fail(w, "bind of the RX socket");
	if (o->threads > 1) {
		/* replies go to the ring of the CPU that received them */
		int fan = (int)((getpid() & 0xffff) | (PACKET_FANOUT_CPU << 16));

		if (setsockopt(w->rx_fd, SOL_PACKET, PACKET_FANOUT, &fan,
			       sizeof(fan)))
			return fail(w, "PACKET_FANOUT");
	}
	return 0;
}

static void close_worker(struct worker *w)
{
	if (w->tx_ring)
		munmap(w->tx_ring, w->tx_len);
	if (w->rx_ring)
		munmap(w->rx_ring, w->rx_len);
	if (w->tx_fd >= 0)
		close(w->tx_fd);
	if (w->rx_fd >= 0)
		close(w->rx_fd);
	free(w->slots);
}

/* ---- receiving -------------------------------------------------------------- */

static void take_frame(struct worker *w, const uint8_t *f, size_t len,
		       int64_t t)
{
	struct tkt_reply_fields r;
	enum pg_rx_err e = pg_parse_reply(f, len, &w->o->addrs, &r, NULL);

	w->c.rx_err[e]++;
	if (e != PG_RX_OK)
		return;
	w->c.received++;
	w->c.status[r.status]++;
	if (t >= t_measure && t < t_end) {
		w->c.received_measured++;
		w->c.status_measured[r.status]++;
	}
}

/* Hands every full block of the RX ring to take_frame. Returns frames. */
static int drain_rx(struct worker *w)
{
	int n = 0;

	for (int i = 0; i < RX_BLOCKS; i++) {
		struct tpacket_block_desc *bd =
			(void *)(w->rx_ring + (size_t)w->rx_block * RX_BLOCK_SIZE);
		struct tpacket3_hdr *h;
		uint32_t num;
		int64_t t;

		if (!(__atomic_load_n(&bd->hdr.bh1.block_status,
				      __ATOMIC_ACQUIRE) & TP_STATUS_USER))
			break;
		t = now_ns();
		num = bd->hdr.bh1.num_pkts;
		h = (void *)((uint8_t *)bd + bd->hdr.bh1.offset_to_first_pkt);
		for (uint32_t k = 0; k < num; k++) {
			take_frame(w, (uint8_t *)h + h->tp_mac, h->tp_snaplen, t);
			h = (void *)((uint8_t *)h + h->tp_next_offset);
		}
		n += (int)num;
		__atomic_store_n(&bd->hdr.bh1.block_status, TP_STATUS_KERNEL,
				 __ATOMIC_RELEASE);
		w->rx_block = (w->rx_block + 1) % RX_BLOCKS;
	}
	return n;
}

/* ---- sending ------------------------------------------------------------------ */

static void slots_init(struct worker *w)
{
	const struct gen_opts *o = w->o;
	uint64_t range = (uint64_t)o->seat_hi - o->seat_lo + 1;

	for (int i = 0; i < w->nslots; i++) {
		struct slot *s = &w->slots[i];

		s->global = (uint32_t)(i * o->threads + w->index);
		s->nseats = (uint32_t)((range - 1 - s->global) / (uint64_t)o->slots + 1);
	}
}

/* Writes the next request of the next slot into a free TX frame.
 * Returns false when the ring has no free frame. */
static bool queue_one(struct worker *w, bool measured)
{
	const struct gen_opts *o = w->o;
	struct tpacket2_hdr *h =
		(void *)(w->tx_ring + (size_t)w->tx_next * TX_FRAME_SIZE);
	uint32_t st = __atomic_load_n(&h->tp_status, __ATOMIC_ACQUIRE);
	struct slot *s = &w->slots[w->next_slot];
	struct tkt_request_fields q;
	uint8_t *data;

	if (st == TP_STATUS_WRONG_FORMAT) {
		w->c.tx_errors++;
		st = TP_STATUS_AVAILABLE;
	}
	if (st != TP_STATUS_AVAILABLE)
		return false;
	memset(&q, 0, sizeof(q));
	q.op = o->ops[s->phase];
	q.req_id = ++w->req_seq << 4 | (uint32_t)w->index;
	q.event_id = o->event;
	q.seat_id = o->seat_lo + s->global + s->k * (uint32_t)o->slots;
	q.hold_secs = o->hold_secs;
	memcpy(q.token, o->tokens[s->global % (uint32_t)o->ntokens],
	       TKT_TOKEN_LEN);
	data = (uint8_t *)h + TPACKET2_HDRLEN - sizeof(struct sockaddr_ll);
	pg_build_request(data, TX_FRAME_SIZE - (TPACKET2_HDRLEN -
						sizeof(struct sockaddr_ll)),
			 &o->addrs, (uint16_t)(o->src_port + s->global),
			 w->ip_id++, &q);
	h->tp_len = PG_REQ_FRAME_LEN;
	__atomic_store_n(&h->tp_status, TP_STATUS_SEND_REQUEST,
			 __ATOMIC_RELEASE);
	w->tx_next = (w->tx_next + 1) % (unsigned)o->tx_frames;
	if (++s->phase >= o->nops) {
		s->phase = 0;
		if (++s->k >= s->nseats)
			s->k = 0;
	}
	w->next_slot = (w->next_slot + 1) % w->nslots;
	w->c.sent++;
	if (measured)
		w->c.sent_measured++;
	return true;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	const struct gen_opts *o = w->o;
	double per_ns = o->rate > 0 ? o->rate / o->threads / 1e9 : 0;
	uint64_t cap = (uint64_t)o->max_frames / (uint64_t)o->threads;
	cpu_set_t cpus;
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	int64_t t, drain_end;

	CPU_ZERO(&cpus);
	CPU_SET(w->index % (ncpu > 0 ? ncpu : 1), &cpus);
	pthread_setaffinity_np(pthread_self(), sizeof(cpus), &cpus);

	while (!atomic_load(&stop_now) && (t = now_ns()) < t_end &&
	       w->c.sent < cap) {
		uint64_t want = (uint64_t)o->batch;
		bool measured = t >= t_measure;
		int n = 0;

		if (per_ns > 0) {
			double due = (double)(t - t_start) * per_ns;

			want = due > (double)w->c.sent
				       ? (uint64_t)(due - (double)w->c.sent)
				       : 0;
			/* behind after a long sleep: catch up, a ring at a time */
			if (want > (uint64_t)o->tx_frames)
				want = (uint64_t)o->tx_frames;
		}
		if (want > cap - w->c.sent)
			want = cap - w->c.sent;
		while (n < (int)want && queue_one(w, measured))
			n++;
		if (n > 0 && send(w->tx_fd, NULL, 0, 0) < 0 && errno != EINTR &&
		    errno != ENOBUFS && errno != EAGAIN) {
			fail(w, "send on the TX ring");
			break;
		}
		if (drain_rx(w) == 0 && n == 0 && per_ns > 0) {
			struct timespec ts = {.tv_nsec = 20000};

			nanosleep(&ts, NULL);
		}
	}
	/* late replies: listen for drain_ms more */
	drain_end = now_ns() + (int64_t)o->drain_ms * 1000000;
	while (!atomic_load(&stop_now) && now_ns() < drain_end) {
		struct pollfd p = {.fd = w->rx_fd, .events = POLLIN};

		if (drain_rx(w) == 0)
			poll(&p, 1, 5);
	}
	drain_rx(w);
	{
		struct tpacket_stats_v3 st;
		socklen_t sl = sizeof(st);

		if (getsockopt(w->rx_fd, SOL_PACKET, PACKET_STATISTICS, &st,
			       &sl) == 0)
			w->c.ring_drops = st.tp_drops;
	}
	return NULL;
}

/* ---- CPU over the window -------------------------------------------------------- */

/* Sum of the NET_RX row of /proc/softirqs over CPUs, or -1. */
static long long net_rx_softirqs(void)
{
	FILE *f = fopen("/proc/softirqs", "r");
	char line[4096];
	long long sum = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		char *p = line, *end;

		while (*p == ' ')
			p++;
		if (strncmp(p, "NET_RX:", 7) != 0)
			continue;
		p += 7;
		sum = 0;
		for (;;) {
			long long v = strtoll(p, &end, 10);

			if (end == p)
				break;
			sum += v;
			p = end;
		}
		break;
	}
	fclose(f);
	return sum;
}

/* ---- options ---------------------------------------------------------------------- */

#define BENCH_OPTS_TYPE struct gen_opts
static const struct bench_opt opt_table[] = {
	BOPT(STR, "iface", iface, .arg = "IF", .def = "tkb0",
	     .help = "host-side veth to send from (bench/netns.sh's tkb0)"),
	BOPT(STR, "dst-mac", dst_mac_s, .arg = "MAC",
	     .help = "MAC of the door's interface (required)"),
	BOPT(STR, "src-mac", src_mac_s, .arg = "MAC", .def = "02:74:6b:62:00:01",
	     .help = "source MAC of the requests; replies come back to it"),
	BOPT(STR, "src-ip", src_ip_s, .arg = "IPV4", .def = "10.79.0.1",
	     .help = "source address"),
	BOPT(STR, "dst-ip", dst_ip_s, .arg = "IPV4", .def = "10.79.0.2",
	     .help = "the door's address"),
	BOPT(U16, "dst-port", dst_port, .lo = 1, .hi = UINT16_MAX, .arg = "P",
	     .def = "7000", .help = "the door's UDP port"),
	BOPT(U16, "src-port", src_port, .lo = 1024, .hi = 60000, .arg = "P",
	     .def = "40000", .help = "UDP source port of slot 0; slot i uses P + i"),
	BOPT(INT, "threads", threads, .lo = 1, .hi = MAX_THREADS, .arg = "N",
	     .def = "1", .help = "sending threads (thread i on CPU i mod cores)"),
	BOPT(INT, "slots", slots, .lo = 0, .hi = 4096, .arg = "N", .def = "0",
	     .help = "slots (token, port, seat stride); 0 = one per token"),
	BOPT(DOUBLE, "rate", rate, .lo = 0, .hi = 1e8, .arg = "R", .def = "0",
	     .help = "frames/s over all threads; 0 = flat out"),
	BOPT(DOUBLE, "duration", duration_s, .lo = 0.1, .hi = MAX_SECS,
	     .arg = "S", .def = "3", .help = "measured seconds"),
	BOPT(DOUBLE, "warmup", warmup_s, .lo = 0, .hi = 10, .arg = "S",
	     .def = "0.5", .help = "unmeasured seconds of sending first"),
	BOPT(LONG, "max-frames", max_frames, .lo = 1, .hi = 2e9, .arg = "N",
	     .def = "1000000000", .help = "stop sending after this many frames"),
	BOPT(INT, "drain-ms", drain_ms, .lo = 0, .hi = 5000, .arg = "MS",
	     .def = "300", .help = "listen this long for late replies"),
	BOPT(INT, "batch", batch, .lo = 1, .hi = 1024, .arg = "B", .def = "64",
	     .help = "frames per send() of the TX ring"),
	BOPT(INT, "tx-frames", tx_frames, .lo = 256, .hi = 65536, .arg = "N",
	     .def = "4096", .help = "TX ring frames per thread (multiple of 16)"),
	BOPT(STR, "token", token_hex, .arg = "HEX32",
	     .help = "the session token of every slot"),
	BOPT_TOKENS(tokens_file, ";\nslot i uses token i mod count"),
	BOPT_EVENT(event),
	BOPT_SEATS(seat_lo, seat_hi, "0-16383",
		   "seat range; needs at least --slots seats"),
	BOPT(STR, "mix", mix, .arg = "OP[,OP...]", .def = "hold,release",
	     .help = "op cycle per seat"),
	BOPT(U16, "hold-secs", hold_secs, .lo = 0, .hi = 600, .arg = "S",
	     .def = "0", .help = "hold seconds (0 = the server's default)"),
	BOPT(INT, "server-pid", server_pid, .lo = 1, .hi = 1 << 22, .arg = "PID",
	     .help = "also report this process's CPU per decision"),
	BENCH_OPTS_END,
};

static void die(const char *msg)
{
	fprintf(stderr, "pkt_gen: %s\n", msg);
	exit(2);
}

/* Whether the driver of iface is veth: the generator floods, so it only
 * ever sends into a veth pair (bench/netns.sh's), never out of a NIC. */
static bool is_veth(const char *iface)
{
	struct ethtool_drvinfo info = {.cmd = ETHTOOL_GDRVINFO};
	struct ifreq ifr;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	bool ok;

	if (fd < 0)
		return false;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", iface);
	ifr.ifr_data = (void *)&info;
	ok = ioctl(fd, SIOCETHTOOL, &ifr) == 0 && strcmp(info.driver, "veth") == 0;
	close(fd);
	return ok;
}

static void setup(struct gen_opts *o)
{
	struct in_addr in;
	uint64_t range;

	if (!o->dst_mac_s || pg_parse_mac(o->dst_mac_s, o->addrs.dst_mac))
		die("--dst-mac MAC is required (aa:bb:cc:dd:ee:ff)");
	if (pg_parse_mac(o->src_mac_s, o->addrs.src_mac) ||
	    (o->addrs.src_mac[0] & 1))
		die("--src-mac: not a unicast MAC");
	if (inet_pton(AF_INET, o->src_ip_s, &in) != 1)
		die("--src-ip: not an IPv4 address");
	o->addrs.src_ip = ntohl(in.s_addr);
	if (inet_pton(AF_INET, o->dst_ip_s, &in) != 1)
		die("--dst-ip: not an IPv4 address");
	o->addrs.dst_ip = ntohl(in.s_addr);
	o->addrs.dst_port = o->dst_port;
	o->ifindex = (int)if_nametoindex(o->iface);
	if (o->ifindex == 0)
		die("--iface: no such interface");
	if (!is_veth(o->iface))
		die("--iface: not a veth (pkt_gen sends only into a veth pair, "
		    "e.g. bench/netns.sh's tkb0)");
	if (o->tx_frames % (TX_BLOCK_SIZE / TX_FRAME_SIZE))
		die("--tx-frames must be a multiple of 16");
	o->nops = bench_parse_mix(o->mix, o->ops, MAX_OPS);
	if (o->nops <= 0)
		die("--mix: op names (hold, release, extend, query) separated by ','");
	o->ntokens = bench_tokens_from(o->tokens_file, o->token_hex, &o->tokens);
	if (o->ntokens < 0)
		exit(2);
	if (o->slots == 0)
		o->slots = o->ntokens;
	if (o->slots < o->threads)
		o->slots = o->threads;
	if (o->slots % o->threads)
		o->slots += o->threads - o->slots % o->threads;
	if ((long)o->src_port + o->slots > 65535)
		die("--src-port + --slots beyond port 65535");
	range = (uint64_t)o->seat_hi - o->seat_lo + 1;
	if (o->seat_hi < o->seat_lo || range < (uint64_t)o->slots)
		die("--seats: fewer seats than slots");
}

static void json_statuses(const uint64_t *st)
{
	bool first = true;

	putchar('{');
	for (int i = 0; i < TKT_STATUS_COUNT; i++) {
		if (!st[i])
			continue;
		printf("%s\"%s\":%" PRIu64, first ? "" : ",", tkt_status_name((unsigned)i),
		       st[i]);
		first = false;
	}
	putchar('}');
}

int main(int argc, char **argv)
{
	struct gen_opts o;
	struct worker *ws;
	struct counts tot;
	struct bench_cpu_reading c0, c1;
	long long nr0, nr1;
	struct sigaction sa;
	double secs, dps, soft_ns, tick_ns = bench_tick_ns();
	char err[256] = "";
	int started = 0;

	memset(&o, 0, sizeof(o));
	bench_opts_parse(opt_table, &o,
			 "usage: pkt_gen --dst-mac MAC [options]\n"
			 "Hold-protocol frames through a PF_PACKET TX ring "
			 "(qdisc bypass), replies counted off a PF_PACKET RX "
			 "ring; prints one JSON object.",
			 argc, argv);
	setup(&o);

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	ws = calloc((size_t)o.threads, sizeof(*ws));
	if (!ws)
		die("out of memory");
	for (int i = 0; i < o.threads; i++) {
		struct worker *w = &ws[i];

		w->index = i;
		w->o = &o;
		w->tx_fd = w->rx_fd = -1;
		w->nslots = o.slots / o.threads;
		w->slots = calloc((size_t)w->nslots, sizeof(*w->slots));
		if (!w->slots)
			die("out of memory");
		slots_init(w);
		/* every RX ring before the first frame leaves */
		if (open_rx(w) || open_tx(w)) {
			fprintf(stderr, "pkt_gen: %s\n", w->error);
			for (int k = 0; k <= i; k++)
				close_worker(&ws[k]);
			free(ws);
			free(o.tokens);
			return 1;
		}
	}
	t_start = now_ns();
	t_measure = t_start + (int64_t)(o.warmup_s * 1e9);
	t_end = t_measure + (int64_t)(o.duration_s * 1e9);
	for (int i = 0; i < o.threads; i++) {
		if (pthread_create(&ws[i].tid, NULL, worker_main, &ws[i]) != 0) {
			atomic_store(&stop_now, true);
			snprintf(err, sizeof(err), "pthread_create failed");
			break;
		}
		started++;
	}
	sleep_until(t_measure);
	bench_cpu_read(&c0, o.server_pid);
	nr0 = net_rx_softirqs();
	sleep_until(t_end);
	bench_cpu_read(&c1, o.server_pid);
	nr1 = net_rx_softirqs();
	for (int i = 0; i < started; i++)
		pthread_join(ws[i].tid, NULL);

	memset(&tot, 0, sizeof(tot));
	for (int i = 0; i < o.threads; i++) {
		struct counts *c = &ws[i].c;

		tot.sent += c->sent;
		tot.sent_measured += c->sent_measured;
		tot.tx_errors += c->tx_errors;
		tot.received += c->received;
		tot.received_measured += c->received_measured;
		tot.ring_drops += c->ring_drops;
		for (int k = 0; k < TKT_STATUS_COUNT; k++) {
			tot.status[k] += c->status[k];
			tot.status_measured[k] += c->status_measured[k];
		}
		for (int k = 0; k < PG_RX_ERR_COUNT; k++)
			tot.rx_err[k] += c->rx_err[k];
		if (!err[0] && ws[i].error[0])
			snprintf(err, sizeof(err), "thread %d: %s", i, ws[i].error);
	}
	secs = (double)(c1.t_ns - c0.t_ns) / 1e9;
	if (atomic_load(&stop_now) && !err[0])
		snprintf(err, sizeof(err), "interrupted");
	dps = secs > 0 ? (double)tot.received_measured / secs : 0;
	soft_ns = c0.host.ok && c1.host.ok
			  ? (double)(c1.host.ticks[BENCH_CPU_SOFTIRQ] -
				     c0.host.ticks[BENCH_CPU_SOFTIRQ]) * tick_ns
			  : -1;

	printf("{\"tool\":\"pkt_gen\",\"method\":\"PF_PACKET TX ring "
	       "(TPACKET_V2, PACKET_QDISC_BYPASS) + RX ring (TPACKET_V3)\","
	       "\"iface\":\"%s\",\"threads\":%d,\"slots\":%d,\"tokens\":%d,"
	       "\"mix\":\"%s\",\"event\":%u,\"seats\":[%u,%u],\"rate\":%.0f,"
	       "\"warmup_s\":%.3f,\"measured_s\":%.6f,",
	       o.iface, o.threads, o.slots, o.ntokens, o.mix, o.event, o.seat_lo,
	       o.seat_hi, o.rate, o.warmup_s, secs);
	printf("\"sent\":%" PRIu64 ",\"sent_measured\":%" PRIu64
	       ",\"offered_per_s\":%.0f,\"received\":%" PRIu64
	       ",\"received_measured\":%" PRIu64 ",\"decisions_per_s\":%.0f,"
	       "\"lost\":%" PRId64 ",\"lost_pct\":%.4f,\"tx_errors\":%" PRIu64
	       ",\"rx_ring_drops\":%" PRIu64 ",",
	       tot.sent, tot.sent_measured,
	       secs > 0 ? (double)tot.sent_measured / secs : 0, tot.received,
	       tot.received_measured, dps,
	       (int64_t)tot.sent - (int64_t)tot.received,
	       tot.sent ? 100.0 * ((double)tot.sent - (double)tot.received) /
				  (double)tot.sent
			: 0.0,
	       tot.tx_errors, tot.ring_drops);
	printf("\"status\":");
	json_statuses(tot.status_measured);
	printf(",\"status_all\":");
	json_statuses(tot.status);
	printf(",\"rx_frames\":{");
	for (int k = 0; k < PG_RX_ERR_COUNT; k++)
		printf("%s\"%s\":%" PRIu64, k ? "," : "",
		       pg_rx_err_name((enum pg_rx_err)k), tot.rx_err[k]);
	printf("},\"cpu\":{\"method\":\"softirq: /proc/stat softirq column, all "
	       "CPUs, delta over the measured window (tick samples of %.0f ns); "
	       "NET_RX: /proc/softirqs row sum\"",
	       tick_ns);
	printf(",\"softirq_ns\":%.0f,\"softirq_ns_per_decision\":%s",
	       soft_ns, "");
	if (soft_ns >= 0 && tot.received_measured)
		printf("%.1f", soft_ns / (double)tot.received_measured);
	else
		printf("null");
	printf(",\"net_rx_softirqs\":%lld,\"net_rx_per_decision\":",
	       nr0 >= 0 && nr1 >= 0 ? nr1 - nr0 : -1);
	if (nr0 >= 0 && nr1 >= 0 && tot.received_measured)
		printf("%.4f", (double)(nr1 - nr0) / (double)tot.received_measured);
	else
		printf("null");
	printf(",\"host_busy_pct\":%.1f,\"self_user_s\":%.3f,\"self_sys_s\":%.3f",
	       bench_host_busy_pct(&c0.host, &c1.host),
	       c1.self_user_s - c0.self_user_s, c1.self_sys_s - c0.self_sys_s);
	printf(",\"self_ns_per_decision\":");
	if (tot.received_measured)
		printf("%.1f", (c1.self_user_s + c1.self_sys_s - c0.self_user_s -
				c0.self_sys_s) * 1e9 / (double)tot.received_measured);
	else
		printf("null");
	printf(",\"server_s\":");
	if (o.server_pid && c0.pid_s >= 0 && c1.pid_s >= 0) {
		printf("%.3f,\"server_ns_per_decision\":", c1.pid_s - c0.pid_s);
		if (tot.received_measured)
			printf("%.1f", (c1.pid_s - c0.pid_s) * 1e9 /
					       (double)tot.received_measured);
		else
			printf("null");
	} else {
		printf("null,\"server_ns_per_decision\":null");
	}
	printf("},\"error\":");
	if (err[0])
		printf("\"%s\"}\n", err);
	else
		printf("null}\n");

	for (int i = 0; i < o.threads; i++)
		close_worker(&ws[i]);
	free(ws);
	free(o.tokens);
	if (err[0]) {
		fprintf(stderr, "pkt_gen: %s\n", err);
		return 1;
	}
	return 0;
}
