"""Bounded queues and fast refusal (issue #12): when a door's bound is
full, ticketd answers at once 503 OVERLOADED with Retry-After, changes
nothing, and serves again once the load is gone (docs/api.md, Errors;
docs/operations.md, Overload). Each test restarts the suite's ticketd with
one tiny bound (and paymentd slow where it needs a queue to fill), then the
defaults. Runs against real MariaDB, Kafka and paymentd."""
import concurrent.futures as cf
import subprocess
import time
import uuid

import pytest

from conftest import PORTS, auth, mariadb_sql, metric, new_session
from test_orders import authorize, hold, order, wait_final
from test_room import admin_put, rooms  # noqa: F401 (rooms: the room events' fixture)

FAST = 0.5  # an overload answer comes at once: well under this, seconds


@pytest.fixture
def restart(ticketd, paymentd):
    """restart(ticketd_args, paymentd_args): both with these settings;
    the suite's defaults again after the test."""
    base_args = ticketd.args[:ticketd.args.index("--log-level") + 2]

    def go(tk_args=(), pay_args=(), ready=True):
        ticketd.stop()
        paymentd.stop()
        paymentd.args = list(pay_args)
        paymentd.start()
        ticketd.args = base_args + list(tk_args)
        ticketd.start(wait_ready=ready)
    yield go
    go()


def wait_metric(base, name, want, within=5.0, **labels):
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if (metric(base, name, **labels) or 0) >= want:
            return True
        time.sleep(0.05)
    return False


def assert_overloaded(r, elapsed, door, reason):
    assert r.status_code == 503, (r.status_code, r.text)
    body = r.json()
    assert body["code"] == "OVERLOADED", body
    assert body["traceId"] == r.headers["Trace-Id"]
    assert body.get("details") == {"door": door, "reason": reason}, body
    assert int(r.headers["Retry-After"]) >= 1
    assert elapsed < FAST, f"overload answer took {elapsed:.3f} s"


def timed(fn, *a, **kw):
    t = time.monotonic()
    r = fn(*a, **kw)
    return r, time.monotonic() - t


def pending_orders(api, arena, n):
    """n sessions, each with one held seat ordered (PENDING)."""
    out = []
    for _ in range(n):
        s = new_session(api.base)
        seats = arena.take(1)
        hold(api.base, s["token"], arena.event_id, seats)
        r = order(api.base, s["token"], arena.event_id, seats)
        assert r.status_code == 201, r.text
        out.append((s["token"], r.json()["orderId"]))
    return out


def payment_requests_of(order_id):
    return int(mariadb_sql(
        f"SELECT COUNT(*) FROM payment_requests WHERE order_id = '{order_id}'").strip())


def saturate_payments(api, arena, restart, tk_args, gauge, **labels):
    """Two slow authorizations in flight, then a third: refused at once."""
    restart(tk_args, ("--delay-min-ms", "2500", "--delay-max-ms", "2500"))
    orders = pending_orders(api, arena, 3)
    pool = cf.ThreadPoolExecutor(2)
    try:
        slow = [pool.submit(authorize, api.base, t, o, "approve") for t, o in orders[:2]]
        assert wait_metric(api.base, gauge, 2, **labels), "the slow ones never queued"
        token, oid = orders[2]
        r, elapsed = timed(authorize, api.base, token, oid, "approve")
        for f in slow:  # the ones inside are not disturbed
            assert f.result(timeout=30).json()["orderStatus"] == "CONFIRMED"
    finally:
        pool.shutdown(wait=True)
    return r, elapsed, token, oid


def test_payment_door_in_flight_cap_refuses_at_once(api, arena, restart):
    r, elapsed, token, oid = saturate_payments(
        api, arena, restart, ("--http-inflight-payments", "2"),
        "ticketd_http_inflight", door="payments")
    assert_overloaded(r, elapsed, "payments", "inflight")
    # nothing changed: no payment asked, the order still PENDING
    assert payment_requests_of(oid) == 0
    assert wait_final(api.base, token, oid, within=0.1)["status"] == "PENDING"
    assert metric(api.base, "ticketd_overload_rejected_total",
                  door="payments", reason="inflight") >= 1
    # the load is gone: the same request goes through
    r = authorize(api.base, token, oid, "approve")
    assert r.status_code == 200, r.text
    assert r.json()["orderStatus"] == "CONFIRMED"


