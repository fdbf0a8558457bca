/* ticketctl stats: the edge's state straight from the pinned maps, no
 * ticketd needed (bpf/README.md, "Stats", in one command):
 *
 *   ticketctl stats [--pin-dir DIR] [--json]
 *
 * Prints the XDP door counters summed over CPUs by name (replies by
 * status, drops, passes), the fill of every map with a limit (events,
 * counts, ratelimit: entries counted now, max_entries), the change ring
 * buffer (bytes not yet consumed by ticketd), the open door's settings
 * from the config map (never the token key), and per declared event its
 * seats by state, lapsed holds apart. Read-only: the seat array is mapped
 * PROT_READ and the ring buffer's positions are only looked at.
 * Exit: 0 shown, 1 no such pin directory or pin, or a map that cannot be
 * read, 2 usage (pins.h). */
#include "userspace/ticketctl/stats_cmd.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <jansson.h>

#include "bpf/seat_word.h"
#include "bpf/ticket_maps.h"
#include "userspace/lib/clock.h"
#include "userspace/lib/edge_peek.h"
#include "userspace/lib/edge_view.h"
#include "userspace/ticketctl/pins.h"

static const char stats_usage[] =
	"usage: ticketctl stats [--pin-dir DIR] [--json]\n"
	"  door counters, map fill, ring buffer and seats by state of every event,\n"
	"  read from the pinned maps (no ticketd needed; root)\n"
	"  --pin-dir DIR  default $TICKET_PIN_DIR or " TKT_PIN_DIR_DEFAULT "\n"
	"  --json         one JSON object\n"
	"exit: 0 shown, 1 no such pin directory or pin, or unreadable map, 2 usage\n";

/* The maps with a limit, in the order they are shown. */
static const char *const limited_maps[] = {"events", "counts", "ratelimit"};
#define N_LIMITED (sizeof(limited_maps) / sizeof(limited_maps[0]))

struct seat_tally {
	uint32_t by_state[4]; /* as stored */
	uint32_t lapsed;      /* HELD or ORDERED past expiry: AVAILABLE */
};

/* Seats of [base, base + n) by state, at now_ms. */
static void tally(const __u64 *seats, uint32_t base, uint32_t n,
		  uint32_t now_ms, struct seat_tally *t)
{
	memset(t, 0, sizeof(*t));
	for (uint32_t i = 0; i < n; i++) {
		uint64_t w = tkt_load64(&seats[base + i]);

		t->by_state[tkt_sw_state(w)]++;
		t->lapsed += tkt_sw_lapsed(w, now_ms) ? 1u : 0u;
	}
}

struct stats_fds {
	int counters, events, seats, changes, config;
	int limited[N_LIMITED];
};

static const char *const fd_names[] = {"door_counters", "events", "seats",
				       "changes", "config"};

static int *fd_slot(struct stats_fds *f, size_t i)
{
	int *fixed[] = {&f->counters, &f->events, &f->seats, &f->changes,
			&f->config};

	return i < 5 ? fixed[i] : &f->limited[i - 5];
}

#define N_FDS (5 + N_LIMITED)

static int open_fds(const struct pins_opts *o, struct stats_fds *f)
{
	for (size_t i = 0; i < N_FDS; i++)
		*fd_slot(f, i) = -1;
	for (size_t i = 0; i < N_FDS; i++) {
		int fd = pins_open(o, i < 5 ? fd_names[i] : limited_maps[i - 5]);

		if (fd < 0)
			return -fd;
		*fd_slot(f, i) = fd;
	}
	return 0;
}

static void close_fds(struct stats_fds *f)
{
	for (size_t i = 0; i < N_FDS; i++)
		if (*fd_slot(f, i) >= 0)
			close(*fd_slot(f, i));
}

/* Everything the command shows, gathered before it prints anything. */
struct stats {
	uint64_t counters[TKT_STAT_COUNT];
	uint32_t entries[N_LIMITED], max_entries[N_LIMITED];
	struct peek_ring ring;
	struct tkt_config cfg; /* key wiped once read */
	json_t *events;        /* array, built as the events are read */
};

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return (x > y) - (x < y);
}

/* The ids of the events map, sorted: at most TKT_MAX_EVENTS (twice that
 * many steps, should the map change under us). The map is an array indexed
 * by event id, so every id is there; collect_events skips the entries
 * never declared (nseats 0). */
static int event_ids(int fd, uint32_t *ids, uint32_t *n)
{
	uint32_t key = 0, next;
	void *prev = NULL;

	*n = 0;
	for (uint32_t round = 0; round < 2 * TKT_MAX_EVENTS; round++) {
		if (bpf_map_get_next_key(fd, prev, &next) < 0) {
			if (errno != ENOENT)
				return -errno;
			break;
		}
		key = next;
		prev = &key;
		if (*n < TKT_MAX_EVENTS)
			ids[(*n)++] = key;
	}
	qsort(ids, *n, sizeof(*ids), cmp_u32);
	return 0;
}

