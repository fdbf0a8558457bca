/* The Redis journal's writer (userspace/ticketd/seats/journal.c) against a
 * fake Redis on loopback that can answer error replies, close connections
 * or refuse XADD: an error reply is a failure and the change is retried; a
 * full queue and a batch Redis keeps refusing become seats rewritten from
 * the seat table; a stop is bounded and counts what it leaves. Real
 * threads; every wait is bounded. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bpf/seat_word.h"
#include "userspace/lib/clock.h"
#include "userspace/ticketd/commerce/catalog.h"
#include "userspace/ticketd/seats/journal.h"
#include "userspace/ticketd/seats/seat_stream.h"
#include "userspace/ticketd/seats/seat_view.h"

#define N_SEATS 64
#define EVENT 7
#define MAX_ARGS 600

struct fake {
	int lfd, port;
	pthread_t th;
	atomic_bool stop;
	atomic_int err_next;   /* answer the next N commands with -ERR */
	atomic_int close_next; /* close the next N connections at once */
	atomic_bool err_xadd;  /* every XADD gets an error reply */
	atomic_bool dup_xadd;  /* every XADD gets "equal or smaller" */
	pthread_mutex_t lock;
	int set[N_SEATS];      /* 1: last write SET, 2: last write DEL */
	int sets[N_SEATS], dels[N_SEATS]; /* SETs of the seat, DELs naming it */
	int xadds;
	char last_c[40]; /* the last XADD's "c" value (its first 39 bytes) */
};

static int parse_cmd(const char *b, size_t n, char argv[][40], int *argc)
{
	size_t p = 0;
	int k;

	if (n < 4 || b[0] != '*')
		return 0;
	k = atoi(b + 1);
	while (p < n && b[p] != '\n')
		p++;
	if (++p > n)
		return 0;
	for (int i = 0; i < k; i++) {
		int len;

		if (p >= n || b[p] != '$')
			return 0;
		len = atoi(b + p + 1);
		while (p < n && b[p] != '\n')
			p++;
		if (++p + (size_t)len + 2 > n)
			return 0;
		if (i < MAX_ARGS) {
			int c = len < 39 ? len : 39;

			memcpy(argv[i], b + p, (size_t)c);
			argv[i][c] = 0;
		}
		p += (size_t)len + 2;
	}
	*argc = k;
	return (int)p;
}

static void seat_of(struct fake *f, const char *key, int how)
{
	unsigned e, s;

	if (sscanf(key, "tkt:hold:%u:%u", &e, &s) == 2 && e == EVENT && s < N_SEATS) {
		pthread_mutex_lock(&f->lock);
		f->set[s] = how;
		if (how == 1)
			f->sets[s]++;
		else
			f->dels[s]++;
		pthread_mutex_unlock(&f->lock);
	}
}

static const char *answer(struct fake *f, char argv[][40], int argc)
{
	if (atomic_load(&f->err_next) > 0) {
		atomic_fetch_sub(&f->err_next, 1);
		return "-ERR injected\r\n";
	}
	if (!strcasecmp(argv[0], "XADD")) {
		if (atomic_load(&f->err_xadd))
			return "-WRONGTYPE injected\r\n";
		if (atomic_load(&f->dup_xadd))
			return "-ERR The ID specified in XADD is equal or smaller than the "
			       "target stream top item\r\n";
		pthread_mutex_lock(&f->lock);
		f->xadds++;
		if (argc >= 8 && argc <= MAX_ARGS)
			memcpy(f->last_c, argv[7], sizeof(f->last_c));
		pthread_mutex_unlock(&f->lock);
		return "$3\r\n1-0\r\n";
	}
	if (!strcasecmp(argv[0], "SET")) {
		seat_of(f, argv[1], 1);
		return "+OK\r\n";
	}
	if (!strcasecmp(argv[0], "DEL")) {
		for (int i = 1; i < argc && i < MAX_ARGS; i++)
			seat_of(f, argv[i], 2);
		return ":1\r\n";
	}
	return "+OK\r\n";
}

