/* Signed tickets (userspace/ticketd/commerce/tickets.c): the text format
 * and its one canonical spelling, Ed25519 sign/verify, tampering and
 * foreign keys refused, the QR code as PNG (decoded back, module by
 * module) and SVG, and the keys kept in the state directory. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <png.h>
#include <qrencode.h>

#include "userspace/ticketd/commerce/checkins.h"
#include "userspace/ticketd/commerce/tickets.h"

static struct ticket_keys keys, other;

static int setup(void **state)
{
	uint8_t seed[TICKET_SEED_LEN];

	(void)state;
	memset(seed, 7, sizeof(seed));
	if (ticket_keys_from_seed(&keys, seed))
		return -1;
	memset(seed, 8, sizeof(seed));
	return ticket_keys_from_seed(&other, seed);
}

static int sign(char *out, uint32_t ev, uint32_t seat, const char *order, uint32_t serial)
{
	return ticket_sign(&keys, ev, seat, order, serial, out, TICKET_TEXT_MAX);
}

static void signed_ticket_verifies_and_parses_back(void **state)
{
	char text[TICKET_TEXT_MAX];
	struct ticket t;
	int n;

	(void)state;
	n = sign(text, 3, 42, "ord_0123456789abcdef01234567", 2);
	assert_true(n > 0);
	assert_int_equal((size_t)n, strlen(text));
	assert_memory_equal(text, "v1.3.42.ord_0123456789abcdef01234567.2.", 39);
	assert_int_equal(ticket_verify(keys.pk, text, (size_t)n, &t), TICKET_OK);
	assert_int_equal(t.event_id, 3);
	assert_int_equal(t.seat_id, 42);
	assert_int_equal(t.serial, 2);
	assert_string_equal(t.order_id, "ord_0123456789abcdef01234567");
	assert_int_equal(t.signed_len, 38);
}

static void same_ticket_signs_to_the_same_text(void **state)
{
	char a[TICKET_TEXT_MAX], b[TICKET_TEXT_MAX];

	(void)state;
	assert_true(sign(a, 1, 0, "ord_x", 1) > 0);
	assert_true(sign(b, 1, 0, "ord_x", 1) > 0);
	assert_string_equal(a, b);
	assert_true(sign(b, 1, 0, "ord_x", 2) > 0);
	assert_string_not_equal(a, b);
}

static void any_changed_field_breaks_the_signature(void **state)
{
	static const struct {
		const char *from, *to;
	} edits[] = {
		{"v1.1.", "v1.2."}, {".5.", ".6."}, {".ord_a.", ".ord_b."}, {".ord_a.1.", ".ord_a.3."},
	};
	char text[TICKET_TEXT_MAX], forged[TICKET_TEXT_MAX + 8];
	struct ticket t;

	(void)state;
	assert_true(sign(text, 1, 5, "ord_a", 1) > 0);
	for (size_t i = 0; i < sizeof(edits) / sizeof(edits[0]); i++) {
		const char *at = strstr(text, edits[i].from);

		assert_non_null(at);
		snprintf(forged, sizeof(forged), "%.*s%s%s", (int)(at - text), text, edits[i].to,
			 at + strlen(edits[i].from));
		assert_int_equal(ticket_verify(keys.pk, forged, strlen(forged), &t),
				 TICKET_BAD_SIGNATURE);
	}
	/* a flipped signature character */
	snprintf(forged, sizeof(forged), "%s", text);
	{
		char *c = &forged[strlen(forged) - 10];

		*c = *c == 'A' ? 'B' : 'A';
	}
	assert_int_equal(ticket_verify(keys.pk, forged, strlen(forged), &t), TICKET_BAD_SIGNATURE);
}

static void another_nodes_key_does_not_verify(void **state)
{
	char text[TICKET_TEXT_MAX];
	struct ticket t;

	(void)state;
	assert_true(ticket_sign(&other, 1, 5, "ord_a", 1, text, sizeof(text)) > 0);
	assert_int_equal(ticket_verify(keys.pk, text, strlen(text), &t), TICKET_BAD_SIGNATURE);
	assert_int_equal(ticket_verify(other.pk, text, strlen(text), &t), TICKET_OK);
}

