/* Outbox relay, inbox and consumer helper against a real MariaDB and a real
 * Kafka (integration: start them with infra/ first). Pins:
 * - rows appended in a committed transaction reach Kafka in id order per
 *   key, with their key, payload and the outbox-id header, and are marked
 *   sent;
 * - a rolled-back transaction's row never reaches Kafka;
 * - while Kafka is down rows stay unsent; when it is back all of them are
 *   delivered, in order, none lost (stops and starts the broker with
 *   infra/kafka.sh: needs RUN_DIR, KAFKA_PORT, KAFKA_CONTROLLER_PORT);
 * - inbox_claim answers 1 once, then 0; a rolled-back claim does not count;
 * - a handler that fails is called again for the same message before any
 *   later message of its partition;
 * - only one relay per database is active; the relay takes its lock again
 *   and carries on after MariaDB restarts (infra/mariadb.sh, same env);
 * - sent rows older than the prune age are deleted; so are inbox claims
 *   older than inbox_keep_s, newer ones stay;
 * - a row the broker refuses for good (too large for the topic) and one the
 *   client refuses (larger than message.max.bytes) are moved to
 *   outbox_parked and counted; the later row of the parked key is held,
 *   other keys flow; discarding the parked row lets the held one go;
 * - commit + kick to acknowledgement latency (printed);
 * - with a 10 s idle poll and no kick, a row reaches Kafka within a few ms
 *   of its commit because outbox_append signals the relay (latency and
 *   relay SELECTs per row printed); a row whose transaction commits after
 *   a later row's, inside the relay's re-read steps, goes too; the signal
 *   has one registration per process;
 * - the producer compresses (lz4 by default; zstd works too, an unknown
 *   codec is refused at start);
 * - outbox_append_many writes its rows in order with one signal; they reach
 *   Kafka in id order; one invalid row refuses the whole call, nothing
 *   written;
 * - inbox_claim_many claims new ids in one statement and reports the ones
 *   processed before; a consumer batch whose transaction fails is handed
 *   again as a whole and every message is applied exactly once;
 * - a steady trickle reaches a default consumer in about one fetch response
 *   per fetch wait, not one per produce request (fetch.min.bytes 65536).
 * Env: MARIADB_HOST (127.0.0.1), MARIADB_PORT (3317), KAFKA_PORT (9102),
 * REPO_DIR (.) where infra/kafka.sh lives. The test uses its own topic
 * (outbox-test.<pid>.<time>) and deletes its rows and topic at the end. It
 * assumes no other outbox relay runs against the same database. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <inttypes.h>
#include <librdkafka/rdkafka.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "userspace/lib/log.h"
#include "userspace/ticketd/config.h"
#include "userspace/ticketd/db/db.h"
#include "userspace/ticketd/messaging/inbox.h"
#include "userspace/ticketd/messaging/kafka_consumer.h"
#include "userspace/ticketd/messaging/outbox.h"
#include "userspace/ticketd/messaging/outbox_relay.h"

#define MAX_SEEN 20000
#define TOPIC_MAX_MESSAGE_BYTES "100000"

struct seen {
	uint64_t id;
	char key[64];
	char payload[128];
};

static struct {
	struct db_pool db;
	struct outbox_relay relay;
	struct kafka_consumer consumer;
	char bootstrap[64];
	char topic[96];
	char inbox_consumer[64];

	pthread_mutex_t lock; /* guards seen, n_seen, effects, duplicates,
			       * fail_once_id */
	struct seen *seen;
	size_t n_seen;
	int effects, duplicates;
	uint64_t fail_once_id; /* the handler refuses this id once */
} T = {.lock = PTHREAD_MUTEX_INITIALIZER};

static int64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* CPU seconds this process used so far (all threads). */
static double cpu_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static const char *env_or(const char *name, const char *dflt)
{
	const char *v = getenv(name);

	return v && *v ? v : dflt;
}

/* ---- Kafka side ------------------------------------------------------------ */

static int admin_topic(const char *topic, bool create)
{
	char err[512];
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	rd_kafka_t *rk;
	rd_kafka_queue_t *q;
	rd_kafka_event_t *ev;
	int rc = -EIO;

	if (rd_kafka_conf_set(conf, "bootstrap.servers", T.bootstrap, err,
			      sizeof(err)) != RD_KAFKA_CONF_OK)
		return -EINVAL;
	rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
	if (!rk)
		return -EINVAL;
	q = rd_kafka_queue_new(rk);
	if (create) {
		rd_kafka_NewTopic_t *nt =
			rd_kafka_NewTopic_new(topic, 3, 1, err, sizeof(err));

		/* Small enough that the poisoned-row test can write a row the
		 * broker refuses, large enough for every batch of small rows. */
		rd_kafka_NewTopic_set_config(nt, "max.message.bytes",
					     TOPIC_MAX_MESSAGE_BYTES);

		rd_kafka_CreateTopics(rk, &nt, 1, NULL, q);
		rd_kafka_NewTopic_destroy(nt);
	} else {
		rd_kafka_DeleteTopic_t *dt = rd_kafka_DeleteTopic_new(topic);

		rd_kafka_DeleteTopics(rk, &dt, 1, NULL, q);
		rd_kafka_DeleteTopic_destroy(dt);
	}
	ev = rd_kafka_queue_poll(q, 30000);
	if (ev) {
		const rd_kafka_topic_result_t **res;
		size_t n = 0;

		if (create)
			res = rd_kafka_CreateTopics_result_topics(
				rd_kafka_event_CreateTopics_result(ev), &n);
		else
			res = rd_kafka_DeleteTopics_result_topics(
				rd_kafka_event_DeleteTopics_result(ev), &n);
		if (rd_kafka_event_error(ev))
			print_error("admin: %s\n", rd_kafka_event_error_string(ev));
		else if (n == 1 && !rd_kafka_topic_result_error(res[0]))
			rc = 0;
		else if (n == 1)
			print_error("admin %s: %s\n", topic,
				    rd_kafka_topic_result_error_string(res[0]));
		rd_kafka_event_destroy(ev);
	}
	rd_kafka_queue_destroy(q);
	rd_kafka_destroy(rk);
	return rc;
}

/* The consumer's handler: records what arrived and applies it through the
 * inbox, the way ticketd's consumers will. */
static int on_message(void *arg, const struct kafka_message *m)
{
	MYSQL *conn;
	int rc;

	(void)arg;
	if (strcmp(m->topic, T.topic))
		return 0;
	pthread_mutex_lock(&T.lock);
	if (m->outbox_id && m->outbox_id == T.fail_once_id) {
		T.fail_once_id = 0;
		pthread_mutex_unlock(&T.lock);
		return -EAGAIN;
	}
	pthread_mutex_unlock(&T.lock);
	conn = db_get_timed(&T.db, 5000);
	if (mysql_query(conn, "START TRANSACTION")) {
		db_put(&T.db, conn);
		return -EIO;
	}
	rc = inbox_claim(conn, T.inbox_consumer, m->outbox_id_str);
	if (rc < 0 || mysql_commit(conn)) {
		mysql_rollback(conn);
		db_put(&T.db, conn);
		return rc < 0 ? rc : -EIO;
	}
	db_put(&T.db, conn);

	pthread_mutex_lock(&T.lock);
	if (rc == 1)
		T.effects++;
	else
		T.duplicates++;
	if (T.n_seen < MAX_SEEN) {
		struct seen *s = &T.seen[T.n_seen++];

		s->id = m->outbox_id;
		snprintf(s->key, sizeof(s->key), "%.*s", (int)m->key_len,
			 (const char *)m->key);
		snprintf(s->payload, sizeof(s->payload), "%.*s",
			 (int)m->payload_len, (const char *)m->payload);
	}
	pthread_mutex_unlock(&T.lock);
	return 0;
}

