/* The frames of bench/pkt_gen: a whole Ethernet + IPv4 + UDP frame around
 * one 40-byte request of the hold protocol (docs/protocol.md), and the
 * parser of the frames that come back (a 32-byte reply in the same
 * headers, addresses and ports swapped). Pure functions, no I/O, so the
 * unit test (tests/unit/test_pkt_gen_frame.c) and the fuzzer
 * (fuzz/fuzz_pkt_gen_reply.c) drive exactly what the generator runs. */
#ifndef BENCH_PKT_GEN_FRAME_H
#define BENCH_PKT_GEN_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include "userspace/lib/wire_codec.h"

#define PG_ETH_LEN 14
#define PG_IP_LEN 20 /* IPv4 without options: the only form we send */
#define PG_UDP_LEN 8
#define PG_HDRS_LEN (PG_ETH_LEN + PG_IP_LEN + PG_UDP_LEN)
#define PG_REQ_FRAME_LEN (PG_HDRS_LEN + TKT_REQ_LEN)     /* 82 */
#define PG_REPLY_FRAME_LEN (PG_HDRS_LEN + TKT_REPLY_LEN) /* 74 */

/* Where the requests go: our end (src) and the door's (dst). IPv4
 * addresses and the port in host byte order. */
struct pg_addrs {
	uint8_t src_mac[6], dst_mac[6];
	uint32_t src_ip, dst_ip;
	uint16_t dst_port;
};

/* Why a received frame is not a reply to us. PG_RX_FOREIGN is traffic
 * that is not ours at all (ARP, another protocol, other addresses or
 * ports); the others are frames that claim to be our replies but are
 * damaged. */
enum pg_rx_err {
	PG_RX_OK = 0,
	PG_RX_FOREIGN,    /* not IPv4/UDP from the door to us */
	PG_RX_SHORT,      /* shorter than its headers say */
	PG_RX_BAD_IP,     /* IPv4 header: options, length, fragment, checksum */
	PG_RX_BAD_UDP,    /* UDP length or checksum */
	PG_RX_BAD_REPLY,  /* the payload is not a valid 32-byte reply */
	PG_RX_ERR_COUNT,
};

/* Writes the request frame for f from src_port into buf: Ethernet
 * (dst_mac <- src_mac, IPv4), IPv4 (ip_id, TTL 64, DF, checksum), UDP
 * (src_port -> dst_port, checksum), the request (tkt_build_request).
 * Returns PG_REQ_FRAME_LEN, or -1 when cap is too small (buf untouched). */
int pg_build_request(void *buf, size_t cap, const struct pg_addrs *a,
		     uint16_t src_port, uint16_t ip_id,
		     const struct tkt_request_fields *f);

/* Parses a received frame of len bytes (Ethernet padding after the IP
 * packet allowed) as the door's reply to a: to our MAC, IPv4 without
 * options and not fragmented, a valid header checksum, from dst_ip to
 * src_ip, UDP from dst_port with length 8 + 32 and a valid (or absent)
 * checksum, and a payload tkt_parse_reply accepts. Fills *out and
 * *src_port (our port it answers, may be NULL) only on PG_RX_OK. */
enum pg_rx_err pg_parse_reply(const void *frame, size_t len,
			      const struct pg_addrs *a,
			      struct tkt_reply_fields *out,
			      uint16_t *src_port);

/* The frame the door would send back for the request frame req (what
 * bench/xdp_trivial.bpf.c does): MACs, addresses and ports swapped, the
 * payload replaced by r, checksums computed. Writes PG_REPLY_FRAME_LEN
 * bytes into out (for the tests and the fuzzer's seeds). Returns its
 * length, or -1 when req is not a request frame or cap is too small. */
int pg_reply_for(void *out, size_t cap, const void *req, size_t req_len,
		 const struct tkt_reply_fields *r);

/* The Internet checksum of len bytes plus a starting sum (host order
 * partial sum of 16-bit big-endian words), folded and complemented. */
uint16_t pg_csum(const void *data, size_t len, uint32_t sum);

const char *pg_rx_err_name(enum pg_rx_err e);

/* "aa:bb:cc:dd:ee:ff" into mac[6]: 0, or -1. */
int pg_parse_mac(const char *text, uint8_t mac[6]);

#endif
