/* Rebuilding the seat table on a fresh node (no pinned maps, no seat file,
 * or a table edge_setup_open cleared because it was built for another
 * database, event layout or boot):
 * sold seats from MariaDB, then live holds and orders from the Redis
 * journal, all through the ordinary seat rules so hold counts, versions and
 * the journal stay right. Runs before any door or HTTP request is served.
 * A table reused from a previous run (pins survived a restart) is already
 * right and is left alone. */
#ifndef TICKETD_RECOVERY_H
#define TICKETD_RECOVERY_H

#include <stddef.h>
#include <stdint.h>

struct ticketd;

struct recovery_report {
	uint32_t sold, holds, orders, skipped;
	uint32_t foreign; /* holds of another database's journal, dropped */
	int redis_ok;
};

/* The callers zero the report once; recovery_claim_journal, then
 * recovery_rebuild or recovery_sync_sold add to it. */

/* Makes the Redis journal this database's (app->table_id.db_id, key
 * tkt:journal:db): a journal stamped with another database's identity has
 * its holds deleted (counted in rep->foreign, logged), never restored; an
 * unstamped one (before migration 005) is kept. Then stamps it. 0, or a
 * negative errno when Redis cannot be asked. */
int recovery_claim_journal(struct ticketd *app, struct recovery_report *rep);

int recovery_rebuild(struct ticketd *app, struct recovery_report *rep,
		     char *err, size_t errlen);

/* Multi-node (issue #16): rebuilds one event a node takes over, whose
 * words were cleared (edge_event_clear) and which is TKT_OWNED_REBUILD:
 * sold seats from MariaDB, then live holds and orders from its journal
 * keys. A seat that cannot be restored is counted in rep->skipped. 0, or
 * a negative errno (err filled) when MariaDB or Redis cannot be read. */
int recovery_rebuild_event(struct ticketd *app, uint32_t event_id,
			   struct recovery_report *rep, char *err, size_t errlen);

/* On a reused table: makes seats sold in MariaDB meanwhile SOLD too. */
int recovery_sync_sold(struct ticketd *app, struct recovery_report *rep,
		       char *err, size_t errlen);

/* Makes one seat SOLD through the ordinary transitions under ticketd's own
 * slot (free -> held -> ordered -> sold). 0, or -EIO when someone else has
 * the seat. */
int recovery_restore_sold(struct ticketd *app, uint32_t event_id,
			  uint32_t seat_id);

/* Each event's last journalled version (0 where Redis has none), so SSE
 * versions keep growing across restarts. out has catalog.n_events slots. */
void recovery_versions(struct ticketd *app, uint64_t *out);

#endif