/* Index of the first arrival of id, or -1. */
static long first_seen(uint64_t id)
{
	long at = -1;

	pthread_mutex_lock(&T.lock);
	for (size_t i = 0; i < T.n_seen; i++)
		if (T.seen[i].id == id) {
			at = (long)i;
			break;
		}
	pthread_mutex_unlock(&T.lock);
	return at;
}

static bool all_seen(const uint64_t *ids, int n, int timeout_ms)
{
	int64_t until = now_us() + (int64_t)timeout_ms * 1000;

	do {
		int i;

		for (i = 0; i < n && first_seen(ids[i]) >= 0; i++)
			;
		if (i == n)
			return true;
		usleep(5000);
	} while (now_us() < until);
	return false;
}

/* ---- MariaDB side ---------------------------------------------------------- */

static void begin(MYSQL *conn)
{
	assert_int_equal(mysql_query(conn, "START TRANSACTION"), 0);
}

static long long query_ll(const char *sql, const char *param)
{
	MYSQL *conn = db_get_timed(&T.db, 5000);
	MYSQL_STMT *st = mysql_stmt_init(conn);
	MYSQL_BIND p = {0}, r = {0};
	unsigned long plen = param ? strlen(param) : 0;
	long long v = -1;

	assert_non_null(st);
	assert_int_equal(mysql_stmt_prepare(st, sql, strlen(sql)), 0);
	if (param) {
		p.buffer_type = MYSQL_TYPE_STRING;
		p.buffer = (void *)param;
		p.buffer_length = plen;
		p.length = &plen;
		assert_int_equal(mysql_stmt_bind_param(st, &p), 0);
	}
	assert_int_equal(mysql_stmt_execute(st), 0);
	r.buffer_type = MYSQL_TYPE_LONGLONG;
	r.buffer = &v;
	assert_int_equal(mysql_stmt_bind_result(st, &r), 0);
	assert_int_equal(mysql_stmt_fetch(st), 0);
	mysql_stmt_close(st);
	db_put(&T.db, conn);
	return v;
}

static long long unsent_rows(void)
{
	return query_ll("SELECT COUNT(*) FROM outbox WHERE topic = ? AND sent_at IS NULL",
			T.topic);
}

static bool wait_all_sent(int timeout_ms)
{
	int64_t until = now_us() + (int64_t)timeout_ms * 1000;

	do {
		if (unsent_rows() == 0)
			return true;
		usleep(10000);
	} while (now_us() < until);
	return false;
}

/* Appends n rows for nkeys keys (<key_prefix>-<i mod nkeys>) in one
 * committed transaction, then kicks the relay; ids and keys of the rows go
 * to ids[]/keys[]. */
static void append_committed(const char *tag, const char *key_prefix, int n,
			     int nkeys, uint64_t *ids, char (*keys)[64])
{
	MYSQL *conn = db_get_timed(&T.db, 5000);

	begin(conn);
	for (int i = 0; i < n; i++) {
		char payload[128];

		snprintf(keys[i], 64, "%s-%d", key_prefix, i % nkeys);
		snprintf(payload, sizeof(payload), "{\"tag\":\"%s\",\"n\":%d}", tag, i);
		assert_int_equal(outbox_append_id(conn, T.topic, keys[i], payload,
						  &ids[i]),
				 0);
	}
	assert_int_equal(mysql_commit(conn), 0);
	db_put(&T.db, conn);
	outbox_relay_kick(&T.relay);
}

/* For every key, the first arrivals of its ids are in id order, and every id
 * arrived with its key. */
static void assert_order_per_key(const uint64_t *ids, char (*keys)[64], int n)
{
	for (int i = 0; i < n; i++) {
		long at = first_seen(ids[i]);

		assert_true(at >= 0);
		pthread_mutex_lock(&T.lock);
		assert_string_equal(T.seen[at].key, keys[i]);
		pthread_mutex_unlock(&T.lock);
		for (int j = i + 1; j < n; j++)
			if (!strcmp(keys[i], keys[j])) {
				assert_true(ids[j] > ids[i]);
				assert_true(first_seen(ids[j]) > at);
			}
	}
}

static int run_sql(const char *sql, const char *param);

/* ---- tests ---------------------------------------------------------------- */

static void committed_rows_reach_kafka_in_id_order_with_key_and_header(void **state)
{
	uint64_t ids[60];
	char keys[60][64];
	char expect[128];

	(void)state;
	append_committed("commit", "commit-key", 60, 4, ids, keys);
	assert_true(all_seen(ids, 60, 20000));
	assert_order_per_key(ids, keys, 60);
	/* Payload untouched, and the header carried the row id. */
	snprintf(expect, sizeof(expect), "{\"tag\":\"commit\",\"n\":%d}", 7);
	pthread_mutex_lock(&T.lock);
	for (size_t i = 0; i < T.n_seen; i++)
		if (T.seen[i].id == ids[7])
			assert_string_equal(T.seen[i].payload, expect);
	pthread_mutex_unlock(&T.lock);
	/* Delivered rows end up marked sent. */
	assert_true(wait_all_sent(5000));
}

static void rolled_back_row_never_reaches_kafka(void **state)
{
	MYSQL *conn = db_get_timed(&T.db, 5000);
	uint64_t rolled = 0, marker[1];
	char keys[1][64];

	(void)state;
	begin(conn);
	assert_int_equal(outbox_append_id(conn, T.topic, "rollback-key", "{}", &rolled),
			 0);
	assert_int_equal(mysql_rollback(conn), 0);
	db_put(&T.db, conn);
	outbox_relay_kick(&T.relay);
	append_committed("after-rollback", "marker", 1, 1, marker, keys);
	assert_true(all_seen(marker, 1, 20000));
	usleep(300000);
	assert_true(rolled > 0 && rolled < marker[0]);
	assert_int_equal(first_seen(rolled), -1);
	pthread_mutex_lock(&T.lock);
	for (size_t i = 0; i < T.n_seen; i++)
		assert_string_not_equal(T.seen[i].key, "rollback-key");
	pthread_mutex_unlock(&T.lock);
	assert_int_equal(query_ll("SELECT COUNT(*) FROM outbox WHERE msg_key = ?",
				  "rollback-key"),
			 0);
}

static void failed_handler_call_is_retried_before_later_messages(void **state)
{
	uint64_t ids[12];
	char keys[12][64];
	struct kafka_consumer_stats before, after;
	MYSQL *conn = db_get_timed(&T.db, 5000);

	(void)state;
	kafka_consumer_stats(&T.consumer, &before);
	/* Decide the refused id before the rows exist: the transaction holds
	 * them back until commit, the handler sees them only after. */
	begin(conn);
	for (int i = 0; i < 12; i++) {
		snprintf(keys[i], 64, "retry-key");
		assert_int_equal(outbox_append_id(conn, T.topic, keys[i], "{}", &ids[i]),
				 0);
	}
	pthread_mutex_lock(&T.lock);
	T.fail_once_id = ids[4];
	pthread_mutex_unlock(&T.lock);
	assert_int_equal(mysql_commit(conn), 0);
	db_put(&T.db, conn);
	outbox_relay_kick(&T.relay);
	assert_true(all_seen(ids, 12, 20000));
	assert_order_per_key(ids, keys, 12);
	kafka_consumer_stats(&T.consumer, &after);
	assert_int_equal(after.handler_failures, before.handler_failures + 1);
}

