/* Packet and request builders for the edge tests, plus an independent
 * checksum (bytewise, big-endian RFC 1071) to verify what the XDP program
 * computes its own way (native 16-bit words). Header-only: each test is one
 * file. */
#ifndef TICKET_TEST_PACKETS_H
#define TICKET_TEST_PACKETS_H

#include <arpa/inet.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "bpf/session_token.h"
#include "bpf/ticket_maps.h"
#include "bpf/ticket_wire.h"

#define PKT_ETH_LEN 14
#define PKT_IP4_LEN 20
#define PKT_IP6_LEN 40
#define PKT_UDP_LEN 8

static const uint8_t pkt_mac_client[6] = {0x02, 0, 0, 0, 0, 0x01};
static const uint8_t pkt_mac_server[6] = {0x02, 0, 0, 0, 0, 0x02};
static const uint8_t pkt_ip4_client[4] = {10, 78, 0, 1};
static const uint8_t pkt_ip4_server[4] = {10, 78, 0, 2};
static const uint8_t pkt_ip6_client[16] = {0xfd, 0x78, [15] = 1};
static const uint8_t pkt_ip6_server[16] = {0xfd, 0x78, [15] = 2};

static inline uint64_t pkt_mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static inline uint64_t pkt_real_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static inline void pkt_req(struct tkt_req *r, uint8_t op, uint32_t req_id,
			   uint32_t event, uint32_t seat, const uint8_t tok[16],
			   uint16_t secs)
{
	memset(r, 0, sizeof(*r));
	r->magic = htons(TKT_MAGIC);
	r->version = TKT_VERSION;
	r->op = op;
	r->req_id = htonl(req_id);
	r->event_id = htonl(event);
	r->seat_id = htonl(seat);
	memcpy(r->token, tok, 16);
	r->hold_secs = htons(secs);
}

/* A version 2 request: the session id instead of the token, and the MAC
 * of bytes 0..31 under the whole token (bpf/session_token.h). */
static inline void pkt_req_v2(struct tkt_req *r, uint8_t op, uint32_t req_id,
			      uint32_t event, uint32_t seat,
			      const uint8_t tok[16], uint16_t secs)
{
	struct tkt_req_v2 *v = (struct tkt_req_v2 *)r;
	uint64_t mac;
	int i;

	memset(v, 0, sizeof(*v));
	v->magic = htons(TKT_MAGIC);
	v->version = TKT_VERSION_2;
	v->op = op;
	v->req_id = htonl(req_id);
	v->event_id = htonl(event);
	v->seat_id = htonl(seat);
	memcpy(v->session_id, tok, TKT_SESSION_ID_LEN);
	v->hold_secs = htons(secs);
	mac = tkt_v2_mac(tok, (const uint8_t *)v);
	for (i = 0; i < 8; i++)
		v->mac[i] = (uint8_t)(mac >> (8 * i));
}

/* RFC 1071 over bytes taken as big-endian pairs; returns the folded sum
 * (not complemented). */
