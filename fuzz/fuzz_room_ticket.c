/* libFuzzer harness for the waiting room's queue tickets
 * (userspace/ticketd/room/room_ticket.c): the bytes as a ticket string to
 * the parser and to the full check for a fixed key, session and event.
 * Whatever the bytes: no crash, no read past them, and a ticket the parser
 * accepts is in its one canonical text form (formatting its fields gives
 * the same string back); the check accepts only what carries the right
 * MAC. Run: make fuzz (README.md, "Fuzzing"). */
#include <inttypes.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "userspace/lib/hex.h"
#include "userspace/ticketd/room/room_ticket.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int cond)
{
	if (!cond)
		abort();
}

static const uint8_t key[ROOM_KEY_LEN] = {7, 7, 7};
static const uint8_t sid[ROOM_SID_LEN] = {0, 0, 0, 1, 0x70, 0, 0, 0};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1), again[ROOM_TICKET_MAX + 80], mac[2 * ROOM_MAC_LEN + 1];
	struct room_ticket t;
	struct room_claim c;
	enum room_ticket_check v;

	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	if (!room_ticket_parse(s, &t)) {
		hex_encode(t.mac, sizeof(t.mac), mac);
		snprintf(again, sizeof(again), "v1.%" PRIu32 ".%" PRIu64 ".%" PRId64 ".%s",
			 t.event_id, t.seq, t.issued_ms, mac);
		check(!strcmp(again, s));
		check(strlen(s) < ROOM_TICKET_MAX);
	}
	v = room_ticket_check(key, s, 5, sid, INT64_MAX - 1000000, &c);
	if (v == ROOM_TICKET_OK) {
		char real[ROOM_TICKET_MAX];

		room_ticket_format(key, 5, c.seq, c.issued_ms, sid, real);
		check(!strcmp(real, s));
	}
	free(s);
	return 0;
}