static void only_the_canonical_spelling_parses(void **state)
{
	char good[TICKET_TEXT_MAX], bad[TICKET_TEXT_MAX + 8];
	const char *sig;
	struct ticket t;
	/* prefixes before the signature; each is malformed */
	static const char *const prefixes[] = {
		"v2.1.5.ord_a.1",     "v1.01.5.ord_a.1",  "v1.1.05.ord_a.1", "v1.1.5.ord_a.0",
		"v1.1.5.ord_a.01",    "v1.1.5..1",        "v1.1.5.ord.a.1",  "v1.-1.5.ord_a.1",
		"v1.4294967296.5.o.1", "v1.1.5.ord a.1",   "v1..5.ord_a.1",   "v1.1.5.ord_a",
		"v1.1.5.ord_a.1.1",   "V1.1.5.ord_a.1",   "v1.1.+5.ord_a.1",
		"v1.1.5.ord_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.1", /* 41 chars */
	};

	(void)state;
	assert_true(sign(good, 1, 5, "ord_a", 1) > 0);
	sig = strrchr(good, '.') + 1;
	assert_int_equal(strlen(sig), TICKET_SIG_B64_LEN);
	for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
		snprintf(bad, sizeof(bad), "%s.%s", prefixes[i], sig);
		assert_int_equal(ticket_parse(bad, strlen(bad), &t), TICKET_MALFORMED);
	}
	/* the signature part: padding, short, long, standard alphabet, trailing bits */
	snprintf(bad, sizeof(bad), "%s==", good);
	assert_int_equal(ticket_parse(bad, strlen(bad), &t), TICKET_MALFORMED);
	assert_int_equal(ticket_parse(good, strlen(good) - 1, &t), TICKET_MALFORMED);
	snprintf(bad, sizeof(bad), "%sA", good);
	assert_int_equal(ticket_parse(bad, strlen(bad), &t), TICKET_MALFORMED);
	snprintf(bad, sizeof(bad), "%s", good);
	bad[strlen(bad) - 5] = '+';
	assert_int_equal(ticket_parse(bad, strlen(bad), &t), TICKET_MALFORMED);
	snprintf(bad, sizeof(bad), "%s", good);
	/* a byte >= 0x80 in the signature (libsodium's decoder reads some as
	 * '_'; found by fuzz_ticket) */
	snprintf(bad, sizeof(bad), "%s", good);
	bad[strlen(bad) - 20] = (char)0xe2;
	assert_int_equal(ticket_parse(bad, strlen(bad), &t), TICKET_MALFORMED);
	snprintf(bad, sizeof(bad), "%s", good);
	/* the last char carries 2 data bits and 4 zero bits: 'B' sets one */
	bad[strlen(bad) - 1] = 'B';
	assert_int_equal(ticket_parse(bad, strlen(bad), &t), TICKET_MALFORMED);
	assert_int_equal(ticket_parse("", 0, &t), TICKET_MALFORMED);
	assert_int_equal(ticket_parse(good, strlen(good), &t), TICKET_OK);
	/* the largest ids still fit the text buffer */
	assert_true(ticket_sign(&keys, UINT32_MAX, UINT32_MAX,
				"ord_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", UINT32_MAX, good,
				sizeof(good)) > 0);
	assert_int_equal(ticket_verify(keys.pk, good, strlen(good), &t), TICKET_OK);
}

static void signing_refuses_bad_orders_and_short_buffers(void **state)
{
	char text[TICKET_TEXT_MAX];

	(void)state;
	assert_int_equal(sign(text, 1, 1, "", 1), -EINVAL);
	assert_int_equal(sign(text, 1, 1, "ord.a", 1), -EINVAL);
	assert_int_equal(sign(text, 1, 1, "ord_a", 0), -EINVAL);
	assert_int_equal(ticket_sign(&keys, 1, 1, "ord_a", 1, text, 60), -ENOSPC);
}

/* Reads a PNG back with libpng's simplified API: 8-bit gray pixels. */
static uint8_t *decode_png(const uint8_t *png, size_t len, int *w, int *h)
{
	png_image img;
	uint8_t *px;

	memset(&img, 0, sizeof(img));
	img.version = PNG_IMAGE_VERSION;
	if (!png_image_begin_read_from_memory(&img, png, len))
		return NULL;
	img.format = PNG_FORMAT_GRAY;
	px = malloc(PNG_IMAGE_SIZE(img));
	if (!px || !png_image_finish_read(&img, NULL, px, 0, NULL)) {
		free(px);
		return NULL;
	}
	*w = (int)img.width;
	*h = (int)img.height;
	return px;
}

static void qr_png_decodes_to_the_qr_modules(void **state)
{
	char text[TICKET_TEXT_MAX];
	uint8_t *png = NULL, *px;
	size_t len = 0;
	QRcode *q;
	int w = 0, h = 0, scale = 3;

	(void)state;
	assert_true(sign(text, 2, 17, "ord_0123456789abcdef01234567", 1) > 0);
	assert_int_equal(ticket_qr_png(text, scale, &png, &len), 0);
	assert_memory_equal(png, "\x89PNG\r\n\x1a\n", 8);
	px = decode_png(png, len, &w, &h);
	assert_non_null(px);
	q = QRcode_encodeString8bit(text, 0, QR_ECLEVEL_M);
	assert_non_null(q);
	assert_int_equal(w, (q->width + 8) * scale);
	assert_int_equal(h, w);
	for (int y = 0; y < h; y++)
		for (int x = 0; x < w; x++) {
			int mx = x / scale - 4, my = y / scale - 4;
			bool dark = mx >= 0 && my >= 0 && mx < q->width && my < q->width &&
				    (q->data[my * q->width + mx] & 1);

			assert_int_equal(px[y * w + x], dark ? 0 : 255);
		}
	QRcode_free(q);
	free(px);
	free(png);
}