static void serve(struct fake *f, int fd)
{
	char buf[1 << 16];
	size_t have = 0;

	while (!atomic_load(&f->stop)) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		ssize_t r;
		int used, argc;
		static char argv[MAX_ARGS][40];

		if (poll(&pfd, 1, 50) <= 0)
			continue;
		r = read(fd, buf + have, sizeof(buf) - have);
		if (r <= 0)
			return;
		have += (size_t)r;
		while ((used = parse_cmd(buf, have, argv, &argc)) > 0) {
			const char *a = answer(f, argv, argc);

			if (write(fd, a, strlen(a)) < 0)
				return;
			memmove(buf, buf + used, have - (size_t)used);
			have -= (size_t)used;
		}
	}
}

static void *fake_loop(void *arg)
{
	struct fake *f = arg;

	while (!atomic_load(&f->stop)) {
		struct pollfd pfd = {.fd = f->lfd, .events = POLLIN};
		int fd;

		if (poll(&pfd, 1, 50) <= 0)
			continue;
		fd = accept(f->lfd, NULL, NULL);
		if (fd < 0)
			continue;
		if (atomic_load(&f->close_next) > 0) {
			atomic_fetch_sub(&f->close_next, 1);
			close(fd);
			continue;
		}
		serve(f, fd);
		close(fd);
	}
	return NULL;
}

