/* Session tokens: SipHash-2-4 against the reference vector, and the
 * verdicts of tkt_token_check on what tkt_token_mint writes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "bpf/session_token.h"

static const struct tkt_token_key ref_key = {
	/* key bytes 00 01 .. 0f, read little-endian as the reference does */
	.k0 = 0x0706050403020100ull,
	.k1 = 0x0f0e0d0c0b0a0908ull,
};

static void siphash_matches_the_reference_vector_for_8_bytes(void **state)
{
	static const __u8 msg[8] = {0, 1, 2, 3, 4, 5, 6, 7};
	static const __u8 want[8] = {0x62, 0x24, 0x93, 0x9a,
				     0x79, 0xf5, 0xf5, 0x93};
	__u8 tag[8];

	(void)state;
	assert_int_equal(tkt_siphash24_u64(&ref_key, tkt_load_le64(msg)),
			 0x93f5f5799a932462ull);
	tkt_token_tag(&ref_key, msg, tag);
	assert_memory_equal(tag, want, 8);
}

/* The v2 MAC: SipHash-2-4 of 32 bytes (reference vector 32) and
 * tkt_v2_check's verdicts. */
static void siphash_of_32_bytes_matches_the_reference_vector(void **state)
{
	__u8 msg[32];
	int i;

	(void)state;
	for (i = 0; i < 32; i++)
		msg[i] = (__u8)i;
	assert_int_equal(tkt_siphash24_32(&ref_key, msg), 0x7127512f72f27cceull);
}

static void v2_check_needs_the_mac_of_the_whole_token(void **state)
{
	__u8 tok[16], req[40] = {0x54, 0x58, 2, 1};
	__u64 mac;
	__u32 slot = 0;
	int i, bit;

	(void)state;
	tkt_token_mint(&ref_key, 77, 2000, tok);
	memcpy(req + 16, tok, 8);
	mac = tkt_v2_mac(tok, req);
	for (i = 0; i < 8; i++)
		req[32 + i] = (__u8)(mac >> (8 * i));
	assert_int_equal(tkt_v2_check(&ref_key, req, 1999, &slot),
			 TKT_TOKEN_VALID);
	assert_int_equal(slot, 77);
	assert_int_equal(tkt_v2_check(&ref_key, req, 2000, &slot),
			 TKT_TOKEN_EXPIRED);
	for (bit = 0; bit < 40 * 8; bit++) {
		req[bit / 8] ^= (__u8)(1u << (bit % 8));
		assert_int_equal(tkt_v2_check(&ref_key, req, 1000, &slot),
				 TKT_TOKEN_FORGED);
		req[bit / 8] ^= (__u8)(1u << (bit % 8));
	}
}

static void genuine_token_yields_its_slot(void **state)
{
	__u8 tok[16];
	__u32 slot = 0;

	(void)state;
	tkt_token_mint(&ref_key, 4242, 2000000000u, tok);
	assert_int_equal(tkt_token_check(&ref_key, tok, 1700000000u, &slot),
			 TKT_TOKEN_VALID);
	assert_int_equal(slot, 4242);
}

static void any_flipped_bit_is_forged(void **state)
{
	__u8 tok[16];
	__u32 slot = 0;
	int bit;

	(void)state;
	tkt_token_mint(&ref_key, 9, 2000000000u, tok);
	for (bit = 0; bit < 128; bit++) {
		tok[bit / 8] ^= (__u8)(1u << (bit % 8));
		assert_int_equal(tkt_token_check(&ref_key, tok, 1700000000u,
						 &slot),
				 TKT_TOKEN_FORGED);
		tok[bit / 8] ^= (__u8)(1u << (bit % 8));
	}
}

static void token_of_another_key_is_forged(void **state)
{
	struct tkt_token_key other = {.k0 = 1, .k1 = 2};
	__u8 tok[16];
	__u32 slot = 0;

	(void)state;
	tkt_token_mint(&other, 9, 2000000000u, tok);
	assert_int_equal(tkt_token_check(&ref_key, tok, 1700000000u, &slot),
			 TKT_TOKEN_FORGED);
}

