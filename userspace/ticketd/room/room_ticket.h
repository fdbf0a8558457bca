/* Queue tickets (docs/api.md, "Waiting room"): the opaque string a visitor
 * keeps to come back to its place, also after a restart.
 *
 *   v1.<event>.<seq>.<issued_ms>.<mac>
 *
 * decimal numbers without leading zeros, mac 64 lowercase hex digits:
 * HMAC-SHA256 (OpenSSL) keyed by <state_dir>/room.key over a fixed binary
 * layout of the event, seq, issued_ms and the 8-byte session id, so a
 * ticket is worth nothing with another session's token or another event.
 * The parser is pure (fuzz/fuzz_room_ticket.c drives it). */
#ifndef TICKETD_ROOM_TICKET_H
#define TICKETD_ROOM_TICKET_H

#include <stddef.h>
#include <stdint.h>

#include "userspace/ticketd/room/room.h"

#define ROOM_KEY_LEN 32
#define ROOM_SID_LEN 8
#define ROOM_MAC_LEN 32
/* The longest ticket and its NUL. */
#define ROOM_TICKET_MAX 128

struct room_ticket {
	uint32_t event_id;
	uint64_t seq;
	int64_t issued_ms;
	uint8_t mac[ROOM_MAC_LEN];
};

/* Parses the text form, nothing before or after it. 0, or -1 (out partly
 * written) for anything else. */
int room_ticket_parse(const char *s, struct room_ticket *out);

/* The MAC of a ticket's fields for session sid. */
void room_ticket_mac(const uint8_t key[ROOM_KEY_LEN], uint32_t event_id,
		     uint64_t seq, int64_t issued_ms,
		     const uint8_t sid[ROOM_SID_LEN], uint8_t mac[ROOM_MAC_LEN]);

/* Writes the ticket for these fields (out: ROOM_TICKET_MAX bytes). */
void room_ticket_format(const uint8_t key[ROOM_KEY_LEN], uint32_t event_id,
			uint64_t seq, int64_t issued_ms,
			const uint8_t sid[ROOM_SID_LEN], char out[ROOM_TICKET_MAX]);

enum room_ticket_check {
	ROOM_TICKET_OK = 0,
	ROOM_TICKET_MALFORMED = -1,  /* not a ticket at all */
	ROOM_TICKET_OTHER_EVENT = -2,
	ROOM_TICKET_FORGED = -3,     /* wrong MAC: forged, or another session's */
	ROOM_TICKET_FUTURE = -4,     /* issued after now_ms + a minute */
};

/* Checks a presented ticket for event_id and session sid (the MAC is
 * compared in constant time); on ROOM_TICKET_OK fills claim. */
enum room_ticket_check room_ticket_check(const uint8_t key[ROOM_KEY_LEN],
					 const char *s, uint32_t event_id,
					 const uint8_t sid[ROOM_SID_LEN],
					 int64_t now_ms, struct room_claim *claim);

/* Reads the 32-byte secret kept as 64 hex digits (and a newline) in path,
 * creating it from getrandom, mode 0600, when it is missing; refuses a
 * file others may read or write (userspace/lib/private_dir.h). hex (65
 * bytes) gets its text form when not NULL. 0 or a negative errno with err
 * filled. */
int room_secret_load(const char *path, uint8_t key[ROOM_KEY_LEN], char *hex,
		     char *err, size_t errlen);

#endif