def test_payment_queue_bound_refuses_before_recording(api, arena, restart):
    r, elapsed, token, oid = saturate_payments(
        api, arena, restart, ("--payment-queue-max", "2"),
        "ticketd_payment_queue_jobs")
    assert_overloaded(r, elapsed, "payments", "payment_queue")
    assert payment_requests_of(oid) == 0
    assert metric(api.base, "ticketd_overload_rejected_total",
                  door="payments", reason="payment_queue") >= 1
    assert metric(api.base, "ticketd_payment_queue_jobs") == 0  # places given back
    r = authorize(api.base, token, oid, "approve")
    assert r.status_code == 200, r.text
    assert r.json()["orderStatus"] == "CONFIRMED"


def block_order_inserts(event_id, token_keys, seconds):
    """A MariaDB session that inserts, uncommitted, the order rows these
    (token, Idempotency-Key) pairs would insert, and rolls back after a
    while: each saga worker creating one of those orders waits on the
    unique (session, key) row lock meanwhile, then goes on."""
    rows = ",".join(
        f"('blk-{uuid.uuid4().hex[:20]}', '{tok[:16]}', {event_id}, 'PENDING', 0, '{key}', "
        f"REPEAT('0', 64), NOW(3), NOW(3))" for tok, key in token_keys)
    sql = ("START TRANSACTION; INSERT INTO orders (id, session_id, event_id, status, amount,"
           " idempotency_key, request_hash, created_at, payment_deadline) VALUES "
           f"{rows}; SELECT 'locked'; DO SLEEP({seconds}); ROLLBACK;")
    env = {"MYSQL_PWD": "ticket", "PATH": "/usr/bin:/bin"}
    p = subprocess.Popen(
        ["mariadb", "-N", "--unbuffered", "-h", "127.0.0.1", "-P", str(PORTS["mariadb"]), "-u", "ticket",
         "ticketing", "-e", sql], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True)
    assert p.stdout.readline().strip() == "locked", p.stderr.read()
    return p


def test_saga_queue_bound_and_request_budget(api, arena, restart):
    # 6 saga workers (each with a connection); 1 job may wait; budget 1 s
    restart(("--saga-queue-max", "1", "--http-request-budget-ms", "1000",
             "--db-pool", "12"))
    sessions = []
    for _ in range(10):
        s = new_session(api.base)
        seats = arena.take(1)
        hold(api.base, s["token"], arena.event_id, seats)
        sessions.append((s["token"], seats, str(uuid.uuid4())))
    # the workers stay blocked (6 s) long enough for the steps below, also
    # on a loaded CI machine (a 3 s block once ended too early)
    blocker = block_order_inserts(arena.event_id, [(t, k) for t, _, k in sessions], 6)
    try:
        pool = cf.ThreadPoolExecutor(9)
        # more than the workers plus the queue, one step at a time (a job
        # sits in the queue until a worker wakes for it, so a burst could be
        # refused before any worker is busy): six block every worker on
        # MariaDB, the seventh waits in the queue, the rest are refused
        busy = []
        for i, (t, seats, key) in enumerate(sessions[:6]):
            busy.append(pool.submit(timed, order, api.base, t, arena.event_id, seats, key))
            assert wait_metric(api.base, "ticketd_saga_workers_busy", i + 1, within=10), \
                f"saga worker {i + 1} never blocked"
        t, seats, key = sessions[6]
        busy.append(pool.submit(timed, order, api.base, t, arena.event_id, seats, key))
        assert wait_metric(api.base, "ticketd_saga_queue_jobs", 1, within=10), \
            "no job ever waited in the saga queue"
        busy += [pool.submit(timed, order, api.base, t, arena.event_id, seats, key)
                 for t, seats, key in sessions[7:9]]
        assert metric(api.base, "ticketd_saga_workers_busy") == 6
        assert metric(api.base, "ticketd_saga_queue_jobs") == 1
        token, seats, key = sessions[9]
        r, elapsed = timed(order, api.base, token, arena.event_id, seats, key)
        assert_overloaded(r, elapsed, "orders", "saga_queue")
        answers = [f.result(timeout=30) for f in busy]
        pool.shutdown(wait=True)
    finally:
        blocker.wait(timeout=30)
    reasons = sorted(r.json()["details"]["reason"] for r, _ in answers
                     if r.status_code == 503 and r.json()["code"] == "OVERLOADED")
    # the queued one outlived its 1 s budget and was refused unstarted;
    # those over the bound were refused at once; the ones that started
    # went on (201, or 503 UNAVAILABLE when MariaDB picked one as a
    # deadlock victim on the unblocked rows)
    assert "deadline" in reasons and "saga_queue" in reasons, reasons
    for r, elapsed in answers:
        if r.json().get("details", {}).get("reason") == "saga_queue":
            assert elapsed < FAST
    assert metric(api.base, "ticketd_overload_rejected_total",
                  door="orders", reason="deadline") >= 1
    # nothing changed for the refused order: no row under its key
    assert int(mariadb_sql("SELECT COUNT(*) FROM orders WHERE idempotency_key = "
                           f"'{key}'").strip()) == 0
    # load gone: the same request (same key) is created
    r = order(api.base, token, arena.event_id, seats, key)
    assert r.status_code == 201, r.text


