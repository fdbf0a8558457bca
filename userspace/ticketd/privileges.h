/* Least privilege: once the seat table is open (maps loaded and pinned,
 * the seat array mmapped) and before the first thread starts, ticketd gives
 * up every capability it will not use again, so every thread it starts
 * afterwards inherits the reduced sets. What stays and why:
 * docs/operations.md#privileges. */
#ifndef TICKETD_PRIVILEGES_H
#define TICKETD_PRIVILEGES_H

#include <stddef.h>

struct ticketd;

/* The capabilities this configuration still needs after the seat table is
 * open, as a libcap text ("cap_bpf,cap_net_admin=ep", or "=" for none). */
const char *privileges_needed(const struct ticketd *app);

/* Drops to privileges_needed(): effective, permitted and inheritable sets,
 * the ambient set, the bounding set (when CAP_SETPCAP allows), and sets
 * no_new_privs. Must run while the process has one thread (capabilities are
 * per thread). 0, or -1 with err filled. */
int privileges_drop(struct ticketd *app, char *err, size_t errlen);

#endif