static int collect_events(const struct pins_opts *o, struct stats_fds *f,
			  struct stats *s)
{
	static uint32_t ids[TKT_MAX_EVENTS];
	uint32_t n_ids, now_ms = tkt_ms32(tkt_mono_ns());
	__u64 *seats;
	int err = event_ids(f->events, ids, &n_ids);

	if (err) {
		pins_fail(o, "cannot read events", "%s/events: %s", o->pin_dir,
			  strerror(-err));
		return PINS_EXIT_ERROR;
	}
	seats = mmap(NULL, (size_t)TKT_MAX_SEATS * sizeof(uint64_t), PROT_READ,
		     MAP_SHARED, f->seats, 0);
	if (seats == MAP_FAILED) {
		pins_fail(o, "cannot map seats", "%s/seats: %s", o->pin_dir,
			  strerror(errno));
		return PINS_EXIT_ERROR;
	}
	for (uint32_t i = 0; i < n_ids; i++) {
		struct tkt_event ev;
		struct seat_tally t;
		uint32_t n;

		if (bpf_map_lookup_elem(f->events, &ids[i], &ev) < 0 ||
		    !ev.nseats)
			continue; /* an array entry never declared */
		n = ev.base >= TKT_MAX_SEATS ? 0
		    : ev.nseats > TKT_MAX_SEATS - ev.base ? TKT_MAX_SEATS - ev.base
							  : ev.nseats;
		tally(seats, ev.base, n, now_ms, &t);
		json_array_append_new(
			s->events,
			json_pack("{s:I, s:I, s:I, s:b, s:b, s:I, s:I, s:I, s:I, s:I}",
				  "eventId", (json_int_t)ids[i], "base",
				  (json_int_t)ev.base, "nseats", (json_int_t)ev.nseats,
				  "owned", ev.owned != 0, "room",
				  (ev.flags & TKT_EVENT_ROOM) != 0, "available",
				  (json_int_t)t.by_state[TKT_SEAT_AVAILABLE], "held",
				  (json_int_t)t.by_state[TKT_SEAT_HELD], "ordered",
				  (json_int_t)t.by_state[TKT_SEAT_ORDERED], "sold",
				  (json_int_t)t.by_state[TKT_SEAT_SOLD], "lapsed",
				  (json_int_t)t.lapsed));
	}
	munmap(seats, (size_t)TKT_MAX_SEATS * sizeof(uint64_t));
	return 0;
}

static int collect(const struct pins_opts *o, struct stats_fds *f,
		   struct stats *s)
{
	__u32 zero = 0;
	int err;

	err = peek_percpu_sum(f->counters, 0, TKT_STAT_COUNT, s->counters);
	if (err) {
		pins_fail(o, "cannot read door_counters", "%s", strerror(-err));
		return PINS_EXIT_ERROR;
	}
	for (size_t i = 0; i < N_LIMITED; i++) {
		err = peek_map_limits(f->limited[i], NULL, &s->max_entries[i]);
		if (!err)
			err = peek_count_entries(f->limited[i], &s->entries[i]);
		if (err) {
			pins_fail(o, "cannot count entries", "%s/%s: %s",
				  o->pin_dir, limited_maps[i], strerror(-err));
			return PINS_EXIT_ERROR;
		}
	}
	err = peek_ring(f->changes, &s->ring);
	if (err) {
		pins_fail(o, "cannot read the ring buffer", "%s/changes: %s",
			  o->pin_dir, strerror(-err));
		return PINS_EXIT_ERROR;
	}
	if (bpf_map_lookup_elem(f->config, &zero, &s->cfg) < 0) {
		pins_fail(o, "cannot read config", "%s/config: %s", o->pin_dir,
			  strerror(errno));
		return PINS_EXIT_ERROR;
	}
	explicit_bzero(&s->cfg.key, sizeof(s->cfg.key)); /* never shown */
	s->cfg.rl_seed = 0; /* nor the rate-limit hash key */
	return collect_events(o, f, s);
}

static double fill_ratio(uint32_t n, uint32_t max)
{
	return max ? (double)n / (double)max : 0.0;
}

