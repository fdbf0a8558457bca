/* Signed tickets: text format, Ed25519 (libsodium), QR codes (libqrencode,
 * libpng), and the keys ticketd keeps for them. See tickets.h. */
#include "userspace/ticketd/commerce/tickets.h"

#include <errno.h>
#include <png.h>
#include <qrencode.h>
#include <setjmp.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "userspace/lib/hex.h"
#include "userspace/ticketd/room/room_ticket.h"

#define QR_QUIET 4 /* modules of white border the QR spec asks for */

int tickets_crypto_init(void)
{
	return sodium_init() < 0 ? -EIO : 0;
}

int ticket_keys_from_seed(struct ticket_keys *k, const uint8_t seed[TICKET_SEED_LEN])
{
	if (tickets_crypto_init())
		return -EIO;
	return crypto_sign_seed_keypair(k->pk, k->sk, seed) ? -EIO : 0;
}

static bool order_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '-';
}

int ticket_sign(const struct ticket_keys *k, uint32_t event_id, uint32_t seat_id,
		const char *order_id, uint32_t serial, char *out, size_t cap)
{
	uint8_t sig[TICKET_SIG_LEN];
	size_t olen = strlen(order_id);
	int n;

	if (olen == 0 || olen > TICKET_ORDER_MAX || serial == 0)
		return -EINVAL;
	for (size_t i = 0; i < olen; i++)
		if (!order_char(order_id[i]))
			return -EINVAL;
	n = snprintf(out, cap, "v1.%u.%u.%s.%u", event_id, seat_id, order_id, serial);
	if (n < 0 || (size_t)n + 1 + TICKET_SIG_B64_LEN + 1 > cap)
		return -ENOSPC;
	if (crypto_sign_detached(sig, NULL, (const uint8_t *)out, (size_t)n, k->sk))
		return -EIO;
	out[n] = '.';
	sodium_bin2base64(out + n + 1, cap - (size_t)n - 1, sig, sizeof(sig),
			  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	return n + 1 + TICKET_SIG_B64_LEN;
}

/* A canonical decimal u32 at *p (no sign, no leading zero), up to end;
 * advances *p. */
static bool parse_u32(const char **p, const char *end, uint32_t *out)
{
	const char *s = *p;
	uint64_t v = 0;
	int n = 0;

	while (s < end && *s >= '0' && *s <= '9' && n < 11) {
		v = v * 10 + (uint64_t)(*s - '0');
		s++;
		n++;
	}
	if (n == 0 || n > 10 || v > UINT32_MAX || (n > 1 && **p == '0'))
		return false;
	*out = (uint32_t)v;
	*p = s;
	return true;
}

static bool expect(const char **p, const char *end, char c)
{
	if (*p >= end || **p != c)
		return false;
	(*p)++;
	return true;
}

enum ticket_check ticket_parse(const char *text, size_t len, struct ticket *t)
{
	const char *p = text, *end = text + len, *o, *b64_end = NULL;
	size_t olen = 0, siglen = 0;

	memset(t, 0, sizeof(*t));
	if (len < 3 || memcmp(text, "v1.", 3))
		return TICKET_MALFORMED;
	p += 3;
	if (!parse_u32(&p, end, &t->event_id) || !expect(&p, end, '.') ||
	    !parse_u32(&p, end, &t->seat_id) || !expect(&p, end, '.'))
		return TICKET_MALFORMED;
	o = p;
	while (p < end && order_char(*p) && olen <= TICKET_ORDER_MAX) {
		p++;
		olen++;
	}
	if (olen == 0 || olen > TICKET_ORDER_MAX || !expect(&p, end, '.'))
		return TICKET_MALFORMED;
	memcpy(t->order_id, o, olen);
	t->order_id[olen] = '\0';
	if (!parse_u32(&p, end, &t->serial) || t->serial == 0)
		return TICKET_MALFORMED;
	t->signed_len = (size_t)(p - text);
	if (!expect(&p, end, '.') || (size_t)(end - p) != TICKET_SIG_B64_LEN)
		return TICKET_MALFORMED;
	/* The alphabet first: libsodium's decoder takes some bytes >= 0x80
	 * for '_' (found by fuzz/fuzz_ticket.c), so a ticket had a second
	 * spelling. */
	for (const char *q = p; q < end; q++)
		if (!order_char(*q))
			return TICKET_MALFORMED;
	/* Strict: no ignored characters, no padding, zero trailing bits. */
	if (sodium_base642bin(t->sig, sizeof(t->sig), p, TICKET_SIG_B64_LEN, NULL, &siglen,
			      &b64_end, sodium_base64_VARIANT_URLSAFE_NO_PADDING) ||
	    siglen != TICKET_SIG_LEN || b64_end != end)
		return TICKET_MALFORMED;
	return TICKET_OK;
}

enum ticket_check ticket_verify(const uint8_t pk[TICKET_PK_LEN], const char *text,
				size_t len, struct ticket *t)
{
	enum ticket_check r = ticket_parse(text, len, t);

	if (r != TICKET_OK)
		return r;
	if (tickets_crypto_init() ||
	    crypto_sign_verify_detached(t->sig, (const uint8_t *)text, t->signed_len, pk))
		return TICKET_BAD_SIGNATURE;
	return TICKET_OK;
}

void ticket_pk_b64(const uint8_t pk[TICKET_PK_LEN], char out[44])
{
	sodium_bin2base64(out, 44, pk, TICKET_PK_LEN, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

/* ---- QR codes ---- */

static QRcode *qr_encode(const char *text)
{
	if (!text[0])
		return NULL;
	return QRcode_encodeString8bit(text, 0, QR_ECLEVEL_M);
}

static bool qr_dark(const QRcode *q, int x, int y)
{
	if (x < 0 || y < 0 || x >= q->width || y >= q->width)
		return false;
	return q->data[y * q->width + x] & 1;
}

struct png_buf {
	uint8_t *data;
	size_t len, cap;
	bool oom;
};

static void png_buf_write(png_structp png, png_bytep data, png_size_t n)
{
	struct png_buf *b = png_get_io_ptr(png);

	if (b->oom)
		return;
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 4096;
		uint8_t *p;

		while (cap < b->len + n)
			cap *= 2;
		p = realloc(b->data, cap);
		if (!p) {
			b->oom = true;
			return;
		}
		b->data = p;
		b->cap = cap;
	}
	memcpy(b->data + b->len, data, n);
	b->len += n;
}

static void png_buf_flush(png_structp png)
{
	(void)png;
}

/* libpng reports errors by longjmp; everything it can leave behind is
 * freed by the caller (volatile: it survives the jump). */
static int write_png(const QRcode *q, int scale, struct png_buf *b, uint8_t *row)
{
	png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
	png_infop info = png ? png_create_info_struct(png) : NULL;
	int side = (q->width + 2 * QR_QUIET) * scale, rc = -EIO;

	if (!png || !info)
		goto out;
	if (setjmp(png_jmpbuf(png)))
		goto out;
	png_set_write_fn(png, b, png_buf_write, png_buf_flush);
	png_set_IHDR(png, info, (png_uint_32)side, (png_uint_32)side, 1, PNG_COLOR_TYPE_GRAY,
		     PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
	png_write_info(png, info);
	for (int y = 0; y < side; y++) {
		memset(row, 0xff, (size_t)(side + 7) / 8);
		for (int x = 0; x < side; x++)
			if (qr_dark(q, x / scale - QR_QUIET, y / scale - QR_QUIET))
				row[x / 8] &= (uint8_t)~(0x80u >> (x % 8));
		png_write_row(png, row);
	}
	png_write_end(png, NULL);
	rc = b->oom ? -ENOMEM : 0;
out:
	png_destroy_write_struct(png ? &png : NULL, info ? &info : NULL);
	return rc;
}

int ticket_qr_png(const char *text, int scale, uint8_t **out, size_t *len)
{
	struct png_buf b = {0};
	QRcode *q;
	uint8_t *row;
	int rc;

	if (scale < 1 || scale > 32)
		return -EINVAL;
	q = qr_encode(text);
	if (!q)
		return errno == ENOMEM ? -ENOMEM : -EINVAL;
	row = malloc((size_t)((q->width + 2 * QR_QUIET) * scale + 7) / 8);
	rc = row ? write_png(q, scale, &b, row) : -ENOMEM;
	free(row);
	QRcode_free(q);
	if (rc) {
		free(b.data);
		return rc;
	}
	*out = b.data;
	*len = b.len;
	return 0;
}

int ticket_qr_svg(const char *text, char **out, size_t *len)
{
	QRcode *q = qr_encode(text);
	size_t cap, n = 0;
	int side;
	char *s;

	if (!q)
		return errno == ENOMEM ? -ENOMEM : -EINVAL;
	side = q->width + 2 * QR_QUIET;
	/* each dark module is at most "M123 123h1v1h-1z" (16 bytes) */
	cap = 512 + (size_t)q->width * (size_t)q->width * 16;
	s = malloc(cap);
	if (!s) {
		QRcode_free(q);
		return -ENOMEM;
	}
	n += (size_t)snprintf(s + n, cap - n,
			      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
			      "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %d %d\""
			      " width=\"%d\" height=\"%d\" shape-rendering=\"crispEdges\">"
			      "<rect width=\"%d\" height=\"%d\" fill=\"#fff\"/><path fill=\"#000\" d=\"",
			      side, side, side * 8, side * 8, side, side);
	for (int y = 0; y < q->width; y++)
		for (int x = 0; x < q->width; x++)
			if (qr_dark(q, x, y))
				n += (size_t)snprintf(s + n, cap - n, "M%d %dh1v1h-1z",
						      x + QR_QUIET, y + QR_QUIET);
	n += (size_t)snprintf(s + n, cap - n, "\"/></svg>\n");
	QRcode_free(q);
	*out = s;
	*len = n;
	return 0;
}

/* ---- the daemon's keys ---- */

int ticket_service_open(struct ticket_service **out, const char *state_dir, char *err,
			size_t errlen)
{
	struct ticket_service *ts;
	uint8_t seed[TICKET_SEED_LEN], scanner[32];
	char path[4096];
	int rc;

	if (tickets_crypto_init()) {
		snprintf(err, errlen, "libsodium did not initialise");
		return -EIO;
	}
	ts = sodium_malloc(sizeof(*ts));
	if (!ts) {
		snprintf(err, errlen, "out of memory for the ticket keys");
		return -ENOMEM;
	}
	memset(ts, 0, sizeof(*ts));
	snprintf(path, sizeof(path), "%s/ticket_sign.key", state_dir);
	rc = room_secret_load(path, seed, NULL, err, errlen);
	if (!rc && ticket_keys_from_seed(&ts->keys, seed)) {
		snprintf(err, errlen, "%s: cannot derive the key pair", path);
		rc = -EIO;
	}
	sodium_memzero(seed, sizeof(seed));
	if (!rc) {
		snprintf(path, sizeof(path), "%s/scanner.key", state_dir);
		rc = room_secret_load(path, scanner, ts->scanner_key, err, errlen);
		sodium_memzero(scanner, sizeof(scanner));
	}
	if (rc) {
		sodium_free(ts);
		return rc;
	}
	ticket_pk_b64(ts->keys.pk, ts->pk_b64);
	*out = ts;
	return 0;
}

void ticket_service_close(struct ticket_service *ts)
{
	if (ts)
		sodium_free(ts); /* zeroes it */
}

bool ticket_service_scanner_ok(const struct ticket_service *ts, const char *header)
{
	if (!header || strncmp(header, "Bearer ", 7))
		return false;
	header += 7;
	if (strlen(header) != TICKET_SCANNER_KEY_HEX)
		return false;
	return sodium_memcmp(header, ts->scanner_key, TICKET_SCANNER_KEY_HEX) == 0;
}

bool ticket_scanner_id_ok(const char *s)
{
	size_t n = 0;

	for (; s[n]; n++)
		if (!order_char(s[n]) && s[n] != '.' && s[n] != ':')
			return false;
	return n >= 1 && n <= 64;
}