static void slot_zero_or_beyond_22_bits_is_forged(void **state)
{
	__u8 tok[16];
	__u32 slot = 0;

	(void)state;
	tkt_token_mint(&ref_key, 0, 2000000000u, tok);
	assert_int_equal(tkt_token_check(&ref_key, tok, 1700000000u, &slot),
			 TKT_TOKEN_FORGED);
	tkt_token_mint(&ref_key, TKT_SLOT_MAX + 1, 2000000000u, tok);
	assert_int_equal(tkt_token_check(&ref_key, tok, 1700000000u, &slot),
			 TKT_TOKEN_FORGED);
	tkt_token_mint(&ref_key, TKT_SLOT_MAX, 2000000000u, tok);
	assert_int_equal(tkt_token_check(&ref_key, tok, 1700000000u, &slot),
			 TKT_TOKEN_VALID);
}

static void token_is_expired_from_its_expiry_second_on(void **state)
{
	__u8 tok[16];
	__u32 slot = 0;

	(void)state;
	tkt_token_mint(&ref_key, 5, 1700000000u, tok);
	assert_int_equal(tkt_token_check(&ref_key, tok, 1699999999u, &slot),
			 TKT_TOKEN_VALID);
	assert_int_equal(tkt_token_check(&ref_key, tok, 1700000000u, &slot),
			 TKT_TOKEN_EXPIRED);
	assert_int_equal(tkt_token_check(&ref_key, tok, 1800000000u, &slot),
			 TKT_TOKEN_EXPIRED);
}

/* The doors compare in milliseconds (no division on the XDP path): the
 * last millisecond before the expiry second is valid, the second itself
 * is not, as with the clock in seconds. */
static void token_in_milliseconds_expires_at_the_same_instant(void **state)
{
	__u8 tok[16];
	__u32 slot = 0;

	(void)state;
	tkt_token_mint(&ref_key, 5, 1700000000u, tok);
	assert_int_equal(tkt_token_check_ms(&ref_key, tok, 1699999999999ull,
					    &slot),
			 TKT_TOKEN_VALID);
	assert_int_equal(tkt_token_check_ms(&ref_key, tok, 1700000000000ull,
					    &slot),
			 TKT_TOKEN_EXPIRED);
	/* an expiry of 0xffffffff seconds does not overflow the product */
	tkt_token_mint(&ref_key, 5, 0xffffffffu, tok);
	assert_int_equal(tkt_token_check_ms(&ref_key, tok, 1700000000000ull,
					    &slot),
			 TKT_TOKEN_VALID);
}

static void minted_token_is_slot_and_expiry_big_endian_then_tag(void **state)
{
	__u8 tok[16], tag[8];
	__u32 slot = 0;

	(void)state;
	tkt_token_mint(&ref_key, 0x00123456u, 0x89abcdefu, tok);
	assert_int_equal(tok[0], 0x00);
	assert_int_equal(tok[1], 0x12);
	assert_int_equal(tok[2], 0x34);
	assert_int_equal(tok[3], 0x56);
	assert_int_equal(tok[4], 0x89);
	assert_int_equal(tok[5], 0xab);
	assert_int_equal(tok[6], 0xcd);
	assert_int_equal(tok[7], 0xef);
	tkt_token_tag(&ref_key, tok, tag);
	assert_memory_equal(tok + 8, tag, 8);
	assert_int_equal(tkt_token_check(&ref_key, tok, 0x89abcdeeu, &slot),
			 TKT_TOKEN_VALID);
	assert_int_equal(slot, 0x123456);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(siphash_matches_the_reference_vector_for_8_bytes),
		cmocka_unit_test(siphash_of_32_bytes_matches_the_reference_vector),
		cmocka_unit_test(v2_check_needs_the_mac_of_the_whole_token),
		cmocka_unit_test(genuine_token_yields_its_slot),
		cmocka_unit_test(any_flipped_bit_is_forged),
		cmocka_unit_test(token_of_another_key_is_forged),
		cmocka_unit_test(slot_zero_or_beyond_22_bits_is_forged),
		cmocka_unit_test(token_is_expired_from_its_expiry_second_on),
		cmocka_unit_test(token_in_milliseconds_expires_at_the_same_instant),
		cmocka_unit_test(minted_token_is_slot_and_expiry_big_endian_then_tag),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