static inline uint32_t pkt_sum(const uint8_t *p, size_t n, uint32_t sum)
{
	size_t i;

	for (i = 0; i + 1 < n; i += 2)
		sum += (uint32_t)p[i] << 8 | p[i + 1];
	if (n & 1)
		sum += (uint32_t)p[n - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return sum;
}

/* UDP checksum over pseudo-header + UDP header + payload at udp (len
 * bytes); addresses alen (4 or 16) bytes each. Returns the value to store
 * (host order, 0 mapped to 0xffff). */
static inline uint16_t pkt_udp_csum(const uint8_t *src, const uint8_t *dst,
				    int alen, const uint8_t *udp, size_t len)
{
	uint8_t ph[4] = {0, IPPROTO_UDP, (uint8_t)(len >> 8), (uint8_t)len};
	uint32_t sum = 0;
	uint16_t c;

	sum = pkt_sum(src, (size_t)alen, sum);
	sum = pkt_sum(dst, (size_t)alen, sum);
	sum = pkt_sum(ph, 4, sum);
	sum = pkt_sum(udp, len, sum);
	c = (uint16_t)~sum;
	return c ? c : 0xffff;
}

/* True when the checksum stored in the UDP header verifies. */
static inline int pkt_udp_csum_ok(const uint8_t *src, const uint8_t *dst,
				  int alen, const uint8_t *udp, size_t len)
{
	uint8_t ph[4] = {0, IPPROTO_UDP, (uint8_t)(len >> 8), (uint8_t)len};
	uint32_t sum = 0;

	sum = pkt_sum(src, (size_t)alen, sum);
	sum = pkt_sum(dst, (size_t)alen, sum);
	sum = pkt_sum(ph, 4, sum);
	sum = pkt_sum(udp, len, sum);
	return sum == 0xffff;
}

static inline void pkt_eth(uint8_t *b, uint16_t proto)
{
	memcpy(b, pkt_mac_server, 6);
	memcpy(b + 6, pkt_mac_client, 6);
	b[12] = (uint8_t)(proto >> 8);
	b[13] = (uint8_t)proto;
}

/* Ethernet + IPv4 + UDP carrying payload; returns the frame length. */
static inline size_t pkt_udp4(uint8_t *b, uint16_t sport, uint16_t dport,
			      const void *payload, size_t plen)
{
	uint8_t *ip = b + PKT_ETH_LEN, *udp = ip + PKT_IP4_LEN;
	size_t ulen = PKT_UDP_LEN + plen, tot = PKT_IP4_LEN + ulen;
	uint16_t c;

	pkt_eth(b, 0x0800);
	memset(ip, 0, PKT_IP4_LEN);
	ip[0] = 0x45;
	ip[2] = (uint8_t)(tot >> 8);
	ip[3] = (uint8_t)tot;
	ip[4] = 0x12;
	ip[5] = 0x34;
	ip[8] = 64;
	ip[9] = IPPROTO_UDP;
	memcpy(ip + 12, pkt_ip4_client, 4);
	memcpy(ip + 16, pkt_ip4_server, 4);
	c = (uint16_t)~pkt_sum(ip, PKT_IP4_LEN, 0);
	ip[10] = (uint8_t)(c >> 8);
	ip[11] = (uint8_t)c;
	udp[0] = (uint8_t)(sport >> 8);
	udp[1] = (uint8_t)sport;
	udp[2] = (uint8_t)(dport >> 8);
	udp[3] = (uint8_t)dport;
	udp[4] = (uint8_t)(ulen >> 8);
	udp[5] = (uint8_t)ulen;
	udp[6] = udp[7] = 0;
	memcpy(udp + PKT_UDP_LEN, payload, plen);
	c = pkt_udp_csum(ip + 12, ip + 16, 4, udp, ulen);
	udp[6] = (uint8_t)(c >> 8);
	udp[7] = (uint8_t)c;
	return PKT_ETH_LEN + tot;
}

/* Ethernet + IPv6 + UDP carrying payload; returns the frame length. */
static inline size_t pkt_udp6(uint8_t *b, uint16_t sport, uint16_t dport,
			      const void *payload, size_t plen)
{
	uint8_t *ip = b + PKT_ETH_LEN, *udp = ip + PKT_IP6_LEN;
	size_t ulen = PKT_UDP_LEN + plen;
	uint16_t c;

	pkt_eth(b, 0x86dd);
	memset(ip, 0, PKT_IP6_LEN);
	ip[0] = 0x60;
	ip[4] = (uint8_t)(ulen >> 8);
	ip[5] = (uint8_t)ulen;
	ip[6] = IPPROTO_UDP;
	ip[7] = 64;
	memcpy(ip + 8, pkt_ip6_client, 16);
	memcpy(ip + 24, pkt_ip6_server, 16);
	udp[0] = (uint8_t)(sport >> 8);
	udp[1] = (uint8_t)sport;
	udp[2] = (uint8_t)(dport >> 8);
	udp[3] = (uint8_t)dport;
	udp[4] = (uint8_t)(ulen >> 8);
	udp[5] = (uint8_t)ulen;
	udp[6] = udp[7] = 0;
	memcpy(udp + PKT_UDP_LEN, payload, plen);
	c = pkt_udp_csum(ip + 8, ip + 24, 16, udp, ulen);
	udp[6] = (uint8_t)(c >> 8);
	udp[7] = (uint8_t)c;
	return PKT_ETH_LEN + PKT_IP6_LEN + ulen;
}

static inline uint32_t pkt_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static inline uint64_t pkt_be64(const uint8_t *p)
{
	return (uint64_t)pkt_be32(p) << 32 | pkt_be32(p + 4);
}

#endif /* TICKET_TEST_PACKETS_H */
