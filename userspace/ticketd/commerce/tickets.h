/* Signed tickets (docs/tickets.md): one per seat of a CONFIRMED order,
 * derived on demand from (event, seat, order, serial) and signed with the
 * node's Ed25519 key, so nothing is written when an order is confirmed and
 * a scanner verifies a ticket offline with the public key alone.
 *
 *   v1.<event>.<seat>.<order>.<serial>.<sig>
 *
 * event, seat and serial are decimal without leading zeros, order is the
 * order id ([A-Za-z0-9_-], 1..40), sig is the 64-byte Ed25519 signature of
 * everything before the last '.', in base64url without padding (86 chars).
 * Ed25519 is deterministic: the same ticket text every time it is asked.
 *
 * The parser and the QR encoders need no daemon (unit tests, fuzz/). */
#ifndef TICKETD_TICKETS_H
#define TICKETD_TICKETS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TICKET_SIG_LEN 64
#define TICKET_PK_LEN 32
#define TICKET_SEED_LEN 32
#define TICKET_ORDER_MAX 40
#define TICKET_SIG_B64_LEN 86
/* "v1." + 3 x 10 digits + 40 + 4 dots + 86 + NUL, rounded up */
#define TICKET_TEXT_MAX 192
#define TICKET_SCANNER_KEY_HEX 64

struct ticket {
	uint32_t event_id;
	uint32_t seat_id;
	uint32_t serial; /* 1-based place of the seat in its order */
	char order_id[TICKET_ORDER_MAX + 1];
	uint8_t sig[TICKET_SIG_LEN];
	size_t signed_len; /* bytes of the text the signature covers */
};

enum ticket_check {
	TICKET_OK = 0,
	TICKET_MALFORMED = -1, /* not v1.<event>.<seat>.<order>.<serial>.<sig> */
	TICKET_BAD_SIGNATURE = -2, /* well formed, not signed by this key */
};

/* The node's signing key pair. */
struct ticket_keys {
	uint8_t pk[TICKET_PK_LEN];
	uint8_t sk[64]; /* libsodium's secret key: seed and public key */
};

/* sodium_init; 0 or -EIO. Safe to call more than once, from any thread. */
int tickets_crypto_init(void);

/* The key pair of a 32-byte seed (deterministic). 0 or -EIO. */
int ticket_keys_from_seed(struct ticket_keys *k, const uint8_t seed[TICKET_SEED_LEN]);

/* Writes the signed ticket text for (event, seat, order, serial) into out
 * (TICKET_TEXT_MAX bytes is enough); returns its length, or -EINVAL for an
 * order id outside the alphabet or too long, -ENOSPC for a short out. */
int ticket_sign(const struct ticket_keys *k, uint32_t event_id, uint32_t seat_id,
		const char *order_id, uint32_t serial, char *out, size_t cap);

/* Parses text (len bytes, not necessarily NUL-terminated) strictly: the
 * one canonical spelling only. TICKET_OK with *t filled, or
 * TICKET_MALFORMED. Does not check the signature. */
enum ticket_check ticket_parse(const char *text, size_t len, struct ticket *t);

/* ticket_parse, then the signature against pk over the signed prefix. */
enum ticket_check ticket_verify(const uint8_t pk[TICKET_PK_LEN], const char *text,
				size_t len, struct ticket *t);

/* base64url without padding of the public key (44 bytes with the NUL). */
void ticket_pk_b64(const uint8_t pk[TICKET_PK_LEN], char out[44]);

/* The QR code of text (error correction M, 8-bit mode) as a 1-bit
 * grayscale PNG, `scale` pixels per module and a 4-module quiet zone.
 * *out is malloc'd. 0, -EINVAL (text too long for a QR code), -ENOMEM or
 * -EIO. */
int ticket_qr_png(const char *text, int scale, uint8_t **out, size_t *len);

/* The same QR code as an SVG document (one path, viewBox in modules).
 * *out is malloc'd and NUL-terminated. 0, -EINVAL or -ENOMEM. */
int ticket_qr_svg(const char *text, char **out, size_t *len);

/* What ticketd keeps for tickets: the signing key pair (from
 * <state_dir>/ticket_sign.key, a 32-byte seed as 64 hex digits, created
 * 0600 when missing) and the scanners' key (<state_dir>/scanner.key, 64
 * hex digits, presented as "Authorization: Bearer <hex>"). Read-only
 * after ticket_service_open, shared by the HTTP threads without a lock. */
struct ticket_service {
	struct ticket_keys keys;
	char pk_b64[44];
	char scanner_key[TICKET_SCANNER_KEY_HEX + 1];
};

int ticket_service_open(struct ticket_service **out, const char *state_dir, char *err,
			size_t errlen);
void ticket_service_close(struct ticket_service *ts);

/* Is header (an Authorization value) "Bearer <scanner key>"? Constant time
 * in the key. */
bool ticket_service_scanner_ok(const struct ticket_service *ts, const char *header);

/* Is s a usable scanner id: 1..64 of [A-Za-z0-9_.:-]? */
bool ticket_scanner_id_ok(const char *s);

#endif
