/* ticketctl's access to the edge's pinned maps (stats_cmd.c, seat_cmd.c):
 * opening a pin with an error an operator can act on, and the options the
 * two commands share. */
#ifndef TICKETCTL_PINS_H
#define TICKETCTL_PINS_H

#include <stdbool.h>
#include <stdint.h>

/* Exit statuses of the map commands, ticketctl's one scheme (ctl_http.h):
 * 0 shown, 1 an error (no such pin directory or pin, event unknown, seat
 * out of range, a map that cannot be read: not root, wrong file), 2 usage
 * error. */
enum { PINS_EXIT_OK = 0, PINS_EXIT_NOT_FOUND = 1, PINS_EXIT_ERROR = 1, PINS_EXIT_USAGE = 2 };

struct pins_opts {
	const char *pin_dir; /* --pin-dir, default $TICKET_PIN_DIR or TKT_PIN_DIR_DEFAULT */
	bool json;
};

/* Parses --pin-dir DIR, --json and --help in argv[1..] (argv[0] is the
 * command), leaving the operands in argv[*first..argc-1]. Returns -1 when
 * the command should end with *exit_code (help printed: 0; bad option: 2). */
int pins_parse(int argc, char **argv, const char *usage, struct pins_opts *o,
	       int *first, int *exit_code);

/* Checks that the pin directory exists and is one. Returns 0, or the exit
 * status after printing why. */
int pins_dir_check(const struct pins_opts *o);

/* Opens <pin_dir>/<name>: the fd, or -(exit status) after printing why
 * (missing pin: NOT_FOUND; not permitted: ERROR with a hint about root). */
int pins_open(const struct pins_opts *o, const char *name);

/* The wall clock that goes with the monotonic reading mono_ns, ms: from
 * the config map's unix_offset_ns as the programs use it, else
 * CLOCK_REALTIME now. */
uint64_t pins_unix_ms(int config_fd, uint64_t mono_ns);

/* Prints an error as the commands do: "ticketctl: ..." on stderr and, with
 * --json, {"error": ..., "detail": ...} on stdout. */
void pins_fail(const struct pins_opts *o, const char *error, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
