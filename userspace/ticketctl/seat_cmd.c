/* ticketctl seat: decodes one seat word straight from the pinned maps, no
 * ticketd needed (what `bpftool map lookup` and bash arithmetic do in
 * bpf/README.md, "One seat"):
 *
 *   ticketctl seat EVENT SEAT [--pin-dir DIR] [--json]
 *
 * Looks EVENT up in the events map, reads the word at base + SEAT from the
 * seats map and the hold start from seat_since, and prints state, holder
 * slot (with its hold count in the event), expiry (ms from now and wall
 * time, through the config map's unix offset) and the raw word. Read-only.
 * Exit: 0 shown, 1 not found (pin directory, event, seat) or a map that
 * cannot be read, 2 usage (pins.h). */
#include "userspace/ticketctl/seat_cmd.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <jansson.h>

#include "bpf/seat_word.h"
#include "bpf/ticket_maps.h"
#include "userspace/lib/clock.h"
#include "userspace/lib/edge_peek.h"
#include "userspace/lib/edge_view.h"
#include "userspace/ticketctl/pins.h"

static const char seat_usage[] =
	"usage: ticketctl seat EVENT SEAT [--pin-dir DIR] [--json]\n"
	"  reads the seat word from the pinned maps (no ticketd needed; root)\n"
	"  --pin-dir DIR  default $TICKET_PIN_DIR or " TKT_PIN_DIR_DEFAULT "\n"
	"  --json         one JSON object (the word as a \"0x...\" string)\n"
	"exit: 0 shown, 1 no such pin directory, event or seat, or unreadable map, 2 usage\n";

static int parse_id(const char *s, uint32_t *out)
{
	char *end;
	unsigned long long v;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || v > UINT32_MAX)
		return -1;
	*out = (uint32_t)v;
	return 0;
}

struct seat_fds {
	int events, seats, since, counts, config, slot_counts;
};

static void close_fds(struct seat_fds *f)
{
	int *all[] = {&f->events, &f->seats, &f->since, &f->counts, &f->config,
		      &f->slot_counts};

	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		if (*all[i] >= 0)
			close(*all[i]);
}

/* Opens the pins the command reads: 0 or the exit status. */
static int open_fds(const struct pins_opts *o, struct seat_fds *f)
{
	static const char *const names[] = {"events", "seats", "seat_since",
					    "counts", "config"};
	int *all[] = {&f->events, &f->seats, &f->since, &f->counts, &f->config};

	f->slot_counts = -1;
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		*all[i] = -1;
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		int fd = pins_open(o, names[i]);

		if (fd < 0)
			return -fd;
		*all[i] = fd;
	}
	/* pins of a ticketd older than slot_counts have every count in
	 * "counts": read them without it */
	f->slot_counts = peek_pin_open(o->pin_dir, "slot_counts");
	return 0;
}

static void print_text(uint32_t event_id, uint32_t seat_id, uint32_t index,
		       const struct tkt_event *ev, const struct edge_seat_view *v,
		       int have_count, uint32_t count)
{
	printf("event=%u seat=%u index=%u (base %u, %u seats, %s%s)\n",
	       event_id, seat_id, index, ev->base, ev->nseats,
	       ev->owned ? "owned" : "not owned: WRONG_NODE",
	       ev->flags & TKT_EVENT_ROOM ? ", waiting room" : "");
	edge_seat_view_print(stdout, v);
	if (have_count)
		printf("holder_count=%u (seats slot %u has HELD or ORDERED in "
		       "event %u)\n",
		       count, v->holder, event_id);
}

static int print_json(const struct pins_opts *o, uint32_t event_id,
		      uint32_t seat_id, uint32_t index, const struct tkt_event *ev,
		      const struct edge_seat_view *v, int have_count,
		      uint32_t count)
{
	json_t *seat = edge_seat_view_json(v);
	json_t *j = json_pack("{s:s, s:I, s:I, s:I, s:{s:I, s:I, s:b, s:b}, s:o*}",
			      "pinDir", o->pin_dir, "eventId", (json_int_t)event_id,
			      "seatId", (json_int_t)seat_id, "index",
			      (json_int_t)index, "event", "base",
			      (json_int_t)ev->base, "nseats",
			      (json_int_t)ev->nseats, "owned", ev->owned != 0,
			      "room", (ev->flags & TKT_EVENT_ROOM) != 0, "seat",
			      seat);
	char *text;

	if (!j)
		return PINS_EXIT_ERROR;
	json_object_set_new(j, "holderCount",
			    have_count ? json_integer(count) : json_null());
	text = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(j);
	if (!text)
		return PINS_EXIT_ERROR;
	printf("%s\n", text);
	free(text);
	return PINS_EXIT_OK;
}

