/* Bringing the edge up for ticketd: open (or reuse) the seat table, install
 * the config and the events, rebuild state on a fresh node, and open the
 * UDP door that the configuration asks for (XDP, else a socket). */
#ifndef TICKETD_EDGE_SETUP_H
#define TICKETD_EDGE_SETUP_H

#include <stddef.h>

struct ticketd;

/* Opens the seat table, clears it when its identity (database, event
 * layout, boot) is not this database's (logged, counted in
 * app->table_reset_reason; the table then reads as fresh, edge_reused
 * false), and installs config and events. Sets app->edge, app->seats,
 * app->table_id. */
int edge_setup_open(struct ticketd *app, char *err, size_t errlen);

/* Stamps app->table_id into the seat table: after the table was rebuilt
 * for this database (recovery), never before. 0 or a negative errno
 * (logged; the next start then rebuilds again). */
int edge_setup_identify(struct ticketd *app);

/* The seat table's identity counters for /metrics. */
int edge_setup_render_metrics(struct ticketd *app, char **buf, size_t *len,
			      size_t *cap);

/* Opens the UDP door: XDP when configured and attachable (hold_path xdp
 * fails without it), else the socket door. Sets app->hold_path. */
int edge_setup_doors(struct ticketd *app, char *err, size_t errlen);

/* Stops the UDP door and detaches XDP: no new changes arrive. */
void edge_setup_close_doors(struct ticketd *app);

/* Closes the doors and the edge (pins and seat file stay). */
void edge_setup_close(struct ticketd *app);

#endif
