/* Frames of bench/pkt_gen (see pkt_gen_frame.h). Byte offsets are written
 * out rather than taken from the netinet headers' structs so the layout the tests
 * check is the one on this page. */
#include "bench/pkt_gen_frame.h"

#include <stdio.h>
#include <string.h>

/* offsets in the frame */
#define OFF_ETH_TYPE 12
#define OFF_IP PG_ETH_LEN
#define OFF_UDP (PG_ETH_LEN + PG_IP_LEN)
#define OFF_PAYLOAD PG_HDRS_LEN

#define ETH_P_IPV4 0x0800
#define IPPROTO_UDP_ 17

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static uint32_t sum16(const uint8_t *p, size_t len, uint32_t sum)
{
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		sum += get16(p + i);
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	return sum;
}

static uint16_t fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

uint16_t pg_csum(const void *data, size_t len, uint32_t sum)
{
	return fold(sum16(data, len, sum));
}

/* The pseudo header of UDP over IPv4, as a partial sum. */
static uint32_t pseudo_sum(uint32_t src, uint32_t dst, uint16_t udp_len)
{
	return (src >> 16) + (src & 0xffff) + (dst >> 16) + (dst & 0xffff) +
	       IPPROTO_UDP_ + udp_len;
}

/* IPv4 + UDP headers for a payload of plen bytes already at
 * frame + OFF_PAYLOAD; computes both checksums. */
static void put_ip_udp(uint8_t *b, uint32_t src, uint32_t dst, uint16_t sport,
		       uint16_t dport, uint16_t ip_id, size_t plen)
{
	uint8_t *ip = b + OFF_IP, *udp = b + OFF_UDP;
	uint16_t ulen = (uint16_t)(PG_UDP_LEN + plen), c;

	ip[0] = 0x45; /* version 4, 5 words */
	ip[1] = 0;
	put16(ip + 2, (uint16_t)(PG_IP_LEN + ulen));
	put16(ip + 4, ip_id);
	put16(ip + 6, 0x4000); /* DF, no fragment */
	ip[8] = 64;
	ip[9] = IPPROTO_UDP_;
	put16(ip + 10, 0);
	put32(ip + 12, src);
	put32(ip + 16, dst);
	put16(ip + 10, pg_csum(ip, PG_IP_LEN, 0));

	put16(udp, sport);
	put16(udp + 2, dport);
	put16(udp + 4, ulen);
	put16(udp + 6, 0);
	c = pg_csum(udp, ulen, pseudo_sum(src, dst, ulen));
	put16(udp + 6, c ? c : 0xffff); /* 0 means "no checksum" */
}

int pg_build_request(void *buf, size_t cap, const struct pg_addrs *a,
		     uint16_t src_port, uint16_t ip_id,
		     const struct tkt_request_fields *f)
{
	uint8_t *b = buf;

	if (cap < PG_REQ_FRAME_LEN)
		return -1;
	memcpy(b, a->dst_mac, 6);
	memcpy(b + 6, a->src_mac, 6);
	put16(b + OFF_ETH_TYPE, ETH_P_IPV4);
	if (tkt_build_request(b + OFF_PAYLOAD, TKT_REQ_LEN, f) != TKT_REQ_LEN)
		return -1;
	put_ip_udp(b, a->src_ip, a->dst_ip, src_port, a->dst_port, ip_id,
		   TKT_REQ_LEN);
	return PG_REQ_FRAME_LEN;
}