int ticketctl_seat(int argc, char **argv)
{
	struct pins_opts o;
	struct seat_fds f;
	struct tkt_event ev;
	struct edge_seat_view v;
	uint32_t event_id, seat_id, index, since = 0, count = 0;
	uint64_t word, pair, mono;
	int first, rc, have_count = 0, lookup_err;

	if (pins_parse(argc, argv, seat_usage, &o, &first, &rc) < 0)
		return rc;
	if (argc - first != 2 || parse_id(argv[first], &event_id) ||
	    parse_id(argv[first + 1], &seat_id)) {
		fprintf(stderr, "ticketctl: seat needs EVENT and SEAT, each 0..%u\n",
			UINT32_MAX);
		fputs(seat_usage, stderr);
		return PINS_EXIT_USAGE;
	}
	rc = pins_dir_check(&o);
	if (rc)
		return rc;
	rc = open_fds(&o, &f);
	if (rc)
		goto out;
	/* the events map is an array indexed by id: an id past its end is
	 * ENOENT, one never declared reads nseats 0 */
	lookup_err = bpf_map_lookup_elem(f.events, &event_id, &ev) < 0 ? errno : 0;
	if (!lookup_err && !ev.nseats)
		lookup_err = ENOENT;
	if (lookup_err) {
		rc = lookup_err == ENOENT ? PINS_EXIT_NOT_FOUND : PINS_EXIT_ERROR;
		pins_fail(&o, "event unknown",
			  "event %u is not in %s/events (%s)", event_id,
			  o.pin_dir, strerror(lookup_err));
		goto out;
	}
	if (seat_id >= ev.nseats || ev.base + (uint64_t)seat_id >= TKT_MAX_SEATS) {
		rc = PINS_EXIT_NOT_FOUND;
		pins_fail(&o, "seat out of range",
			  "event %u has seats 0..%u, not %u", event_id,
			  ev.nseats ? ev.nseats - 1 : 0, seat_id);
		goto out;
	}
	index = ev.base + seat_id;
	mono = tkt_mono_ns();
	if (bpf_map_lookup_elem(f.seats, &index, &word) < 0) {
		rc = PINS_EXIT_ERROR;
		pins_fail(&o, "cannot read seat", "seats[%u]: %s", index,
			  strerror(errno));
		goto out;
	}
	/* seat_since: two u32 hold starts per u64, seat i in half i & 1 */
	{
		uint32_t key = index / 2;

		if (bpf_map_lookup_elem(f.since, &key, &pair) == 0)
			since = (uint32_t)(pair >> (32 * (index & 1)));
	}
	edge_seat_view_decode(word, since, tkt_ms32(mono),
			      pins_unix_ms(f.config, mono), &v);
	if (v.claimed && v.holder) {
		struct tkt_hold_key k = {.slot = v.holder, .event_id = event_id};
		uint64_t sw = 0;

		/* the slot's own word when it counts this event, else counts */
		if (f.slot_counts >= 0 &&
		    bpf_map_lookup_elem(f.slot_counts, &v.holder, &sw) == 0 &&
		    (uint32_t)(sw >> 32) == event_id + 1)
			have_count = 1, count = (uint32_t)sw;
		else if (bpf_map_lookup_elem(f.counts, &k, &count) == 0)
			have_count = 1;
		else if (errno == ENOENT)
			have_count = 1, count = 0;
		if (count == TKT_COUNT_DEAD) /* being deleted */
			count = 0;
	}
	if (o.json)
		rc = print_json(&o, event_id, seat_id, index, &ev, &v, have_count,
				count);
	else {
		print_text(event_id, seat_id, index, &ev, &v, have_count, count);
		rc = PINS_EXIT_OK;
	}
out:
	close_fds(&f);
	return rc;
}