static void append_outside_a_transaction_is_refused(void **state)
{
	MYSQL *conn = db_get_timed(&T.db, 5000);

	(void)state;
	assert_int_equal(outbox_append(conn, T.topic, "k", "{}"), -EINVAL);
	assert_int_equal(inbox_claim(conn, "c", "1"), -EINVAL);
	begin(conn);
	assert_int_equal(outbox_append(conn, T.topic, "", "{}"), -EINVAL);
	assert_int_equal(mysql_rollback(conn), 0);
	db_put(&T.db, conn);
}

static void inbox_claim_is_true_once_then_false(void **state)
{
	MYSQL *conn = db_get_timed(&T.db, 5000);
	char consumer[64], id[32];

	(void)state;
	snprintf(consumer, sizeof(consumer), "%s-claim", T.inbox_consumer);
	snprintf(id, sizeof(id), "m-%ld", (long)time(NULL));
	begin(conn);
	assert_int_equal(inbox_claim(conn, consumer, id), 1);
	assert_int_equal(mysql_commit(conn), 0);
	begin(conn);
	assert_int_equal(inbox_claim(conn, consumer, id), 0);
	/* The duplicate undid only its own statement: the transaction goes on. */
	assert_int_equal(inbox_claim(conn, consumer, "another"), 1);
	assert_int_equal(mysql_commit(conn), 0);
	/* A rolled-back claim leaves the message unclaimed. */
	begin(conn);
	assert_int_equal(inbox_claim(conn, consumer, "rolled"), 1);
	assert_int_equal(mysql_rollback(conn), 0);
	begin(conn);
	assert_int_equal(inbox_claim(conn, consumer, "rolled"), 1);
	assert_int_equal(mysql_commit(conn), 0);
	db_put(&T.db, conn);
	assert_int_equal(query_ll("SELECT COUNT(*) FROM inbox WHERE consumer = ?",
				  consumer),
			 3);
}

/* True when this test may stop and start services through infra/<script>
 * (it needs the env the services were started with). */
static bool can_restart(const char *script)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/infra/%s", env_or("REPO_DIR", "."), script);
	if (getenv("RUN_DIR") && !access(path, R_OK))
		return true;
	print_message("RUN_DIR unset or %s missing: cannot restart the service\n",
		      path);
	return false;
}

/* Runs infra/<script> verb (same env: RUN_DIR, ports); on failure shows its
 * output and tries once more, so a flaky start does not leave the service
 * down for the tests after this one. */
static int run_infra(const char *script, const char *verb)
{
	char cmd[1024];
	int rc = -1;

	for (int attempt = 0; attempt < 2 && rc; attempt++) {
		snprintf(cmd, sizeof(cmd),
			 "cd '%s' && out=$(bash infra/%s %s 2>&1) ||"
			 " { printf '%%s\n' \"$out\" | tail -20 >&2; exit 1; }",
			 env_or("REPO_DIR", "."), script, verb);
		rc = system(cmd);
	}
	return rc;
}

static void rows_stay_unsent_while_kafka_is_down_then_all_arrive_in_order(void **state)
{
	enum { N = 90, BATCHES = 3 };
	uint64_t ids[N];
	char keys[N][64];
	struct outbox_relay_stats before, during;
	double cpu;

	(void)state;
	if (!can_restart("kafka.sh"))
		skip();
	assert_true(wait_all_sent(10000));
	assert_int_equal(run_infra("kafka.sh", "stop"), 0);
	outbox_relay_stats(&T.relay, &before);
	for (int b = 0; b < BATCHES; b++) {
		char tag[32];

		snprintf(tag, sizeof(tag), "outage%d", b);
		/* The same five keys in every transaction. */
		append_committed(tag, "outage-key", N / BATCHES, 5,
				 ids + b * (N / BATCHES), keys + b * (N / BATCHES));
		usleep(200000);
	}
	/* Waiting for the broker costs next to no CPU: nothing spins. */
	cpu = cpu_seconds();
	sleep(3);
	cpu = cpu_seconds() - cpu;
	print_message("outage: %.3f s CPU in 3 s while Kafka was down\n", cpu);
	assert_true(cpu < 0.3);
	outbox_relay_stats(&T.relay, &during);
	assert_int_equal(unsent_rows(), N);
	assert_int_equal(during.rows_sent, before.rows_sent);

	assert_int_equal(run_infra("kafka.sh", "start"), 0);
	assert_true(wait_all_sent(60000));
	assert_true(all_seen(ids, N, 30000));
	assert_order_per_key(ids, keys, N);
	print_message("outage: %d rows delivered after the broker came back; "
		      "%d duplicates so far (de-duplicated by the inbox)\n",
		      N, T.duplicates);
}

