// SPDX-License-Identifier: GPL-2.0
/* Calibration program for the benchmark: the least work an XDP answer to
 * the UDP hold protocol can do. It parses Ethernet / IPv4 / UDP up to the
 * port, does one compare-and-swap on a seat word, turns the request into a
 * 32-byte reply in place and sends it back with XDP_TX. No token check, no
 * rate limit, no ring buffer: the round-trip rate it reaches is the ceiling
 * any UDP path can reach on the machine (PITFALLS.md, "Measuring the fast
 * path"). Not a seat table: the word only counts. */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/udp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "bpf/ticket_wire.h"

#define CALIB_WORDS 65536 /* power of two: the seat id is masked into it */

/* One 8-byte word per seat id (mod CALIB_WORDS), mmapable like the real
 * seat table; each answered request CASes it to old + 1. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, CALIB_WORDS);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, __u64);
} calib_seats SEC(".maps");

struct cursor {
	void *pos;
	void *end;
};

/* Each parse helper bounds-checks its header once and advances the cursor;
 * it returns the header, or NULL when the frame is not for us. */
static __always_inline struct ethhdr *parse_eth(struct cursor *c)
{
	struct ethhdr *eth = c->pos;

	if ((void *)(eth + 1) > c->end)
		return NULL;
	if (eth->h_proto != bpf_htons(ETH_P_IP))
		return NULL;
	c->pos = eth + 1;
	return eth;
}

static __always_inline struct iphdr *parse_ipv4(struct cursor *c)
{
	struct iphdr *ip = c->pos;

	if ((void *)(ip + 1) > c->end)
		return NULL;
	/* no options, no fragments: keeps the reply length arithmetic fixed */
	if (ip->ihl != 5 || ip->protocol != IPPROTO_UDP ||
	    (ip->frag_off & bpf_htons(0x3fff)))
		return NULL;
	c->pos = ip + 1;
	return ip;
}

static __always_inline struct udphdr *parse_udp(struct cursor *c)
{
	struct udphdr *udp = c->pos;

	if ((void *)(udp + 1) > c->end)
		return NULL;
	if (udp->dest != bpf_htons(TKT_DEFAULT_PORT))
		return NULL;
	c->pos = udp + 1;
	return udp;
}

static __always_inline __u16 ipv4_csum(struct iphdr *ip)
{
	__u16 *w = (__u16 *)ip;
	__u32 sum = 0;
	int i;

	ip->check = 0;
#pragma unroll
	for (i = 0; i < (int)(sizeof(*ip) / 2); i++)
		sum += w[i];
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (__u16)~sum;
}

SEC("xdp")
int xdp_trivial(struct xdp_md *ctx)
{
	struct cursor c = {
		.pos = (void *)(long)ctx->data,
		.end = (void *)(long)ctx->data_end,
	};
	unsigned char mac[ETH_ALEN];
	struct tkt_reply *rep;
	struct tkt_req *req;
	struct ethhdr *eth;
	struct iphdr *ip;
	struct udphdr *udp;
	__u64 *word, old, new;
	__u32 idx, addr;
	__u16 port;
	__u8 status;
	int excess;

	eth = parse_eth(&c);
	if (!eth)
		return XDP_PASS;
	ip = parse_ipv4(&c);
	if (!ip)
		return XDP_PASS;
	udp = parse_udp(&c);
	if (!udp)
		return XDP_PASS;
	req = c.pos;
	if ((void *)(req + 1) > c.end || req->magic != bpf_htons(TKT_MAGIC))
		return XDP_DROP;

	idx = bpf_ntohl(req->seat_id) & (CALIB_WORDS - 1);
	word = bpf_map_lookup_elem(&calib_seats, &idx);
	if (!word)
		return XDP_DROP;
	old = *(volatile __u64 *)word;
	new = old + 1;
	status = __sync_val_compare_and_swap(word, old, new) == old ? TKT_OK
								    : TKT_TAKEN;

	/* The reply overlays the request: magic, version, ids stay. */
	rep = (struct tkt_reply *)req;
	rep->op = req->op | TKT_REPLY_OP_BIT;
	rep->status = status;
	rep->zero[0] = 0;
	rep->zero[1] = 0;
	rep->zero[2] = 0;
	rep->counter = bpf_htonl((__u32)new);
	rep->expiry_ms = 0;

	__builtin_memcpy(mac, eth->h_dest, ETH_ALEN);
	__builtin_memcpy(eth->h_dest, eth->h_source, ETH_ALEN);
	__builtin_memcpy(eth->h_source, mac, ETH_ALEN);
	addr = ip->saddr;
	ip->saddr = ip->daddr;
	ip->daddr = addr;
	ip->tot_len = bpf_htons(sizeof(*ip) + sizeof(*udp) + sizeof(*rep));
	ip->ttl = 64;
	ip->check = ipv4_csum(ip);
	port = udp->source;
	udp->source = udp->dest;
	udp->dest = port;
	udp->len = bpf_htons(sizeof(*udp) + sizeof(*rep));
	udp->check = 0; /* optional over IPv4 */

	excess = (int)(c.end - (void *)(rep + 1));
	if (excess > 0 && bpf_xdp_adjust_tail(ctx, -excess))
		return XDP_DROP;
	return XDP_TX;
}

/* For the host-side veth peer: frames sent with XDP_TX are dropped unless
 * the peer runs an XDP program (PITFALLS.md). Also the empty baseline. */
SEC("xdp")
int xdp_pass(struct xdp_md *ctx)
{
	(void)ctx;
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
