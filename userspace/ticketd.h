/* The daemon's one owner of state: everything long-lived hangs off struct
 * ticketd, created by main. Threads: see docs/threads.md. */
#ifndef TICKETD_TICKETD_H
#define TICKETD_TICKETD_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "bpf/session_token.h"
#include "userspace/catalog.h"
#include "userspace/config.h"
#include "userspace/db.h"
#include "userspace/health.h"
#include "userspace/metrics.h"

struct http_server;

struct ticketd {
	struct config cfg;
	struct db_pool db;
	struct catalog catalog; /* read-only after start */
	struct tkt_token_key token_key;
	struct metrics metrics;
	struct health health;
	struct http_server *http;

	/* The seat table: one 64-bit word per seat (see bpf/seat_word.h). */
	uint64_t *seats;
	uint32_t max_seats;
	const char *hold_path; /* "xdp" or "socket" */

	atomic_bool stop;
};

bool ticketd_seat_table_usable(const struct ticketd *app);

#endif
