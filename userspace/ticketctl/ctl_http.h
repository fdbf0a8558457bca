/* ticketctl's HTTP side (room, status, events, drain): one request to
 * ticketd with libcurl, the answer collected in memory, and the admin key
 * of <state_dir>/admin.key for the loopback-only /admin endpoints. */
#ifndef TICKETCTL_CTL_HTTP_H
#define TICKETCTL_CTL_HTTP_H

#include <stddef.h>

#define CTL_DEFAULT_URL "http://127.0.0.1:8080"
#define CTL_DEFAULT_KEY_FILE "/var/lib/ticketd/admin.key"

/* ticketctl's exit statuses, one scheme for every command (docs/ops/
 * ticketctl.md): 0 done, 1 an error (refused, not found, unreachable, a
 * map that cannot be read), 2 usage, 3 not ready or degraded. */
enum { CTL_EXIT_OK = 0, CTL_EXIT_ERROR = 1, CTL_EXIT_USAGE = 2, CTL_EXIT_NOT_READY = 3 };

/* --admin's default: $TICKET_URL, else CTL_DEFAULT_URL. */
const char *ctl_default_url(void);
/* --admin-key-file's default: $TICKET_ADMIN_KEY_FILE, else CTL_DEFAULT_KEY_FILE. */
const char *ctl_default_key_file(void);

struct ctl_answer {
	long status; /* HTTP status; 0 when no answer came */
	char *body;  /* NUL-terminated, malloc'd (NULL: empty) */
	size_t len;
};

/* Sends method url (body: JSON, or NULL) with "Authorization: Bearer key"
 * when key is not NULL; waits at most timeout_ms. Returns 0 with *a filled
 * (any status), or -1 with err set when there was no answer. */
int ctl_http(const char *method, const char *url, const char *key, const char *body,
	     long timeout_ms, struct ctl_answer *a, char *err, size_t errlen);
void ctl_answer_free(struct ctl_answer *a);

/* The key file's first line (64 hex digits) into key (cap >= 65), or -1
 * with err set. */
int ctl_read_key(const char *path, char *key, size_t cap, char *err, size_t errlen);

#endif
