/* Bearer tokens: what ticketd mints, the edge and REST accept; forgeries
 * and lapsed sessions do not pass. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "userspace/lib/hex.h"
#include "userspace/ticketd/commerce/sessions.h"

static const struct tkt_token_key key = {0x0706050403020100ULL,
					 0x0f0e0d0c0b0a0908ULL};

static void make_token(uint32_t slot, uint32_t expiry, char out[40])
{
	uint8_t t[16];
	char hex[33];

	tkt_token_mint(&key, slot, expiry, t);
	hex_encode(t, 16, hex);
	snprintf(out, 40, "Bearer %s", hex);
}

static void minted_token_is_accepted_with_its_slot(void **state)
{
	struct session s;
	char hdr[40];

	(void)state;
	make_token(77, (uint32_t)time(NULL) + 60, hdr);
	assert_int_equal(sessions_check_bearer(&key, hdr, &s), SESSION_AUTH_OK);
	assert_int_equal(s.slot, 77);
	assert_int_equal(strlen(s.id_hex), 16);
}

static void one_flipped_bit_is_a_forgery(void **state)
{
	struct session s;
	char hdr[40];

	(void)state;
	make_token(77, (uint32_t)time(NULL) + 60, hdr);
	hdr[7 + 3] ^= 1; /* a digit of the slot: '0' <-> '1' */
	assert_int_equal(sessions_check_bearer(&key, hdr, &s), SESSION_AUTH_FORGED);
}

static void lapsed_session_is_expired_not_forged(void **state)
{
	struct session s;
	char hdr[40];

	(void)state;
	make_token(77, (uint32_t)time(NULL) - 1, hdr);
	assert_int_equal(sessions_check_bearer(&key, hdr, &s), SESSION_AUTH_EXPIRED);
}

static void malformed_headers_are_refused(void **state)
{
	struct session s;

	(void)state;
	assert_int_equal(sessions_check_bearer(&key, NULL, &s), SESSION_AUTH_MISSING);
	assert_int_equal(sessions_check_bearer(&key, "Basic abc", &s),
			 SESSION_AUTH_FORGED);
	assert_int_equal(sessions_check_bearer(&key, "Bearer ", &s),
			 SESSION_AUTH_FORGED);
	assert_int_equal(sessions_check_bearer(&key, "Bearer 1234", &s),
			 SESSION_AUTH_FORGED);
	assert_int_equal(
		sessions_check_bearer(&key, "Bearer zz000000000000000000000000000000", &s),
		SESSION_AUTH_FORGED);
}

static void slot_zero_is_never_valid(void **state)
{
	struct session s;
	char hdr[40];

	(void)state;
	make_token(0, (uint32_t)time(NULL) + 60, hdr);
	assert_int_equal(sessions_check_bearer(&key, hdr, &s), SESSION_AUTH_FORGED);
}

static void siphash_matches_the_reference_vector(void **state)
{
	/* SipHash-2-4, key 00..0f, message 00..07: 62 24 93 9a 79 f5 f5 93 */
	const uint8_t msg[8] = {0, 1, 2, 3, 4, 5, 6, 7};
	const uint8_t want[8] = {0x62, 0x24, 0x93, 0x9a, 0x79, 0xf5, 0xf5, 0x93};
	uint8_t tag[8];

	(void)state;
	tkt_token_tag(&key, msg, tag);
	assert_memory_equal(tag, want, 8);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(minted_token_is_accepted_with_its_slot),
		cmocka_unit_test(one_flipped_bit_is_a_forgery),
		cmocka_unit_test(lapsed_session_is_expired_not_forged),
		cmocka_unit_test(malformed_headers_are_refused),
		cmocka_unit_test(slot_zero_is_never_valid),
		cmocka_unit_test(siphash_matches_the_reference_vector),
	};
	return cmocka_run_group_tests_name("sessions", tests, NULL, NULL);
}