def test_outbox_backlog_refuses_new_orders(api, arena, restart):
    # Kafka unreachable: outbox rows stay unsent; more than 1 refuses orders
    restart(("--outbox-backlog-max", "1", "--kafka-bootstrap", "127.0.0.1:1"),
            ready=False)
    (t1, s1), (t2, s2) = [(new_session(api.base)["token"], arena.take(1)) for _ in range(2)]
    hold(api.base, t1, arena.event_id, s1)
    hold(api.base, t2, arena.event_id, s2)
    assert order(api.base, t1, arena.event_id, s1).status_code == 201
    assert wait_metric(api.base, "ticketd_outbox_backlog_rows", 1), "backlog not seen"
    key = str(uuid.uuid4())
    r, elapsed = timed(order, api.base, t2, arena.event_id, s2, key)
    assert_overloaded(r, elapsed, "orders", "outbox_backlog")
    assert int(mariadb_sql("SELECT COUNT(*) FROM orders WHERE idempotency_key = "
                           f"'{key}'").strip()) == 0
    # Kafka back (the suite's settings): the backlog drains, orders flow
    restart()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if metric(api.base, "ticketd_outbox_backlog_rows") == 0:
            break
        time.sleep(0.2)
    r = order(api.base, t2, arena.event_id, s2, key)
    assert r.status_code == 201, r.text


def test_room_auto_rate_follows_the_purchase_path(api, arena, restart, rooms):
    """A room on the automatic rate lets more through while purchases are
    quick and fewer as soon as authorizations fill half their door, before
    any of them has answered (docs/api.md, Waiting room)."""
    restart(("--http-inflight-payments", "4"),
            ("--delay-min-ms", "4000", "--delay-max-ms", "4000"))
    ev = rooms.pop()
    admin_put(api.base, ev, enabled=True, rate="auto", startsAt=None)
    rate = lambda: metric(api.base, "ticketd_room_rate", event=str(ev))  # noqa: E731
    low = rate()
    deadline = time.monotonic() + 5
    while rate() <= low:
        assert time.monotonic() < deadline, f"the automatic rate stayed at {low}"
        time.sleep(0.1)
    orders = pending_orders(api, arena, 2)
    pool = cf.ThreadPoolExecutor(2)
    try:
        slow = [pool.submit(authorize, api.base, t, o, "approve") for t, o in orders]
        assert wait_metric(api.base, "ticketd_http_inflight", 2, door="payments")
        high = rate()
        deadline = time.monotonic() + 3
        while rate() >= high:
            assert time.monotonic() < deadline, f"the rate stayed at {high} with 2 of 4 in flight"
            time.sleep(0.1)
        assert not any(f.done() for f in slow), "it fell only after the answers"
        for f in slow:
            assert f.result(timeout=30).json()["orderStatus"] == "CONFIRMED"
    finally:
        pool.shutdown(wait=True)
        admin_put(api.base, ev, enabled=False)