static int print_json(const struct pins_opts *o, struct stats *s)
{
	json_t *counters = json_object(), *maps = json_array(), *j;
	char *text;

	for (unsigned i = 0; i < TKT_STAT_COUNT; i++)
		json_object_set_new(counters, edge_stat_name(i),
				    json_integer((json_int_t)s->counters[i]));
	for (size_t i = 0; i < N_LIMITED; i++)
		json_array_append_new(
			maps, json_pack("{s:s, s:I, s:I, s:f}", "map", limited_maps[i],
					"entries", (json_int_t)s->entries[i],
					"maxEntries", (json_int_t)s->max_entries[i],
					"fill",
					fill_ratio(s->entries[i], s->max_entries[i])));
	j = json_pack("{s:s, s:o, s:o, s:{s:s, s:I, s:I, s:I, s:I}, "
		      "s:{s:I, s:b, s:I, s:I, s:I, s:I, s:I, s:I}, s:O}",
		      "pinDir", o->pin_dir, "doorCounters", counters, "maps", maps,
		      "ringbuf", "map", "changes", "sizeBytes",
		      (json_int_t)s->ring.size, "unreadBytes",
		      (json_int_t)s->ring.unread, "consumerPos",
		      (json_int_t)s->ring.consumer_pos, "producerPos",
		      (json_int_t)s->ring.producer_pos, "config", "udpPort",
		      (json_int_t)s->cfg.udp_port, "v1Served",
		      !(s->cfg.flags & TKT_CFG_NO_V1), "holdSecsDefault",
		      (json_int_t)s->cfg.hold_secs_default, "holdLimit",
		      (json_int_t)s->cfg.hold_limit, "originHoldLimit",
		      (json_int_t)s->cfg.origin_hold_limit, "rateLimit",
		      (json_int_t)s->cfg.rl_rate, "rateBurst",
		      (json_int_t)s->cfg.rl_burst, "holdLifetimeMaxSecs",
		      (json_int_t)s->cfg.hold_lifetime_max_secs, "events",
		      s->events);
	if (!j)
		return PINS_EXIT_ERROR;
	text = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(j);
	if (!text)
		return PINS_EXIT_ERROR;
	printf("%s\n", text);
	free(text);
	return PINS_EXIT_OK;
}

static void print_text(const struct pins_opts *o, const struct stats *s)
{
	size_t i;
	json_t *ev;

	printf("pin dir %s\n", o->pin_dir);
	printf("door counters (XDP, summed over CPUs):\n");
	for (unsigned c = 0; c < TKT_STAT_COUNT; c++)
		printf("  %-18s %llu\n", edge_stat_name(c),
		       (unsigned long long)s->counters[c]);
	printf("map fill:\n");
	for (i = 0; i < N_LIMITED; i++)
		printf("  %-10s %u / %u (%.2f%%)\n", limited_maps[i],
		       s->entries[i], s->max_entries[i],
		       100.0 * fill_ratio(s->entries[i], s->max_entries[i]));
	printf("ring buffer changes: %llu of %llu bytes unread (consumer %llu, "
	       "producer %llu)\n",
	       (unsigned long long)s->ring.unread, (unsigned long long)s->ring.size,
	       (unsigned long long)s->ring.consumer_pos,
	       (unsigned long long)s->ring.producer_pos);
	if (s->cfg.udp_port)
		printf("door: UDP port %u, v1 %s, hold limit %u, origin hold "
		       "limit %u, rate %u/s burst %u\n",
		       s->cfg.udp_port,
		       s->cfg.flags & TKT_CFG_NO_V1 ? "refused" : "served",
		       s->cfg.hold_limit, s->cfg.origin_hold_limit,
		       s->cfg.rl_rate, s->cfg.rl_burst);
	else
		printf("door: closed (UDP port 0: XDP passes every packet)\n");
	printf("events:%s\n", json_array_size(s->events) ? "" : " none declared");
	json_array_foreach(s->events, i, ev)
	{
#define F(name) (unsigned long long)json_integer_value(json_object_get(ev, name))
		printf("  event %llu: base %llu, %llu seats, %s%s: %llu available, "
		       "%llu held, %llu ordered, %llu sold (%llu lapsed)\n",
		       F("eventId"), F("base"), F("nseats"),
		       json_is_true(json_object_get(ev, "owned")) ? "owned"
								    : "not owned",
		       json_is_true(json_object_get(ev, "room")) ? ", waiting room"
								   : "",
		       F("available"), F("held"), F("ordered"), F("sold"),
		       F("lapsed"));
#undef F
	}
}

int ticketctl_stats(int argc, char **argv)
{
	struct pins_opts o;
	struct stats_fds f;
	struct stats s = {0};
	int first, rc;

	if (pins_parse(argc, argv, stats_usage, &o, &first, &rc) < 0)
		return rc;
	if (argc != first) {
		fputs(stats_usage, stderr);
		return PINS_EXIT_USAGE;
	}
	rc = pins_dir_check(&o);
	if (rc)
		return rc;
	s.events = json_array();
	if (!s.events)
		return PINS_EXIT_ERROR;
	rc = open_fds(&o, &f);
	if (!rc)
		rc = collect(&o, &f, &s);
	if (!rc) {
		if (o.json)
			rc = print_json(&o, &s);
		else
			print_text(&o, &s);
	}
	close_fds(&f);
	json_decref(s.events);
	return rc;
}