static void qr_svg_is_an_svg_document(void **state)
{
	char text[TICKET_TEXT_MAX], *svg = NULL;
	size_t len = 0;

	(void)state;
	assert_true(sign(text, 2, 17, "ord_a", 1) > 0);
	assert_int_equal(ticket_qr_svg(text, &svg, &len), 0);
	assert_int_equal(len, strlen(svg));
	assert_non_null(strstr(svg, "<svg xmlns=\"http://www.w3.org/2000/svg\""));
	assert_non_null(strstr(svg, "h1v1h-1z"));
	assert_string_equal(svg + len - 7, "</svg>\n");
	free(svg);
}

static void qr_of_nothing_is_refused(void **state)
{
	uint8_t *png = NULL;
	char *svg = NULL;
	size_t len;

	(void)state;
	assert_int_equal(ticket_qr_png("", 4, &png, &len), -EINVAL);
	assert_int_equal(ticket_qr_svg("", &svg, &len), -EINVAL);
	assert_int_equal(ticket_qr_png("x", 0, &png, &len), -EINVAL);
}

static void keys_are_created_private_and_kept(void **state)
{
	char dir[] = "/tmp/test_tickets.XXXXXX", path[64], err[256] = "", hdr[80];
	struct ticket_service *a = NULL, *b = NULL;
	struct stat st;

	(void)state;
	assert_non_null(mkdtemp(dir));
	assert_int_equal(ticket_service_open(&a, dir, err, sizeof(err)), 0);
	snprintf(path, sizeof(path), "%s/ticket_sign.key", dir);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(ticket_service_open(&b, dir, err, sizeof(err)), 0);
	assert_memory_equal(a->keys.pk, b->keys.pk, TICKET_PK_LEN);
	assert_string_equal(a->scanner_key, b->scanner_key);
	assert_int_equal(strlen(a->pk_b64), 43);
	snprintf(hdr, sizeof(hdr), "Bearer %s", a->scanner_key);
	assert_true(ticket_service_scanner_ok(a, hdr));
	hdr[10] = hdr[10] == '0' ? '1' : '0';
	assert_false(ticket_service_scanner_ok(a, hdr));
	assert_false(ticket_service_scanner_ok(a, NULL));
	assert_false(ticket_service_scanner_ok(a, "Bearer "));
	ticket_service_close(a);
	ticket_service_close(b);
	/* a key others can read is refused */
	assert_int_equal(chmod(path, 0644), 0);
	assert_int_not_equal(ticket_service_open(&a, dir, err, sizeof(err)), 0);
	unlink(path);
	snprintf(path, sizeof(path), "%s/scanner.key", dir);
	unlink(path);
	rmdir(dir);
}

static void scanner_ids_are_short_and_plain(void **state)
{
	(void)state;
	assert_true(ticket_scanner_id_ok("gate-3"));
	assert_true(ticket_scanner_id_ok("door.a:1_x"));
	assert_false(ticket_scanner_id_ok(""));
	assert_false(ticket_scanner_id_ok("gate 3"));
	assert_false(ticket_scanner_id_ok("<script>"));
	assert_false(ticket_scanner_id_ok(
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")); /* 65 */
}

/* scannedAt of an offline check-in: RFC 3339 in UTC only, a real date. */
static void scan_times_are_utc_rfc3339(void **state)
{
	int64_t ms = 0;

	(void)state;
	assert_int_equal(checkins_parse_time("2026-12-06T18:00:00.100Z", &ms), 0);
	assert_int_equal(ms, 1796580000100LL);
	assert_int_equal(checkins_parse_time("2026-12-06T18:00:05Z", &ms), 0);
	assert_int_equal(ms, 1796580005000LL);
	assert_int_equal(checkins_parse_time("2026-12-06T19:00:00+01:00", &ms), -EINVAL);
	assert_int_equal(checkins_parse_time("2026-02-31T00:00:00Z", &ms), -EINVAL);
	assert_int_equal(checkins_parse_time("2026-12-06T18:00:00", &ms), -EINVAL);
	assert_int_equal(checkins_parse_time("yesterday", &ms), -EINVAL);
	assert_int_equal(checkins_parse_time("", &ms), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(signed_ticket_verifies_and_parses_back),
		cmocka_unit_test(same_ticket_signs_to_the_same_text),
		cmocka_unit_test(any_changed_field_breaks_the_signature),
		cmocka_unit_test(another_nodes_key_does_not_verify),
		cmocka_unit_test(only_the_canonical_spelling_parses),
		cmocka_unit_test(signing_refuses_bad_orders_and_short_buffers),
		cmocka_unit_test(qr_png_decodes_to_the_qr_modules),
		cmocka_unit_test(qr_svg_is_an_svg_document),
		cmocka_unit_test(qr_of_nothing_is_refused),
		cmocka_unit_test(keys_are_created_private_and_kept),
		cmocka_unit_test(scanner_ids_are_short_and_plain),
		cmocka_unit_test(scan_times_are_utc_rfc3339),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