enum pg_rx_err pg_parse_reply(const void *frame, size_t len,
			      const struct pg_addrs *a,
			      struct tkt_reply_fields *out,
			      uint16_t *src_port)
{
	const uint8_t *b = frame, *ip, *udp;
	struct tkt_reply_fields r;
	uint16_t tot, ulen;

	if (len < PG_ETH_LEN + PG_IP_LEN)
		return len < PG_ETH_LEN || get16(b + OFF_ETH_TYPE) != ETH_P_IPV4
			       ? PG_RX_FOREIGN
			       : PG_RX_SHORT;
	if (get16(b + OFF_ETH_TYPE) != ETH_P_IPV4 ||
	    memcmp(b, a->src_mac, 6) != 0)
		return PG_RX_FOREIGN;
	ip = b + OFF_IP;
	if (ip[0] >> 4 != 4 || ip[9] != IPPROTO_UDP_ ||
	    get32(ip + 12) != a->dst_ip || get32(ip + 16) != a->src_ip)
		return PG_RX_FOREIGN;
	/* from here on the frame claims to be our reply */
	if ((ip[0] & 0x0f) != 5 || (get16(ip + 6) & 0x3fff) != 0 ||
	    pg_csum(ip, PG_IP_LEN, 0) != 0)
		return PG_RX_BAD_IP;
	tot = get16(ip + 2);
	if (tot < PG_IP_LEN + PG_UDP_LEN)
		return PG_RX_BAD_IP;
	if ((size_t)tot > len - PG_ETH_LEN)
		return PG_RX_SHORT;
	udp = b + OFF_UDP;
	if (get16(udp) != a->dst_port)
		return PG_RX_FOREIGN;
	ulen = get16(udp + 4);
	if (ulen != tot - PG_IP_LEN)
		return PG_RX_BAD_UDP;
	if (get16(udp + 6) != 0 &&
	    pg_csum(udp, ulen, pseudo_sum(a->dst_ip, a->src_ip, ulen)) != 0)
		return PG_RX_BAD_UDP;
	if (tkt_parse_reply(b + OFF_PAYLOAD, (size_t)ulen - PG_UDP_LEN, &r) !=
	    TKT_REPLY_VALID)
		return PG_RX_BAD_REPLY;
	if (out)
		*out = r;
	if (src_port)
		*src_port = get16(udp + 2);
	return PG_RX_OK;
}

int pg_reply_for(void *out, size_t cap, const void *req, size_t req_len,
		 const struct tkt_reply_fields *r)
{
	const uint8_t *q = req;
	uint8_t *b = out, *p;

	if (cap < PG_REPLY_FRAME_LEN || req_len < PG_REQ_FRAME_LEN ||
	    get16(q + OFF_ETH_TYPE) != ETH_P_IPV4 || q[OFF_IP] != 0x45 ||
	    q[OFF_IP + 9] != IPPROTO_UDP_)
		return -1;
	memcpy(b, q + 6, 6);
	memcpy(b + 6, q, 6);
	put16(b + OFF_ETH_TYPE, ETH_P_IPV4);
	p = b + OFF_PAYLOAD;
	put16(p, TKT_MAGIC);
	p[2] = r->version;
	p[3] = (uint8_t)(r->op | TKT_REPLY_OP_BIT);
	put32(p + 4, r->req_id);
	put32(p + 8, r->event_id);
	put32(p + 12, r->seat_id);
	p[16] = r->status;
	p[17] = p[18] = p[19] = 0;
	put32(p + 20, r->counter);
	put32(p + 24, (uint32_t)(r->expiry_ms >> 32));
	put32(p + 28, (uint32_t)r->expiry_ms);
	put_ip_udp(b, get32(q + OFF_IP + 16), get32(q + OFF_IP + 12),
		   get16(q + OFF_UDP + 2), get16(q + OFF_UDP), 0,
		   TKT_REPLY_LEN);
	return PG_REPLY_FRAME_LEN;
}

const char *pg_rx_err_name(enum pg_rx_err e)
{
	static const char *const names[PG_RX_ERR_COUNT] = {
		[PG_RX_OK] = "ok",
		[PG_RX_FOREIGN] = "foreign",
		[PG_RX_SHORT] = "short",
		[PG_RX_BAD_IP] = "bad_ip",
		[PG_RX_BAD_UDP] = "bad_udp",
		[PG_RX_BAD_REPLY] = "bad_reply",
	};

	return (unsigned)e < PG_RX_ERR_COUNT ? names[e] : "unknown";
}

int pg_parse_mac(const char *text, uint8_t mac[6])
{
	unsigned int v[6];
	char end;
	int i;

	if (!text || sscanf(text, "%2x:%2x:%2x:%2x:%2x:%2x%c", &v[0], &v[1],
			    &v[2], &v[3], &v[4], &v[5], &end) != 6)
		return -1;
	for (i = 0; i < 6; i++)
		mac[i] = (uint8_t)v[i];
	return 0;
}