static void second_relay_stands_by(void **state)
{
	struct outbox_relay second;
	struct outbox_relay_stats st;
	char err[256];

	(void)state;
	assert_int_equal(outbox_relay_start(&second, &T.db, T.bootstrap, NULL, err,
					    sizeof(err)),
			 0);
	usleep(1000000);
	outbox_relay_stats(&second, &st);
	assert_false(st.leader);
	outbox_relay_stats(&T.relay, &st);
	assert_true(st.leader);
	outbox_relay_stop(&second);
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

static void commit_to_ack_latency_is_a_few_ms(void **state)
{
	enum { N = 200 };
	int64_t lat[N];
	struct outbox_relay_stats st;
	char *buf = NULL;
	size_t len = 0, cap = 0;

	struct outbox_relay_stats st0;

	(void)state;
	assert_true(wait_all_sent(10000));
	outbox_relay_stats(&T.relay, &st0);
	for (int i = 0; i < N; i++) {
		MYSQL *conn = db_get_timed(&T.db, 5000);
		uint64_t id;
		int64_t t0;

		begin(conn);
		assert_int_equal(outbox_append_id(conn, T.topic, "latency", "{}", &id),
				 0);
		assert_int_equal(mysql_commit(conn), 0);
		db_put(&T.db, conn);
		t0 = now_us();
		outbox_relay_kick(&T.relay);
		do {
			outbox_relay_stats(&T.relay, &st);
			if (st.last_sent_id >= id)
				break;
			usleep(50);
		} while (now_us() - t0 < 5000000);
		assert_true(st.last_sent_id >= id);
		lat[i] = now_us() - t0;
	}
	qsort(lat, N, sizeof(lat[0]), cmp_i64);
	print_message("commit+kick -> acked and marked sent, %d rows: p50 %.2f ms, "
		      "p90 %.2f ms, p99 %.2f ms, max %.2f ms; relay SELECTs %.2f a row "
		      "(%.2f empty)\n",
		      N, lat[N / 2] / 1e3, lat[N * 9 / 10] / 1e3,
		      lat[N * 99 / 100] / 1e3, lat[N - 1] / 1e3,
		      (double)(st.reads - st0.reads) / N,
		      (double)(st.empty_reads - st0.empty_reads) / N);
	assert_true(lat[N / 2] < 50000);

	assert_int_equal(outbox_relay_render_metrics(&T.relay, &buf, &len, &cap), 0);
	assert_non_null(strstr(buf, "ticketd_outbox_rows_sent_total "));
	assert_non_null(strstr(buf, "ticketd_outbox_backlog_rows "));
	assert_non_null(strstr(buf, "ticketd_outbox_relay_lag_seconds "));
	assert_non_null(strstr(buf, "ticketd_outbox_publish_delay_seconds_count "));
	free(buf);
}

/* Restarts T.relay with a 10 s idle poll: from then on only the new-row
 * signal (or a kick) makes it read soon. */
static void restart_relay_polling_rarely(void)
{
	struct outbox_relay_opts o;
	struct outbox_relay_stats st;
	char err[256];
	int64_t until;

	outbox_relay_stop(&T.relay);
	outbox_relay_default_opts(&o);
	o.idle_poll_ms = 10000;
	assert_int_equal(outbox_relay_start(&T.relay, &T.db, T.bootstrap, &o, err,
					    sizeof(err)),
			 0);
	until = now_us() + 10000000;
	do {
		outbox_relay_stats(&T.relay, &st);
		if (st.leader && st.reads > 0)
			break;
		usleep(5000);
	} while (now_us() < until);
	assert_true(st.leader);
	/* A new producer's first message waits for its producer id and the
	 * topic's metadata: not what the tests below measure. */
	{
		uint64_t id;
		char key[1][64];

		append_committed("warm-up", "warm", 1, 1, &id, key);
		assert_true(wait_all_sent(10000));
	}
}

static bool wait_sent(uint64_t id, int timeout_ms)
{
	struct outbox_relay_stats st;
	int64_t until = now_us() + (int64_t)timeout_ms * 1000;

	do {
		outbox_relay_stats(&T.relay, &st);
		if (st.last_sent_id >= id)
			return true;
		usleep(100);
	} while (now_us() < until);
	return false;
}

static void signalled_rows_reach_kafka_without_kick_or_idle_poll(void **state)
{
	enum { N = 100 };
	int64_t lat[N];
	struct outbox_relay_stats st0, st1;

	(void)state;
	assert_true(wait_all_sent(10000));
	restart_relay_polling_rarely();
	/* One registration per process: the relay holds it. */
	assert_int_equal(outbox_wake_register(outbox_relay_notify, &lat), -EBUSY);
	outbox_relay_stats(&T.relay, &st0);
	for (int i = 0; i < N; i++) {
		MYSQL *conn = db_get_timed(&T.db, 5000);
		uint64_t id;
		int64_t t0;

		begin(conn);
		assert_int_equal(outbox_append_id(conn, T.topic, "signal", "{}", &id), 0);
		assert_int_equal(mysql_commit(conn), 0);
		db_put(&T.db, conn);
		t0 = now_us();
		/* No kick: the idle poll is 10 s away. */
		if (!wait_sent(id, 1000)) {
			outbox_relay_stats(&T.relay, &st1);
			print_error("row %d (id %" PRIu64 ") not sent: reads %" PRIu64
				    " empty %" PRIu64 " signals %" PRIu64
				    " in flight %" PRId64 " last sent %" PRIu64
				    " sent %" PRIu64 " failures %" PRIu64 " db errors %" PRIu64 "\n",
				    i, id, st1.reads - st0.reads,
				    st1.empty_reads - st0.empty_reads,
				    st1.signals - st0.signals, st1.in_flight,
				    st1.last_sent_id, st1.rows_sent,
				    st1.delivery_failures, st1.db_errors);
			fail();
		}
		lat[i] = now_us() - t0;
		if (lat[i] > 100000)
			print_message("row %d: %.1f ms\n", i, lat[i] / 1e3);
		usleep(5000);
	}
	outbox_relay_stats(&T.relay, &st1);
	qsort(lat, N, sizeof(lat[0]), cmp_i64);
	print_message("commit (signal, no kick) -> acked and marked sent, %d rows: "
		      "p50 %.2f ms, p90 %.2f ms, max %.2f ms; relay SELECTs %.2f a "
		      "row (%.2f empty)\n",
		      N, lat[N / 2] / 1e3, lat[N * 9 / 10] / 1e3, lat[N - 1] / 1e3,
		      (double)(st1.reads - st0.reads) / N,
		      (double)(st1.empty_reads - st0.empty_reads) / N);
	assert_true(lat[N / 2] < 100000);
	assert_true(st1.signals - st0.signals >= N);
}

static void late_commit_inside_the_reread_steps_is_published(void **state)
{
	MYSQL *a = db_get_timed(&T.db, 5000), *b = db_get_timed(&T.db, 5000);
	uint64_t ida, idb;

	(void)state;
	assert_true(wait_all_sent(10000));
	restart_relay_polling_rarely();
	/* a gets the smaller id but commits after b's row was read. */
	begin(a);
	assert_int_equal(outbox_append_id(a, T.topic, "late-a", "{}", &ida), 0);
	begin(b);
	assert_int_equal(outbox_append_id(b, T.topic, "late-b", "{}", &idb), 0);
	assert_int_equal(mysql_commit(b), 0);
	assert_true(ida < idb);
	usleep(4000);
	assert_int_equal(mysql_commit(a), 0);
	db_put(&T.db, a);
	db_put(&T.db, b);
	assert_true(wait_sent(idb, 1000));
	assert_true(all_seen((uint64_t[]){ida, idb}, 2, 2000));
}

/* A commit 300 ms after its signal (a writer under load; nobody kicks the
 * relay after a commit) is still found by the signal's re-reads, long
 * before the idle poll (10 s here). */
static void commit_300_ms_after_its_signal_is_published_without_the_idle_poll(void **state)
{
	MYSQL *a = db_get_timed(&T.db, 5000);
	uint64_t ida;

	(void)state;
	assert_true(wait_all_sent(10000));
	restart_relay_polling_rarely();
	begin(a);
	assert_int_equal(outbox_append_id(a, T.topic, "slow-commit", "{}", &ida), 0);
	usleep(300000);
	assert_int_equal(mysql_commit(a), 0);
	db_put(&T.db, a);
	assert_true(wait_sent(ida, 2000));
}

static void producer_compresses_with_lz4_by_default_and_refuses_unknown_codecs(void **state)
{
	struct outbox_relay_opts o;
	struct outbox_relay other;
	char err[256] = "";

	(void)state;
	outbox_relay_default_opts(&o);
	assert_string_equal(o.compression, "lz4");
	assert_int_equal(o.linger_ms, 20);
	o.compression = "brotli";
	assert_int_equal(outbox_relay_start(&other, &T.db, T.bootstrap, &o, err,
					    sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "compression.codec"));
}

/* The broker takes both codecs the producer may use (its jars hold lz4-java
 * and zstd-jni): rows sent with each arrive. */
static void rows_compressed_with_zstd_or_lz4_reach_the_consumer(void **state)
{
	static const char *const codecs[] = {"zstd", "lz4"};

	(void)state;
	for (int c = 0; c < 2; c++) {
		struct outbox_relay_opts o;
		uint64_t ids[20];
		char keys[20][64], err[256];

		assert_true(wait_all_sent(10000));
		outbox_relay_stop(&T.relay);
		outbox_relay_default_opts(&o);
		o.compression = codecs[c];
		assert_int_equal(outbox_relay_start(&T.relay, &T.db, T.bootstrap, &o,
						    err, sizeof(err)),
				 0);
		append_committed(codecs[c], codecs[c], 20, 3, ids, keys);
		assert_true(all_seen(ids, 20, 20000));
		assert_true(wait_all_sent(10000));
	}
}

static void append_many_rows_reach_kafka_in_order_and_bad_input_writes_nothing(void **state)
{
	struct outbox_msg ms[40], bad[2];
	char keys[40][16], payloads[40][32];
	struct outbox_relay_stats st0, st1;
	MYSQL *conn = db_get_timed(&T.db, 5000);
	int64_t until;
	long at[40];

	(void)state;
	assert_true(wait_all_sent(10000));
	for (int i = 0; i < 40; i++) {
		snprintf(keys[i], sizeof(keys[i]), "many-%d", i % 3);
		snprintf(payloads[i], sizeof(payloads[i]), "{\"many\":%d}", i);
		ms[i] = (struct outbox_msg){T.topic, keys[i], payloads[i]};
	}
	bad[0] = ms[0];
	bad[1] = (struct outbox_msg){T.topic, "", "{}"};
	assert_int_equal(outbox_append_many(conn, ms, 2), -EINVAL); /* no tx */
	outbox_relay_stats(&T.relay, &st0);
	begin(conn);
	assert_int_equal(outbox_append_many(conn, bad, 2), -EINVAL);
	assert_int_equal(outbox_append_many(conn, ms, 0), -EINVAL);
	assert_int_equal(outbox_append_many(conn, ms, 40), 0); /* two chunks */
	assert_int_equal(mysql_commit(conn), 0);
	db_put(&T.db, conn);
	outbox_relay_stats(&T.relay, &st1);
	assert_int_equal(st1.signals - st0.signals, 40);
	/* No kick: the signal alone brings them. */
	assert_true(wait_all_sent(5000));
	until = now_us() + 20000000;
	for (;;) {
		bool all = true;

		pthread_mutex_lock(&T.lock);
		for (int i = 0; i < 40; i++) {
			at[i] = -1;
			for (size_t j = 0; j < T.n_seen && at[i] < 0; j++)
				if (!strcmp(T.seen[j].payload, payloads[i]))
					at[i] = (long)j;
			all = all && at[i] >= 0;
		}
		pthread_mutex_unlock(&T.lock);
		if (all || now_us() > until)
			break;
		usleep(10000);
	}
	for (int i = 0; i < 40; i++) {
		assert_true(at[i] >= 0);
		/* One key's rows in the order given. */
		if (i >= 3)
			assert_true(at[i - 3] < at[i]);
	}
	assert_int_equal(query_ll("SELECT COUNT(*) FROM outbox WHERE topic = ?"
				  " AND msg_key = ''", T.topic), 0);
}

/* outbox_append and inbox_claim go through the connection's statement
 * cache: the second of each on one connection prepares nothing. */
static void appends_and_claims_reuse_their_prepared_statements(void **state)
{
	MYSQL *conn = db_get_timed(&T.db, 5000);
	char consumer[80], mid[32];
	uint64_t prepared = 0, id = 0;

	(void)state;
	snprintf(consumer, sizeof(consumer), "%s-cache", T.inbox_consumer);
	for (int round = 0; round < 2; round++) {
		if (round == 1)
			prepared = atomic_load(&T.db.stmt_prepares);
		begin(conn);
		snprintf(mid, sizeof(mid), "c%d", round);
		assert_int_equal(outbox_append_id(conn, T.topic, "cache-key", "{}", &id), 0);
		assert_true(id > 0);
		assert_int_equal(inbox_claim(conn, consumer, mid), 1);
		assert_int_equal(inbox_claim(conn, consumer, mid), 0); /* a duplicate */
		mysql_rollback(conn);
	}
	assert_int_equal(atomic_load(&T.db.stmt_prepares), prepared);
	db_put(&T.db, conn);
}

static void inbox_claim_many_claims_new_ids_and_reports_old_ones(void **state)
{
	MYSQL *conn = db_get_timed(&T.db, 5000);
	char consumer[80];
	const char *ids[] = {"m1", "m2", "m3", "m1"};
	const char *bad[] = {"ok", ""};
	bool claimed[4];

	(void)state;
	snprintf(consumer, sizeof(consumer), "%s-many", T.inbox_consumer);
	begin(conn);
	assert_int_equal(inbox_claim(conn, consumer, "m2"), 1);
	assert_int_equal(mysql_commit(conn), 0);

	begin(conn);
	assert_int_equal(inbox_claim_many(conn, consumer, ids, 4, claimed), 2);
	assert_true(claimed[0] && !claimed[1] && claimed[2] && !claimed[3]);
	mysql_rollback(conn);
	begin(conn);
	/* Rolled back: claimable again, in one statement this time. */
	assert_int_equal(inbox_claim_many(conn, consumer, ids, 1, claimed), 1);
	assert_int_equal(inbox_claim_many(conn, consumer, ids + 2, 1, claimed), 1);
	assert_int_equal(inbox_claim_many(conn, consumer, bad, 2, claimed), -EINVAL);
	assert_int_equal(inbox_claim_many(conn, consumer, ids, 0, claimed), -EINVAL);
	assert_int_equal(mysql_commit(conn), 0);
	db_put(&T.db, conn);
	assert_int_equal(query_ll("SELECT COUNT(*) FROM inbox WHERE consumer = ?",
				  consumer), 3);
}

/* The batch consumer of the test below: claims and applies a batch in one
 * transaction (the effect is a row of outbox_test_effects). */
static struct {
	pthread_mutex_t lock; /* guards the fields below */
	char consumer[80];
	int failures_left, failed, max_batch;
} B = {.lock = PTHREAD_MUTEX_INITIALIZER};

static int insert_effect(MYSQL *conn, const char *consumer, const char *id)
{
	static const char sql[] =
		"INSERT INTO outbox_test_effects (consumer, message_id) VALUES (?, ?)";
	MYSQL_STMT *st = mysql_stmt_init(conn);
	MYSQL_BIND b[2];
	unsigned long len[2] = {strlen(consumer), strlen(id)};
	int rc = -EIO;

	memset(b, 0, sizeof(b));
	b[0].buffer_type = b[1].buffer_type = MYSQL_TYPE_STRING;
	b[0].buffer = (void *)consumer;
	b[1].buffer = (void *)id;
	b[0].length = &len[0];
	b[1].length = &len[1];
	if (st && !mysql_stmt_prepare(st, sql, sizeof(sql) - 1) &&
	    !mysql_stmt_bind_param(st, b) && !mysql_stmt_execute(st))
		rc = 0;
	if (st)
		mysql_stmt_close(st);
	return rc;
}

static int on_batch(void *arg, const struct kafka_message *ms, int n)
{
	const char *ids[64];
	bool claimed[64];
	bool fail = false;
	MYSQL *conn;
	int k = 0, rc;

	(void)arg;
	for (int i = 0; i < n && k < 64; i++)
		if (!strcmp(ms[i].topic, T.topic) && ms[i].outbox_id)
			ids[k++] = ms[i].outbox_id_str;
	if (k == 0)
		return 0;
	conn = db_get_timed(&T.db, 5000);
	if (!conn)
		return -EBUSY;
	if (mysql_query(conn, "START TRANSACTION")) {
		db_put(&T.db, conn);
		return -EIO;
	}
	rc = inbox_claim_many(conn, B.consumer, ids, k, claimed);
	for (int i = 0; rc >= 0 && i < k; i++)
		if (claimed[i] && insert_effect(conn, B.consumer, ids[i]))
			rc = -EIO;
	pthread_mutex_lock(&B.lock);
	if (rc >= 0 && k > 1 && B.failures_left > 0) {
		B.failures_left--; /* the commit "fails" after the work */
		B.failed++;
		fail = true;
	}
	if (k > B.max_batch)
		B.max_batch = k;
	pthread_mutex_unlock(&B.lock);
	if (rc < 0 || fail || mysql_commit(conn)) {
		mysql_rollback(conn);
		db_put(&T.db, conn);
		return rc < 0 ? rc : -EIO;
	}
	db_put(&T.db, conn);
	return 0;
}

static void failed_consumer_batch_is_redelivered_and_applied_once(void **state)
{
	struct kafka_consumer bc;
	struct kafka_consumer_opts co;
	struct kafka_consumer_stats st;
	uint64_t ids[40];
	char keys[40][64], err[256], group[96];
	long long effects = 0, distinct = 0, ours = 0;
	int64_t until;
	MYSQL *conn;

	(void)state;
	conn = db_get_timed(&T.db, 5000);
	assert_int_equal(mysql_query(conn, "CREATE TABLE IF NOT EXISTS outbox_test_effects ("
					   " n BIGINT AUTO_INCREMENT PRIMARY KEY,"
					   " consumer VARCHAR(80) NOT NULL,"
					   " message_id VARCHAR(128) NOT NULL) ENGINE=InnoDB"),
			 0);
	db_put(&T.db, conn);
	snprintf(B.consumer, sizeof(B.consumer), "%s-batch", T.inbox_consumer);
	snprintf(group, sizeof(group), "%s-batch", T.inbox_consumer);
	/* Waiting before the consumer starts, so its first fetch brings many. */
	append_committed("batch", "batch", 40, 4, ids, keys);
	assert_true(wait_all_sent(10000));
	B.failures_left = 1;

	kafka_consumer_default_opts(&co);
	co.group_id = group;
	co.topics[0] = T.topic;
	co.batch_handler = on_batch;
	assert_int_equal(kafka_consumer_start(&bc, T.bootstrap, &co, err, sizeof(err)), 0);
	until = now_us() + 30000000;
	do {
		char sql[256];

		snprintf(sql, sizeof(sql),
			 "SELECT COUNT(*) FROM outbox_test_effects WHERE consumer = ?"
			 " AND message_id BETWEEN %" PRIu64 " AND %" PRIu64
			 " AND LENGTH(message_id) = LENGTH('%" PRIu64 "')",
			 ids[0], ids[39], ids[0]);
		ours = query_ll(sql, B.consumer);
		if (ours >= 40)
			break;
		usleep(20000);
	} while (now_us() < until);
	usleep(300000); /* redeliveries, if any, land meanwhile */
	kafka_consumer_stats(&bc, &st);
	kafka_consumer_stop(&bc);

	effects = query_ll("SELECT COUNT(*) FROM outbox_test_effects WHERE consumer = ?",
			   B.consumer);
	distinct = query_ll("SELECT COUNT(DISTINCT message_id) FROM outbox_test_effects"
			    " WHERE consumer = ?", B.consumer);
	print_message("batch consumer: %" PRIu64 " messages in %" PRIu64
		      " committed batches (largest %d), %d failed batch(es)\n",
		      st.handled, st.batches, B.max_batch, B.failed);
	run_sql("DELETE FROM outbox_test_effects WHERE consumer = ?", B.consumer);
	run_sql("DELETE FROM inbox WHERE consumer = ?", B.consumer);
	conn = db_get_timed(&T.db, 5000);
	mysql_query(conn, "DROP TABLE IF EXISTS outbox_test_effects");
	db_put(&T.db, conn);
	assert_int_equal(ours, 40);
	assert_int_equal(effects, distinct); /* each applied once */
	assert_int_equal(B.failed, 1);
	assert_true(st.handler_failures >= 1);
	assert_true(B.max_batch > 1);
	assert_true(st.batches < st.handled); /* fewer commits than messages */
}

static void every_message_applied_once_through_the_inbox(void **state)
{
	size_t distinct = 0;

	(void)state;
	pthread_mutex_lock(&T.lock);
	for (size_t i = 0; i < T.n_seen; i++) {
		bool first = true;

		for (size_t j = 0; j < i && first; j++)
			first = T.seen[j].id != T.seen[i].id;
		distinct += first;
	}
	assert_int_equal((size_t)T.effects, distinct);
	assert_int_equal((size_t)(T.effects + T.duplicates), T.n_seen);
	pthread_mutex_unlock(&T.lock);
}

static void relay_recovers_after_mariadb_restart(void **state)
{
	uint64_t ids[10];
	char keys[10][64];
	struct outbox_relay_stats before, after;
	double cpu;

	(void)state;
	if (!can_restart("mariadb.sh"))
		skip();
	assert_true(wait_all_sent(10000));
	outbox_relay_stats(&T.relay, &before);
	assert_int_equal(run_infra("mariadb.sh", "stop"), 0);
	/* The relay's polls fail meanwhile; it backs off instead of spinning. */
	cpu = cpu_seconds();
	sleep(2);
	cpu = cpu_seconds() - cpu;
	print_message("database down: %.3f s CPU in 2 s\n", cpu);
	assert_true(cpu < 0.2);
	assert_int_equal(run_infra("mariadb.sh", "start"), 0);
	/* New session: the relay must take the leader lock again and prepare
	 * its statements anew. */
	append_committed("after-db-restart", "dbr-key", 10, 2, ids, keys);
	assert_true(all_seen(ids, 10, 30000));
	assert_true(wait_all_sent(30000));
	assert_order_per_key(ids, keys, 10);
	outbox_relay_stats(&T.relay, &after);
	assert_true(after.db_errors > before.db_errors);
	assert_true(after.leader);
}

static void sent_rows_past_the_prune_age_are_deleted(void **state)
{
	struct outbox_relay_stats st;
	char err[256];
	long long ours;
	int64_t until;

	(void)state;
	assert_true(wait_all_sent(10000));
	ours = query_ll("SELECT COUNT(*) FROM outbox WHERE topic = ?", T.topic);
	assert_true(ours > 0);
	/* Age our own rows past the default hour instead of pruning at age 0,
	 * which would delete other users' fresh rows in a shared database. */
	assert_int_equal(run_sql("UPDATE outbox SET sent_at = sent_at - INTERVAL 2 HOUR"
				 " WHERE topic = ?",
				 T.topic),
			 0);
	/* A restarted relay takes the lock over and prunes on its first round. */
	outbox_relay_stop(&T.relay);
	assert_int_equal(outbox_relay_start(&T.relay, &T.db, T.bootstrap, NULL, err,
					    sizeof(err)),
			 0);
	until = now_us() + 20000000;
	while (query_ll("SELECT COUNT(*) FROM outbox WHERE topic = ?", T.topic) &&
	       now_us() < until)
		usleep(20000);
	assert_int_equal(query_ll("SELECT COUNT(*) FROM outbox WHERE topic = ?",
				  T.topic),
			 0);
	outbox_relay_stats(&T.relay, &st);
	assert_true(st.rows_pruned >= (uint64_t)ours);
}

/* Appends one row in its own transaction, returning its id. */
static uint64_t append_one(MYSQL *conn, const char *key, const char *payload)
{
	uint64_t id = 0;

	assert_int_equal(outbox_append_id(conn, T.topic, key, payload, &id), 0);
	return id;
}

static long long parked(uint64_t id)
{
	char num[24];

	snprintf(num, sizeof(num), "%" PRIu64, id);
	return query_ll("SELECT COUNT(*) FROM outbox_parked WHERE id = ?", num);
}

static bool wait_parked(uint64_t id, int timeout_ms)
{
	int64_t until = now_us() + (int64_t)timeout_ms * 1000;

	do {
		if (parked(id) == 1)
			return true;
		usleep(20000);
	} while (now_us() < until);
	return false;
}

static char *padded_payload(size_t n)
{
	char *p = malloc(n + 16);

	assert_non_null(p);
	uint64_t x = 0x9e3779b97f4a7c15u;

	memcpy(p, "{\"pad\":\"", 8);
	/* Letters from a xorshift sequence: the producer compresses (lz4), and
	 * a row of one repeated letter would shrink below the topic's limit. */
	for (size_t i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		p[8 + i] = (char)('a' + x % 26);
	}
	memcpy(p + 8 + n, "\"}", 3);
	return p;
}

static void poisoned_rows_are_parked_and_their_key_held_while_others_flow(void **state)
{
	struct outbox_relay_stats before, after;
	char *too_big_for_topic = padded_payload(2 * atoi(TOPIC_MAX_MESSAGE_BYTES));
	char *too_big_for_client = padded_payload(1200000); /* > message.max.bytes */
	uint64_t ok[3], bad, after_bad, big;
	char num[24];
	MYSQL *conn;

	(void)state;
	assert_true(wait_all_sent(10000));
	outbox_relay_stats(&T.relay, &before);
	conn = db_get_timed(&T.db, 5000);
	assert_non_null(conn);
	begin(conn);
	ok[0] = append_one(conn, "pk-ok", "{\"n\":0}");
	bad = append_one(conn, "pk-bad", too_big_for_topic);
	after_bad = append_one(conn, "pk-bad", "{\"n\":1}");
	ok[1] = append_one(conn, "pk-ok", "{\"n\":2}");
	big = append_one(conn, "pk-big", too_big_for_client);
	ok[2] = append_one(conn, "pk-ok2", "{\"n\":3}");
	assert_int_equal(mysql_commit(conn), 0);
	db_put(&T.db, conn);
	free(too_big_for_topic);
	free(too_big_for_client);
	outbox_relay_kick(&T.relay);

	assert_true(wait_parked(bad, 60000));
	assert_true(wait_parked(big, 60000));
	assert_true(all_seen(ok, 3, 30000));
	assert_true(first_seen(ok[0]) < first_seen(ok[1]));
	/* Held behind its parked predecessor: unsent, never delivered. */
	usleep(500000);
	assert_int_equal(first_seen(after_bad), -1);
	assert_int_equal(first_seen(bad), -1);
	assert_int_equal(unsent_rows(), 1);
	/* Only the two poisoned rows were parked, none of their batch mates. */
	assert_int_equal(query_ll("SELECT COUNT(*) FROM outbox_parked WHERE topic = ?",
				  T.topic), 2);
	outbox_relay_stats(&T.relay, &after);
	assert_true(after.rows_parked >= before.rows_parked + 2);

	/* The operator discards the parked row: the held one goes. */
	snprintf(num, sizeof(num), "%" PRIu64, bad);
	assert_int_equal(run_sql("DELETE FROM outbox_parked WHERE id = ?", num), 0);
	outbox_relay_kick(&T.relay);
	assert_true(all_seen(&after_bad, 1, 30000));
	assert_true(wait_all_sent(10000));
}

static void inbox_claims_past_the_keep_age_are_deleted(void **state)
{
	struct outbox_relay_opts o;
	struct outbox_relay_stats st;
	char consumer[80], err[256];
	int64_t until;

	(void)state;
	snprintf(consumer, sizeof(consumer), "%s-prune", T.inbox_consumer);
	assert_int_equal(run_sql("INSERT INTO inbox (consumer, message_id, processed_at)"
				 " VALUES (?, 'old-1', UTC_TIMESTAMP(3) - INTERVAL 3 HOUR)",
				 consumer), 0);
	assert_int_equal(run_sql("INSERT INTO inbox (consumer, message_id, processed_at)"
				 " VALUES (?, 'old-2', UTC_TIMESTAMP(3) - INTERVAL 3 HOUR)",
				 consumer), 0);
	assert_int_equal(run_sql("INSERT INTO inbox (consumer, message_id, processed_at)"
				 " VALUES (?, 'fresh', UTC_TIMESTAMP(3) - INTERVAL 1 HOUR)",
				 consumer), 0);
	/* Keep two hours; a restarted relay prunes on its first round. */
	outbox_relay_stop(&T.relay);
	outbox_relay_default_opts(&o);
	o.inbox_keep_s = 2 * 3600;
	assert_int_equal(outbox_relay_start(&T.relay, &T.db, T.bootstrap, &o, err,
					    sizeof(err)),
			 0);
	until = now_us() + 20000000;
	while (query_ll("SELECT COUNT(*) FROM inbox WHERE consumer = ?", consumer) > 1 &&
	       now_us() < until)
		usleep(20000);
	assert_int_equal(query_ll("SELECT COUNT(*) FROM inbox WHERE consumer = ?"
				  " AND message_id LIKE 'old-%'", consumer), 0);
	assert_int_equal(query_ll("SELECT COUNT(*) FROM inbox WHERE consumer = ?"
				  " AND message_id = 'fresh'", consumer), 1);
	outbox_relay_stats(&T.relay, &st);
	assert_true(st.inbox_pruned >= 2);
}

/* ---- setup ------------------------------------------------------------------ */

static int run_sql(const char *sql, const char *param)
{
	MYSQL *conn = db_get_timed(&T.db, 5000);
	MYSQL_STMT *st = mysql_stmt_init(conn);
	MYSQL_BIND p = {0};
	unsigned long plen = strlen(param);
	int rc = -EIO;

	p.buffer_type = MYSQL_TYPE_STRING;
	p.buffer = (void *)param;
	p.buffer_length = plen;
	p.length = &plen;
	if (st && !mysql_stmt_prepare(st, sql, strlen(sql)) &&
	    !mysql_stmt_bind_param(st, &p) && !mysql_stmt_execute(st))
		rc = 0;
	if (st)
		mysql_stmt_close(st);
	db_put(&T.db, conn);
	return rc;
}

/* Counts what a plain batch consumer is handed: messages and handler calls. */
static struct {
	atomic_int msgs, calls;
} F;

static int on_count(void *arg, const struct kafka_message *ms, int n)
{
	(void)arg;
	(void)ms;
	atomic_fetch_add(&F.msgs, n);
	atomic_fetch_add(&F.calls, 1);
	return 0;
}

/* The consumer asks the broker to hold a fetch until fetch_min_bytes are
 * there (65536 by default; 0 and above 100000000 refused) or fetch_wait_ms
 * passed: a steady flow then costs the broker about one fetch per wait, not
 * one per produce request (fetch.min.bytes 1 did that). A trickle (a row
 * every 10 ms for a second) still arrives whole, within a wait or so. */
static void steady_flow_is_fetched_in_few_responses(void **state)
{
	struct kafka_consumer fc;
	struct kafka_consumer_opts co;
	struct kafka_consumer_stats st;
	char err[256], group[96], val[32];
	size_t vlen = sizeof(val);
	int64_t until, t0;
	int base = 0, calls0, calls, last = -1;
	enum { ROWS = 100 };

	(void)state;
	kafka_consumer_default_opts(&co);
	assert_int_equal(co.fetch_min_bytes, 65536);
	assert_int_equal(co.fetch_wait_ms, 100);
	snprintf(group, sizeof(group), "%s-flow", T.inbox_consumer);
	co.group_id = group;
	co.topics[0] = T.topic;
	co.batch_handler = on_count;
	co.fetch_min_bytes = 0;
	assert_int_equal(kafka_consumer_start(&fc, T.bootstrap, &co, err, sizeof(err)),
			 -EINVAL);
	co.fetch_min_bytes = 100000001;
	assert_int_equal(kafka_consumer_start(&fc, T.bootstrap, &co, err, sizeof(err)),
			 -EINVAL);
	kafka_consumer_default_opts(&co);
	co.group_id = group;
	co.topics[0] = T.topic;
	co.batch_handler = on_count;
	atomic_store(&F.msgs, 0);
	atomic_store(&F.calls, 0);
	assert_int_equal(kafka_consumer_start(&fc, T.bootstrap, &co, err, sizeof(err)), 0);
	/* Assigned, and what earlier tests left on the topic is handled: no
	 * new message for 500 ms. */
	until = now_us() + 20000000;
	do {
		usleep(500000);
		kafka_consumer_stats(&fc, &st);
		if (st.assigned && atomic_load(&F.msgs) == last)
			break;
		last = atomic_load(&F.msgs);
	} while (now_us() < until);
	assert_true(st.assigned);
	/* What librdkafka sends the broker in each fetch request. */
	assert_non_null(fc.rk);
	assert_int_equal(rd_kafka_conf_get(rd_kafka_conf((rd_kafka_t *)fc.rk),
					   "fetch.min.bytes", val, &vlen),
			 RD_KAFKA_CONF_OK);
	assert_string_equal(val, "65536");
	base = atomic_load(&F.msgs);
	calls0 = atomic_load(&F.calls);

	t0 = now_us();
	for (int i = 0; i < ROWS; i++) {
		MYSQL *conn = db_get_timed(&T.db, 5000);

		begin(conn);
		assert_int_equal(outbox_append(conn, T.topic, "flow", "{\"flow\":1}"), 0);
		assert_int_equal(mysql_commit(conn), 0);
		db_put(&T.db, conn);
		usleep(10000);
	}
	until = now_us() + 10000000;
	while (atomic_load(&F.msgs) - base < ROWS && now_us() < until)
		usleep(5000);
	calls = atomic_load(&F.calls) - calls0;
	print_message("steady flow: %d rows over %.2f s handed in %d calls\n", ROWS,
		      (double)(now_us() - t0) / 1e6, calls);
	assert_int_equal(atomic_load(&F.msgs) - base, ROWS);
	assert_true(calls <= ROWS);
	kafka_consumer_stop(&fc);
}

static int group_setup(void **state)
{
	struct config cfg;
	struct kafka_consumer_opts co;
	char err[512];
	int64_t until;
	struct outbox_relay_stats st;

	(void)state;
	log_set_level(env_or("TEST_LOG_LEVEL", "warn"));
	memset(&cfg, 0, sizeof(cfg));
	snprintf(cfg.db_host, sizeof(cfg.db_host), "%s",
		 env_or("MARIADB_HOST", "127.0.0.1"));
	cfg.db_port = atoi(env_or("MARIADB_PORT", "3317"));
	snprintf(cfg.db_user, sizeof(cfg.db_user), "ticket");
	snprintf(cfg.db_password, sizeof(cfg.db_password), "ticket");
	snprintf(cfg.db_name, sizeof(cfg.db_name), "ticketing");
	cfg.db_pool = 4;
	snprintf(T.bootstrap, sizeof(T.bootstrap), "127.0.0.1:%s",
		 env_or("KAFKA_PORT", "9102"));
	snprintf(T.topic, sizeof(T.topic), "outbox-test.%d.%ld", (int)getpid(),
		 (long)time(NULL));
	snprintf(T.inbox_consumer, sizeof(T.inbox_consumer), "outbox-test-%d-%ld",
		 (int)getpid(), (long)time(NULL));
	T.seen = calloc(MAX_SEEN, sizeof(*T.seen));
	if (!T.seen)
		return -1;

	if (db_pool_open(&T.db, &cfg, 10, err, sizeof(err)) ||
	    db_migrate(&T.db, err, sizeof(err))) {
		print_error("MariaDB on port %d: %s\n", cfg.db_port, err);
		return -1;
	}
	/* Rows a crashed earlier run left behind would stall any relay on a
	 * topic that no longer exists. */
	if (run_sql("DELETE FROM outbox WHERE topic LIKE ? AND sent_at IS NULL",
		    "outbox-test.%")) {
		print_error("cleaning old test rows failed\n");
		return -1;
	}
	if (admin_topic(T.topic, true)) {
		print_error("cannot create topic %s on %s\n", T.topic, T.bootstrap);
		return -1;
	}

	kafka_consumer_default_opts(&co);
	co.group_id = T.inbox_consumer;
	co.topics[0] = T.topic;
	co.handler = on_message;
	if (kafka_consumer_start(&T.consumer, T.bootstrap, &co, err, sizeof(err))) {
		print_error("consumer: %s\n", err);
		return -1;
	}
	if (outbox_relay_start(&T.relay, &T.db, T.bootstrap, NULL, err,
			       sizeof(err))) {
		print_error("relay: %s\n", err);
		return -1;
	}
	until = now_us() + 10000000;
	do {
		outbox_relay_stats(&T.relay, &st);
		if (st.leader)
			break;
		usleep(10000);
	} while (now_us() < until);
	if (!st.leader) {
		print_error("the relay did not get the leader lock: is another "
			    "relay running against this database?\n");
		return -1;
	}
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	outbox_relay_stop(&T.relay);
	kafka_consumer_stop(&T.consumer);
	run_sql("DELETE FROM outbox WHERE topic = ?", T.topic);
	run_sql("DELETE FROM outbox_parked WHERE topic = ?", T.topic);
	run_sql("DELETE FROM inbox WHERE consumer LIKE CONCAT(?, '%')",
		T.inbox_consumer);
	admin_topic(T.topic, false);
	db_pool_close(&T.db);
	free(T.seen);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(append_outside_a_transaction_is_refused),
		cmocka_unit_test(inbox_claim_is_true_once_then_false),
		cmocka_unit_test(committed_rows_reach_kafka_in_id_order_with_key_and_header),
		cmocka_unit_test(rolled_back_row_never_reaches_kafka),
		cmocka_unit_test(failed_handler_call_is_retried_before_later_messages),
		cmocka_unit_test(second_relay_stands_by),
		cmocka_unit_test(commit_to_ack_latency_is_a_few_ms),
		cmocka_unit_test(signalled_rows_reach_kafka_without_kick_or_idle_poll),
		cmocka_unit_test(late_commit_inside_the_reread_steps_is_published),
		cmocka_unit_test(commit_300_ms_after_its_signal_is_published_without_the_idle_poll),
		cmocka_unit_test(producer_compresses_with_lz4_by_default_and_refuses_unknown_codecs),
		cmocka_unit_test(rows_compressed_with_zstd_or_lz4_reach_the_consumer),
		cmocka_unit_test(append_many_rows_reach_kafka_in_order_and_bad_input_writes_nothing),
		cmocka_unit_test(appends_and_claims_reuse_their_prepared_statements),
		cmocka_unit_test(inbox_claim_many_claims_new_ids_and_reports_old_ones),
		cmocka_unit_test(failed_consumer_batch_is_redelivered_and_applied_once),
		cmocka_unit_test(steady_flow_is_fetched_in_few_responses),
		cmocka_unit_test(rows_stay_unsent_while_kafka_is_down_then_all_arrive_in_order),
		cmocka_unit_test(relay_recovers_after_mariadb_restart),
		cmocka_unit_test(every_message_applied_once_through_the_inbox),
		cmocka_unit_test(poisoned_rows_are_parked_and_their_key_held_while_others_flow),
		cmocka_unit_test(sent_rows_past_the_prune_age_are_deleted),
		cmocka_unit_test(inbox_claims_past_the_keep_age_are_deleted),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
