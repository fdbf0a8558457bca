/* libFuzzer harness for signed tickets (userspace/ticketd/commerce/
 * tickets.c): the bytes, not NUL-terminated, to the parser and to the
 * signature check for a fixed key. Whatever the bytes: no crash, no read
 * past them; a ticket the parser accepts is in its one canonical text form
 * (formatting its fields and signature gives the same bytes back); the
 * check accepts only the text the key itself signs for those fields. Run:
 * make fuzz (README.md, "Fuzzing"). */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "userspace/ticketd/commerce/tickets.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int cond)
{
	if (!cond)
		abort();
}

static struct ticket_keys keys;
static int keys_ready;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size ? size : 1), again[TICKET_TEXT_MAX + 8];
	char b64[TICKET_SIG_B64_LEN + 1];
	struct ticket t, v;
	int n;

	if (!s)
		return 0;
	if (!keys_ready) {
		uint8_t seed[TICKET_SEED_LEN];

		memset(seed, 7, sizeof(seed)); /* fuzz/make_seeds.py signs with it */
		check(ticket_keys_from_seed(&keys, seed) == 0);
		keys_ready = 1;
	}
	memcpy(s, data, size); /* exactly size bytes: ASan sees any over-read */
	if (ticket_parse(s, size, &t) == TICKET_OK) {
		sodium_bin2base64(b64, sizeof(b64), t.sig, sizeof(t.sig),
				  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
		n = snprintf(again, sizeof(again), "v1.%u.%u.%s.%u.%s", t.event_id, t.seat_id,
			     t.order_id, t.serial, b64);
		check(n > 0 && (size_t)n == size && !memcmp(again, s, size));
		check(size < TICKET_TEXT_MAX);
		check(t.signed_len < size && s[t.signed_len] == '.');
	}
	if (ticket_verify(keys.pk, s, size, &v) == TICKET_OK) {
		n = ticket_sign(&keys, v.event_id, v.seat_id, v.order_id, v.serial, again,
				sizeof(again));
		check(n > 0 && (size_t)n == size && !memcmp(again, s, size));
	}
	free(s);
	return 0;
}