static void fake_start(struct fake *f)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t len = sizeof(a);
	int one = 1;

	memset(f, 0, sizeof(*f));
	pthread_mutex_init(&f->lock, NULL);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	f->lfd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(f->lfd >= 0);
	setsockopt(f->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	assert_int_equal(bind(f->lfd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(f->lfd, 8), 0);
	getsockname(f->lfd, (struct sockaddr *)&a, &len);
	f->port = ntohs(a.sin_port);
	assert_int_equal(pthread_create(&f->th, NULL, fake_loop, f), 0);
}

static void fake_stop(struct fake *f)
{
	atomic_store(&f->stop, true);
	pthread_join(f->th, NULL);
	close(f->lfd);
}

static int fake_count(struct fake *f, const int *what)
{
	int v;

	pthread_mutex_lock(&f->lock);
	v = *what;
	pthread_mutex_unlock(&f->lock);
	return v;
}

static int fake_state(struct fake *f, uint32_t seat)
{
	int v;

	pthread_mutex_lock(&f->lock);
	v = f->set[seat];
	pthread_mutex_unlock(&f->lock);
	return v;
}

/* ---- a one-event seat table ---- */

static __u64 seats[N_SEATS];
static struct event_info event = {.id = EVENT, .n_seats = N_SEATS, .seat_base = 0};
static struct catalog cat;

/* The one event, never freed by the catalogue. */
static void cat_setup(void)
{
	if (!cat.by_id && !catalog_init(&cat)) {
		atomic_store(&cat.by_id[EVENT], &event);
		cat.max_id = EVENT;
		cat.n_events = 1;
		cat.seats_used = N_SEATS;
	}
}

static uint64_t held_word(void)
{
	uint32_t now_ms = tkt_ms32(tkt_mono_ns());

	return tkt_sw_pack(TKT_SEAT_HELD, 1, 5, now_ms + 60000);
}

static void push_hold(struct journal *j, uint32_t seat, uint64_t version)
{
	uint32_t now_ms;
	struct journal_entry e = {
		.version = version,
		.word = held_word(),
		.expiry_unix_ms = (int64_t)ticketd_unix_ms_at(&now_ms) + 60000,
		.event_id = EVENT,
		.seat_id = seat,
		.seat_index = seat,
		.status = 1,
	};

	seats[seat] = e.word;
	journal_push(j, &e);
}

static void start(struct journal *j, struct fake *f, uint32_t cap, uint32_t attempts,
		  uint32_t drain_ms)
{
	struct journal_opts o = {
		.host = "127.0.0.1",
		.port = f->port,
		.catalog = &cat,
		.seats = seats,
		.queue_cap = cap,
		.drain_ms = drain_ms,
		.batch_attempts = attempts,
		.backoff_max_ms = 100,
	};

	memset(seats, 0, sizeof(seats));
	assert_int_equal(journal_start(j, &o), 0);
}

static bool wait_count(atomic_uint_least64_t *c, uint64_t want)
{
	int64_t t0 = tkt_mono_ms();

	while (atomic_load(c) < want && tkt_mono_ms() - t0 < 5000)
		usleep(10000);
	return atomic_load(c) == want;
}

static bool wait_written(struct journal *j, uint64_t want)
{
	return wait_count(&j->written, want);
}

static bool wait_state(struct fake *f, uint32_t seat, int want)
{
	int64_t t0 = tkt_mono_ms();

	while (tkt_mono_ms() - t0 < 5000) {
		if (fake_state(f, seat) == want)
			return true;
		usleep(10000);
	}
	return false;
}

static void error_replies_are_failures_and_the_change_is_retried(void **state)
{
	struct fake f;
	struct journal j;

	(void)state;
	fake_start(&f);
	atomic_store(&f.err_next, 3);
	start(&j, &f, 0, 0, 1000);
	push_hold(&j, 3, 1);
	assert_true(wait_written(&j, 1));
	assert_int_equal(fake_state(&f, 3), 1);
	assert_true(atomic_load(&j.errors) >= 2);
	assert_true(atomic_load(&j.retries) >= 2);
	assert_int_equal(atomic_load(&j.deferred), 0);
	journal_stop(&j);
	assert_int_equal(atomic_load(&j.lost), 0);
	fake_stop(&f);
}

static void a_closed_connection_is_a_failure_and_the_change_is_retried(void **state)
{
	struct fake f;
	struct journal j;

	(void)state;
	fake_start(&f);
	atomic_store(&f.close_next, 2);
	start(&j, &f, 0, 0, 1000);
	push_hold(&j, 4, 1);
	assert_true(wait_written(&j, 1));
	assert_int_equal(fake_state(&f, 4), 1);
	assert_true(atomic_load(&j.errors) >= 2);
	journal_stop(&j);
	fake_stop(&f);
}

static void a_batch_already_written_counts_as_written(void **state)
{
	struct fake f;
	struct journal j;

	(void)state;
	fake_start(&f);
	atomic_store(&f.dup_xadd, true);
	start(&j, &f, 0, 0, 1000);
	push_hold(&j, 5, 1);
	assert_true(wait_written(&j, 1));
	assert_int_equal(atomic_load(&j.errors), 0);
	journal_stop(&j);
	fake_stop(&f);
}

/* Queue of 16 while Redis is away: 24 changes do not fit; their seats are
 * rewritten from the table once Redis is back, as the table has them then
 * (a seat released meanwhile gets a DEL, not its old hold). */
static void a_full_queue_marks_seats_that_are_rewritten_from_the_table(void **state)
{
	struct fake f;
	struct journal j;
	struct journal_backlog b;

	(void)state;
	fake_start(&f);
	atomic_store(&f.close_next, 1000000);
	start(&j, &f, 16, 0, 1000);
	for (uint32_t s = 0; s < 40; s++)
		push_hold(&j, s, s + 1);
	assert_int_equal(atomic_load(&j.dropped), 24);
	seats[39] = 0; /* released after its change was dropped */
	journal_backlog(&j, &b);
	assert_int_equal(b.queued, 16);
	assert_int_equal(b.dirty_seats, 24);
	atomic_store(&f.close_next, 0);
	for (uint32_t s = 0; s < 39; s++)
		assert_true(wait_state(&f, s, 1));
	assert_true(wait_state(&f, 39, 2));
	assert_true(wait_count(&j.repaired, 24));
	journal_backlog(&j, &b);
	assert_int_equal(b.queued + b.dirty_seats, 0);
	journal_stop(&j);
	assert_int_equal(atomic_load(&j.lost), 0);
	fake_stop(&f);
}

/* Redis refuses the stream entry for good: after batch_attempts tries the
 * batch is given up as stream entries but its seats' hold keys are still
 * written, from the table. */
static void a_batch_refused_for_good_becomes_a_repair(void **state)
{
	struct fake f;
	struct journal j;

	(void)state;
	fake_start(&f);
	atomic_store(&f.err_xadd, true);
	start(&j, &f, 0, 3, 1000);
	push_hold(&j, 9, 1);
	assert_true(wait_count(&j.repaired, 1));
	assert_int_equal(fake_state(&f, 9), 1);
	assert_int_equal(atomic_load(&j.deferred), 1);
	assert_true(atomic_load(&j.errors) >= 3);
	journal_stop(&j);
	fake_stop(&f);
}

static void a_stop_is_bounded_and_counts_what_it_leaves(void **state)
{
	struct fake f;
	struct journal j;
	int64_t t0;

	(void)state;
	fake_start(&f);
	atomic_store(&f.close_next, 1000000);
	start(&j, &f, 0, 0, 300);
	for (uint32_t s = 0; s < 5; s++)
		push_hold(&j, s, s + 1);
	t0 = tkt_mono_ms();
	journal_stop(&j);
	assert_true(tkt_mono_ms() - t0 < 3000);
	assert_int_equal(atomic_load(&j.lost), 5);
	assert_int_equal(atomic_load(&j.written), 0);
	fake_stop(&f);
}

static void a_stop_writes_what_is_queued(void **state)
{
	struct fake f;
	struct journal j;

	(void)state;
	fake_start(&f);
	start(&j, &f, 0, 0, 5000);
	for (uint32_t s = 0; s < N_SEATS; s++)
		push_hold(&j, s, s + 1);
	journal_stop(&j);
	for (uint32_t s = 0; s < N_SEATS; s++)
		assert_int_equal(fake_state(&f, s), 1);
	assert_int_equal(atomic_load(&j.lost), 0);
	fake_stop(&f);
}

static void repair_all_rewrites_every_seat_from_the_table(void **state)
{
	struct fake f;
	struct journal j;

	(void)state;
	fake_start(&f);
	start(&j, &f, 0, 0, 1000);
	seats[10] = held_word();
	journal_repair_all(&j);
	assert_true(wait_state(&f, 10, 1));
	assert_true(wait_state(&f, 11, 2));
	assert_true(wait_count(&j.repaired, N_SEATS));
	journal_stop(&j);
	fake_stop(&f);
}

/* A change of seat (held or released), as the seat stream's sink makes it. */
static struct journal_entry change(uint32_t seat, uint64_t version, bool held)
{
	uint32_t now_ms;
	struct journal_entry e = {
		.version = version,
		.word = held ? held_word() : 0,
		.expiry_unix_ms = held ? (int64_t)ticketd_unix_ms_at(&now_ms) + 60000 : 0,
		.event_id = EVENT,
		.seat_id = seat,
		.seat_index = seat,
		.status = held ? 1 : 0,
	};

	seats[seat] = e.word;
	return e;
}

/* One pushed batch is one pipeline (one round trip) with one stream entry;
 * each seat's hold key gets only its last state: held, released, held
 * again is one SET; held then released is one DEL. */
static void a_batch_is_one_pipeline_with_the_last_state_per_seat(void **state)
{
	struct fake f;
	struct journal j;
	struct journal_entry b[6];

	(void)state;
	fake_start(&f);
	start(&j, &f, 0, 0, 1000);
	b[0] = change(1, 1, true);
	b[1] = change(1, 2, false);
	b[2] = change(1, 3, true);
	b[3] = change(2, 4, true);
	b[4] = change(3, 5, true);
	b[5] = change(3, 6, false);
	journal_push_batch(&j, b, 6);
	assert_true(wait_written(&j, 6));
	assert_int_equal(atomic_load(&j.round_trips), 1);
	assert_int_equal(fake_count(&f, &f.xadds), 1);
	assert_int_equal(fake_count(&f, &f.sets[1]), 1);
	assert_int_equal(fake_count(&f, &f.dels[1]), 0);
	assert_int_equal(fake_count(&f, &f.sets[2]), 1);
	assert_int_equal(fake_count(&f, &f.sets[3]), 0);
	assert_int_equal(fake_count(&f, &f.dels[3]), 1);
	assert_int_equal(fake_state(&f, 1), 1);
	assert_int_equal(fake_state(&f, 3), 2);
	/* the stream entry keeps every change, in version order, each
	 * version after the first implied */
	{
		struct seat_event ev[8];
		static const uint32_t seat[6] = {1, 1, 1, 2, 3, 3};
		static const uint8_t st[6] = {1, 0, 1, 1, 1, 0};
		char c[40];
		int n = 0;

		pthread_mutex_lock(&f.lock);
		memcpy(c, f.last_c, sizeof(c));
		pthread_mutex_unlock(&f.lock);
		assert_string_equal(c, "1:1:1;1:0;1:1;2:1;3:1;3:0");
		assert_int_equal(journal_unpack_changes(c, 0, ev, 8, &n), 0);
		assert_int_equal(n, 6);
		for (int i = 0; i < 6; i++) {
			assert_int_equal(ev[i].version, (uint64_t)i + 1);
			assert_int_equal(ev[i].seat_id, seat[i]);
			assert_int_equal(ev[i].status, st[i]);
		}
	}
	journal_stop(&j);
	assert_int_equal(atomic_load(&j.lost), 0);
	fake_stop(&f);
}

/* A stream entry's "c": every version written ("v:s:st", older journals),
 * or left out where it is the previous one's next; a gap writes it again;
 * only versions after `after` are kept; a malformed token ends the entry. */
static void stream_text_unpacks_every_form(void **state)
{
	struct seat_event ev[8];
	int n = 0;

	(void)state;
	assert_int_equal(journal_unpack_changes("4294967297:5:1;4294967298:5:0", 0, ev, 8, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(ev[1].version, 4294967298ull);
	assert_int_equal(ev[1].seat_id, 5);
	assert_int_equal(ev[1].status, 0);
	n = 0;
	assert_int_equal(journal_unpack_changes("10:1:1;2:1;20:3:2;4:0", 10, ev, 8, &n), 0);
	assert_int_equal(n, 3);
	assert_int_equal(ev[0].version, 11);
	assert_int_equal(ev[0].seat_id, 2);
	assert_int_equal(ev[1].version, 20);
	assert_int_equal(ev[1].status, 2);
	assert_int_equal(ev[2].version, 21);
	assert_int_equal(ev[2].seat_id, 4);
	n = 0;
	assert_int_equal(journal_unpack_changes("10:1:1;2:1", 0, ev, 1, &n), 0);
	assert_int_equal(n, 1); /* max */
	n = 0;
	assert_int_equal(journal_unpack_changes("5:1;6:1:1", 0, ev, 8, &n), -1);
	assert_int_equal(n, 0); /* no version to follow */
	n = 0;
	assert_int_equal(journal_unpack_changes("7:1:1;x;8:1:0", 0, ev, 8, &n), -1);
	assert_int_equal(n, 1);
	n = 0;
	assert_int_equal(journal_unpack_changes("7:1:1:1", 0, ev, 8, &n), -1);
	assert_int_equal(n, 0);
}

/* A key this run has deleted and not written since is known absent: a
 * hold and its release within one later batch cost no hold-key command at
 * all. A key it never deleted may be left from an earlier run: its release
 * is always a DEL. */
static void a_key_known_absent_gets_no_del(void **state)
{
	struct fake f;
	struct journal j;
	struct journal_entry b[2];

	(void)state;
	fake_start(&f);
	start(&j, &f, 0, 0, 1000);
	b[0] = change(4, 1, true);
	journal_push_batch(&j, b, 1);
	assert_true(wait_written(&j, 1));
	b[0] = change(4, 2, false);
	journal_push_batch(&j, b, 1);
	assert_true(wait_written(&j, 2));
	assert_int_equal(fake_count(&f, &f.sets[4]), 1);
	assert_int_equal(fake_count(&f, &f.dels[4]), 1);
	b[0] = change(4, 3, true);
	b[1] = change(4, 4, false);
	journal_push_batch(&j, b, 2);
	assert_true(wait_written(&j, 4));
	assert_int_equal(fake_count(&f, &f.sets[4]), 1);
	assert_int_equal(fake_count(&f, &f.dels[4]), 1);
	assert_int_equal(atomic_load(&j.dels_skipped), 1);
	/* seat 5: never written by this run */
	b[0] = change(5, 5, false);
	journal_push_batch(&j, b, 1);
	assert_true(wait_written(&j, 5));
	assert_int_equal(fake_count(&f, &f.dels[5]), 1);
	assert_int_equal(fake_count(&f, &f.xadds), 4);
	journal_stop(&j);
	fake_stop(&f);
}

/* A DEL Redis refused leaves the key possibly there: the next release of
 * that seat sends its DEL again. */
static void a_refused_del_is_not_taken_as_done(void **state)
{
	struct fake f;
	struct journal j;
	struct journal_entry b[2];

	(void)state;
	fake_start(&f);
	start(&j, &f, 0, 5, 1000);
	b[0] = change(6, 1, true);
	journal_push_batch(&j, b, 1);
	assert_true(wait_written(&j, 1));
	/* the release's pipeline: XADD refused, DEL taken; then retried */
	atomic_store(&f.err_next, 1);
	b[0] = change(6, 2, false);
	journal_push_batch(&j, b, 1);
	assert_true(wait_written(&j, 2));
	assert_true(atomic_load(&j.errors) >= 1);
	assert_int_equal(fake_count(&f, &f.dels[6]), 2);
	journal_stop(&j);
	fake_stop(&f);
}

/* Changes pushed one by one within the linger time after a pipeline go out
 * together in the next one, not one pipeline each. */
static void changes_within_the_linger_share_one_pipeline(void **state)
{
	struct fake f;
	struct journal j;
	struct journal_entry b[1];
	struct journal_opts o = {
		.host = "127.0.0.1",
		.catalog = &cat,
		.seats = seats,
		.drain_ms = 1000,
		.backoff_max_ms = 100,
		.linger_ms = 300,
	};

	(void)state;
	fake_start(&f);
	o.port = f.port;
	memset(seats, 0, sizeof(seats));
	assert_int_equal(journal_start(&j, &o), 0);
	b[0] = change(0, 1, true);
	journal_push_batch(&j, b, 1); /* nothing sent before: at once */
	assert_true(wait_written(&j, 1));
	assert_int_equal(atomic_load(&j.round_trips), 1);
	for (uint32_t s = 1; s <= 10; s++) {
		b[0] = change(s, s + 1, true);
		journal_push_batch(&j, b, 1);
		usleep(2000);
	}
	assert_true(wait_written(&j, 11));
	assert_int_equal(atomic_load(&j.round_trips), 2);
	assert_int_equal(fake_count(&f, &f.xadds), 2);
	for (uint32_t s = 0; s <= 10; s++)
		assert_int_equal(fake_state(&f, s), 1);
	journal_stop(&j);
	assert_int_equal(atomic_load(&j.lost), 0);
	fake_stop(&f);
}

/* A writer idle on an empty queue once the linger is over is woken by the
 * next push and writes it at once (pushes while it lingers do not wake
 * it; the linger test above shows they still go out together). */
static void a_push_wakes_an_idle_writer_at_once(void **state)
{
	struct fake f;
	struct journal j;
	struct journal_entry b[1];
	struct journal_opts o = {
		.host = "127.0.0.1",
		.catalog = &cat,
		.seats = seats,
		.drain_ms = 1000,
		.backoff_max_ms = 100,
		.linger_ms = 200,
	};
	int64_t t0;

	(void)state;
	fake_start(&f);
	o.port = f.port;
	memset(seats, 0, sizeof(seats));
	assert_int_equal(journal_start(&j, &o), 0);
	b[0] = change(0, 1, true);
	journal_push_batch(&j, b, 1);
	assert_true(wait_written(&j, 1));
	usleep(300 * 1000); /* past the linger: the writer sleeps, idle */
	b[0] = change(1, 2, true);
	t0 = tkt_mono_ms();
	journal_push_batch(&j, b, 1);
	assert_true(wait_written(&j, 2));
	assert_true(tkt_mono_ms() - t0 < 150);
	assert_int_equal(atomic_load(&j.round_trips), 2);
	journal_stop(&j);
	assert_int_equal(atomic_load(&j.lost), 0);
	fake_stop(&f);
}

int main(void)
{
	cat_setup();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(changes_within_the_linger_share_one_pipeline),
		cmocka_unit_test(a_push_wakes_an_idle_writer_at_once),
		cmocka_unit_test(stream_text_unpacks_every_form),
		cmocka_unit_test(a_batch_is_one_pipeline_with_the_last_state_per_seat),
		cmocka_unit_test(a_key_known_absent_gets_no_del),
		cmocka_unit_test(a_refused_del_is_not_taken_as_done),
		cmocka_unit_test(error_replies_are_failures_and_the_change_is_retried),
		cmocka_unit_test(a_closed_connection_is_a_failure_and_the_change_is_retried),
		cmocka_unit_test(a_batch_already_written_counts_as_written),
		cmocka_unit_test(a_full_queue_marks_seats_that_are_rewritten_from_the_table),
		cmocka_unit_test(a_batch_refused_for_good_becomes_a_repair),
		cmocka_unit_test(a_stop_is_bounded_and_counts_what_it_leaves),
		cmocka_unit_test(a_stop_writes_what_is_queued),
		cmocka_unit_test(repair_all_rewrites_every_seat_from_the_table),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
