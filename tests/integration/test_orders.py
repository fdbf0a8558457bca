"""Orders, payments and the saga against real MariaDB, Kafka and paymentd
(docs/api.md: POST /api/orders, GET /api/orders/{id},
POST /api/payments/authorize)."""
import concurrent.futures as cf
import json
import signal
import subprocess
import time
import uuid

import pytest
import requests

from conftest import (PAYMENT_DEADLINE_SECONDS, PORTS, assert_error, auth, infra,
                      mariadb_sql, metric, new_session)


def hold(base, token, event_id, seat_ids):
    r = requests.post(base + "/api/reservations", headers=auth(token), timeout=10,
                      json={"eventId": event_id, "seatIds": seat_ids})
    assert r.status_code == 201, r.text


def order(base, token, event_id, seat_ids, key=None):
    headers = auth(token)
    if key is not False:
        headers["Idempotency-Key"] = key or str(uuid.uuid4())
    return requests.post(base + "/api/orders", headers=headers, timeout=10,
                         json={"eventId": event_id, "seatIds": seat_ids})


def authorize(base, token, order_id, simulate=None):
    body = {"orderId": order_id}
    if simulate:
        body["simulate"] = simulate
    return requests.post(base + "/api/payments/authorize", headers=auth(token),
                         json=body, timeout=30)


def get_order(base, token, order_id):
    return requests.get(f"{base}/api/orders/{order_id}", headers=auth(token), timeout=5)


def wait_final(base, token, order_id, within=2.0):
    deadline = time.time() + within
    while time.time() < deadline:
        o = get_order(base, token, order_id).json()
        if o["status"] != "PENDING":
            return o
        time.sleep(0.02)
    return get_order(base, token, order_id).json()


def statuses(base, event_id, seat_ids):
    seats = requests.get(f"{base}/api/events/{event_id}/seats", timeout=5).json()["seats"]
    return [seats[s]["status"] for s in seat_ids]


def held_order(api, arena, n=2):
    s = new_session(api.base)
    seats = arena.take(n)
    hold(api.base, s["token"], arena.event_id, seats)
    r = order(api.base, s["token"], arena.event_id, seats)
    assert r.status_code == 201, r.text
    return s, seats, r.json()


def kafka_messages(topic):
    """Every message of a topic: (key, headers, payload dict)."""
    out = subprocess.run(
        ["kcat", "-b", f"127.0.0.1:{PORTS['kafka']}", "-C", "-t", topic, "-o", "beginning",
         "-e", "-q", "-f", "%k\\t%h\\t%s\\n"], capture_output=True, text=True, timeout=60)
    msgs = []
    for line in out.stdout.splitlines():
        key, headers, payload = line.split("\t", 2)
        msgs.append((key, headers, json.loads(payload)))
    return msgs


def outbox_ids(headers):
    return [h.split("=", 1)[1] for h in headers.split(",") if h.startswith("outbox-id=")]


def test_order_takes_held_seats_and_shows_them_held(api, arena):
    s, seats, o = held_order(api, arena)
    assert o["status"] == "PENDING" and o["eventId"] == arena.event_id
    assert o["seatIds"] == seats
    prices = {x["id"]: x["price"] for x in requests.get(
        f"{api.base}/api/events/{arena.event_id}/seats", timeout=5).json()["seats"]}
    assert o["amount"] == sum(prices[x] for x in seats)
    assert o["orderId"] and o["createdAt"] and o["paymentDeadline"]
    assert statuses(api.base, arena.event_id, seats) == ["HELD", "HELD"]
    r = get_order(api.base, s["token"], o["orderId"])
    assert r.status_code == 200 and r.json() == o
    # ordered seats are not live holds any more, and cannot be released
    assert requests.get(api.base + "/api/reservations", headers=auth(s["token"]),
                        timeout=5).json() == []
    r = requests.delete(f"{api.base}/api/reservations/{arena.event_id}/{seats[0]}",
                        headers=auth(s["token"]), timeout=5)
    assert_error(r, 409, "SEAT_IN_ORDER")


def test_another_sessions_order_is_404(api, arena):
    _, _, o = held_order(api, arena, 1)
    other = new_session(api.base)
    assert_error(get_order(api.base, other["token"], o["orderId"]), 404, "ORDER_NOT_FOUND")
    assert_error(authorize(api.base, other["token"], o["orderId"]), 404, "ORDER_NOT_FOUND")
    assert_error(get_order(api.base, other["token"], "ord_nope"), 404, "ORDER_NOT_FOUND")


def test_idempotency_key_is_required(api, arena):
    s = new_session(api.base)
    seats = arena.take(1)
    hold(api.base, s["token"], arena.event_id, seats)
    assert_error(order(api.base, s["token"], arena.event_id, seats, key=False), 400,
                 "IDEMPOTENCY_KEY_REQUIRED")
    assert_error(order(api.base, s["token"], arena.event_id, seats, key="x" * 65), 400,
                 "IDEMPOTENCY_KEY_REQUIRED")


def test_order_of_seats_not_held_is_409_and_changes_nothing(api, arena):
    a, b = new_session(api.base), new_session(api.base)
    mine, theirs, free = arena.take(1), arena.take(1), arena.take(1)
    hold(api.base, a["token"], arena.event_id, mine)
    hold(api.base, b["token"], arena.event_id, theirs)
    r = order(api.base, a["token"], arena.event_id, mine + theirs + free)
    body = assert_error(r, 409, "SEAT_NOT_HELD")
    assert sorted(body["details"]["seatIds"]) == sorted(theirs + free)
    # my hold is still a plain hold
    assert [h["seatId"] for h in requests.get(api.base + "/api/reservations",
            headers=auth(a["token"]), timeout=5).json()] == mine


@pytest.mark.parametrize("body", [{}, {"eventId": "1", "seatIds": [1]},
                                  {"eventId": 1, "seatIds": []},
                                  {"eventId": 1, "seatIds": [1, 1]}])
def test_bad_order_bodies_are_422(api, body):
    s = new_session(api.base)
    r = requests.post(api.base + "/api/orders", json=body, timeout=5,
                      headers={**auth(s["token"]), "Idempotency-Key": "k"})
    assert_error(r, 422, "VALIDATION_FAILED")


def test_same_key_same_request_replays_and_other_body_is_422(api, arena):
    s = new_session(api.base)
    seats = arena.take(3)
    hold(api.base, s["token"], arena.event_id, seats)
    first = order(api.base, s["token"], arena.event_id, seats[:2], key="same-key")
    assert first.status_code == 201
    again = order(api.base, s["token"], arena.event_id, list(reversed(seats[:2])),
                  key="same-key")
    assert again.status_code == 201 and again.json() == first.json()
    assert_error(order(api.base, s["token"], arena.event_id, seats, key="same-key"), 422,
                 "IDEMPOTENCY_KEY_REUSED")
    # keys belong to a session: another session's same key is its own order
    other = new_session(api.base)
    assert_error(order(api.base, other["token"], arena.event_id, seats[:2], key="same-key"),
                 409, "SEAT_NOT_HELD")


def test_20_concurrent_identical_requests_make_one_order(api, arena):
    s = new_session(api.base)
    seats = arena.take(2)
    hold(api.base, s["token"], arena.event_id, seats)
    key = str(uuid.uuid4())
    with cf.ThreadPoolExecutor(max_workers=20) as pool:
        rs = list(pool.map(lambda _: order(api.base, s["token"], arena.event_id, seats,
                                           key=key), range(20)))
    assert [r.status_code for r in rs] == [201] * 20
    assert len({r.json()["orderId"] for r in rs}) == 1
    n = mariadb_sql(f"SELECT COUNT(*) FROM orders WHERE idempotency_key = '{key}'")
    assert int(n) == 1


def test_approved_payment_confirms_order_sells_seats_and_reaches_kafka(api, arena):
    s, seats, o = held_order(api, arena)
    r = authorize(api.base, s["token"], o["orderId"], simulate="approve")
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "APPROVED" and r.json()["orderId"] == o["orderId"]
    assert r.json()["paymentId"]
    final = wait_final(api.base, s["token"], o["orderId"])
    assert final["status"] == "CONFIRMED"
    assert statuses(api.base, arena.event_id, seats) == ["SOLD", "SOLD"]
    assert_error(authorize(api.base, s["token"], o["orderId"]), 409, "ORDER_NOT_PENDING")
    # the relay publishes asynchronously (and a just-started broker may
    # still be loading its coordinators): wait for the messages, bounded
    deadline = time.time() + 15
    while True:
        types = [m[2]["type"] for m in kafka_messages("ticketing.orders")
                 if m[0] == o["orderId"]]
        pays = [m[2] for m in kafka_messages("ticketing.payments") if m[0] == o["orderId"]]
        if ("OrderConfirmed" in types and pays) or time.time() > deadline:
            break
        time.sleep(0.3)
    assert "OrderCreated" in types and "OrderConfirmed" in types
    assert pays and pays[0]["status"] == "APPROVED"


def test_declined_payment_cancels_order_and_frees_seats(api, arena):
    s, seats, o = held_order(api, arena)
    r = authorize(api.base, s["token"], o["orderId"], simulate="decline")
    assert r.status_code == 200 and r.json()["status"] == "DECLINED"
    final = wait_final(api.base, s["token"], o["orderId"])
    assert final["status"] == "CANCELLED" and final["reason"] == "PAYMENT_DECLINED"
    assert statuses(api.base, arena.event_id, seats) == ["AVAILABLE", "AVAILABLE"]
    # the seats are for sale again, to anyone
    other = new_session(api.base)
    hold(api.base, other["token"], arena.event_id, seats)


def test_authorize_validation(api, arena):
    s, _, o = held_order(api, arena, 1)
    for body in ({}, {"orderId": 5}, {"orderId": ""}, {"orderId": "x" * 100}):
        r = requests.post(api.base + "/api/payments/authorize", json=body,
                          headers=auth(s["token"]), timeout=5)
        assert_error(r, 422, "VALIDATION_FAILED")
    r = authorize(api.base, s["token"], o["orderId"], simulate="explode")
    assert_error(r, 422, "VALIDATION_FAILED")
    assert_error(authorize(api.base, s["token"], "ord_missing"), 404, "ORDER_NOT_FOUND")
    r = requests.post(api.base + "/api/payments/authorize", data="{",
                      headers=auth(s["token"]), timeout=5)
    assert_error(r, 400, "MALFORMED_JSON")


def test_unpaid_order_is_cancelled_at_its_deadline(api, arena):
    s, seats, o = held_order(api, arena)
    final = wait_final(api.base, s["token"], o["orderId"],
                       within=PAYMENT_DEADLINE_SECONDS + 2)
    assert final["status"] == "CANCELLED" and final["reason"] == "PAYMENT_DEADLINE"
    assert statuses(api.base, arena.event_id, seats) == ["AVAILABLE", "AVAILABLE"]
    assert_error(authorize(api.base, s["token"], o["orderId"]), 409, "ORDER_NOT_PENDING")


def test_gateway_down_cancels_the_order(api, arena, paymentd):
    s, seats, o = held_order(api, arena)
    paymentd.stop()
    try:
        r = authorize(api.base, s["token"], o["orderId"])
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "DECLINED"
        assert r.json()["reason"] == "PAYMENT_GATEWAY_FAILED"
        final = wait_final(api.base, s["token"], o["orderId"])
        assert final["status"] == "CANCELLED" and final["reason"] == "PAYMENT_FAILED"
        assert statuses(api.base, arena.event_id, seats) == ["AVAILABLE", "AVAILABLE"]
    finally:
        paymentd.start()


def test_kafka_down_then_back_loses_and_duplicates_nothing(api, arena):
    s, seats, o = held_order(api, arena)
    infra("kafka.sh", "stop")
    try:
        # Orders still end while Kafka is down; their events wait in the outbox.
        r = authorize(api.base, s["token"], o["orderId"], simulate="approve")
        assert r.status_code == 200 and r.json()["status"] == "APPROVED"
        assert wait_final(api.base, s["token"], o["orderId"])["status"] == "CONFIRMED"
        unsent = mariadb_sql("SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL")
        assert int(unsent) >= 2
    finally:
        infra("kafka.sh", "start")
    deadline = time.time() + 20
    while time.time() < deadline:
        if int(mariadb_sql("SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL")) == 0:
            break
        time.sleep(0.2)
    msgs = [m for m in kafka_messages("ticketing.orders") if m[0] == o["orderId"]]
    by_id = {}
    for key, headers, payload in msgs:
        for oid in outbox_ids(headers):
            by_id.setdefault(oid, payload["type"])
    assert sorted(by_id.values()) == ["OrderConfirmed", "OrderCreated"]
    assert int(mariadb_sql("SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL")) == 0
    # the saga's Kafka copy of the decision found it applied: no second effect
    assert get_order(api.base, s["token"], o["orderId"]).json()["status"] == "CONFIRMED"
    assert statuses(api.base, arena.event_id, seats) == ["SOLD", "SOLD"]


def test_kill_9_between_steps_resumes_the_saga(ticketd, api, arena):
    s, seats, o = held_order(api, arena)
    ticketd.stop(signal.SIGKILL)
    ticketd.start()
    r = authorize(api.base, s["token"], o["orderId"], simulate="approve")
    assert r.status_code == 200 and r.json()["status"] == "APPROVED"
    ticketd.stop(signal.SIGKILL)  # right after the decision was recorded
    ticketd.start()
    final = wait_final(api.base, s["token"], o["orderId"], within=5)
    assert final["status"] == "CONFIRMED"
    assert statuses(api.base, arena.event_id, seats) == ["SOLD", "SOLD"]


def test_many_orders_race_and_the_books_balance(api, arena):
    """Audit: every SOLD seat belongs to exactly one CONFIRMED order."""
    seats = arena.take(20)
    sessions = [new_session(api.base) for _ in range(40)]

    def attempt(i):
        s = sessions[i]
        mine = [seats[i % 20]]
        r = requests.post(api.base + "/api/reservations", headers=auth(s["token"]),
                          json={"eventId": arena.event_id, "seatIds": mine}, timeout=10)
        if r.status_code != 201:
            return None
        r = order(api.base, s["token"], arena.event_id, mine)
        if r.status_code != 201:
            return None
        a = authorize(api.base, s["token"], r.json()["orderId"],
                      simulate="approve" if i % 3 else "decline")
        return (s, r.json()["orderId"], a.json()["status"])

    with cf.ThreadPoolExecutor(max_workers=40) as pool:
        results = [x for x in pool.map(attempt, range(40)) if x]
    assert results
    for s, oid, _ in results:
        assert wait_final(api.base, s["token"], oid)["status"] in ("CONFIRMED", "CANCELLED")
    audit_books(api)


def audit_books(api):
    rows = mariadb_sql(
        "SELECT ss.event_id, ss.seat_id, COUNT(*), SUM(o.status = 'CONFIRMED')"
        " FROM sold_seats ss JOIN orders o ON o.id = ss.order_id"
        " GROUP BY ss.event_id, ss.seat_id")
    sold = set()
    for line in rows.splitlines():
        e, s, n, confirmed = map(int, line.split("\t"))
        assert n == 1 and confirmed == 1, line
        sold.add((e, s))
    confirmed_seats = mariadb_sql(
        "SELECT os.event_id, os.seat_id FROM orders o JOIN order_seats os"
        " ON os.order_id = o.id WHERE o.status = 'CONFIRMED'")
    for line in confirmed_seats.splitlines():
        e, s = map(int, line.split("\t"))
        assert (e, s) in sold, line
    for ev in requests.get(api.base + "/api/events", timeout=5).json():
        seats = requests.get(f"{api.base}/api/events/{ev['id']}/seats", timeout=5).json()
        for x in seats["seats"]:
            assert (x["status"] == "SOLD") == ((ev["id"], x["id"]) in sold), (ev["id"], x)
    late = mariadb_sql("SELECT COUNT(*) FROM orders WHERE status = 'PENDING'"
                       " AND payment_deadline < NOW(3) - INTERVAL 2 SECOND")
    assert int(late) == 0


def test_decision_recorded_but_not_applied_is_applied_from_kafka(api, arena):
    """As after a crash between recording a payment and ending the order:
    the saga's Kafka consumer finds the decision and ends the order."""
    s, seats, o = held_order(api, arena)
    oid = o["orderId"]
    payload = json.dumps({"type": "PaymentDecided", "orderId": oid,
                          "paymentId": f"pay_{oid}", "status": "APPROVED",
                          "amount": o["amount"], "attempts": 1})
    mariadb_sql(
        "START TRANSACTION;"
        f"INSERT INTO payments (id, order_id, status, amount, attempts, decided_at)"
        f" VALUES ('pay_{oid}', '{oid}', 'APPROVED', {o['amount']}, 1, NOW(3));"
        f"INSERT INTO outbox (topic, msg_key, payload) VALUES"
        f" ('ticketing.payments', '{oid}', '{payload}');"
        "COMMIT")
    final = wait_final(api.base, s["token"], oid, within=5)
    assert final["status"] == "CONFIRMED"
    assert statuses(api.base, arena.event_id, seats) == ["SOLD", "SOLD"]


def _db_status(*names):
    out = mariadb_sql("SHOW GLOBAL STATUS WHERE Variable_name IN ("
                      + ", ".join(f"'{n}'" for n in names) + ")")
    vals = dict(line.split("\t") for line in out.strip().splitlines())
    return {n: int(vals[n]) for n in names}


def test_purchase_is_two_commits_and_reuses_prepared_statements(api, arena):
    """One order is one transaction (order, seats in one INSERT, outbox), and
    recording and applying its payment is one more: two COMMITs per
    purchase, and each statement is prepared once per pooled connection, not
    once per call (SHOW GLOBAL STATUS deltas; ticketd's background loops
    run meanwhile, hence the slack)."""
    def held():
        s = new_session(api.base)  # a session is a commit of its own
        seats = arena.take(2)
        hold(api.base, s["token"], arena.event_id, seats)
        return s, seats

    def purchase(s, seats):
        r = order(api.base, s["token"], arena.event_id, seats)
        assert r.status_code == 201, r.text
        r = authorize(api.base, s["token"], r.json()["orderId"], simulate="approve")
        assert r.status_code == 200 and r.json()["status"] == "APPROVED", r.text

    for _ in range(12):  # every pool connection has prepared the statements
        purchase(*held())
    n = 10
    ready = [held() for _ in range(n)]
    before = _db_status("Com_commit", "Com_stmt_prepare", "Com_stmt_execute")
    for s, seats in ready:
        purchase(s, seats)
    after = _db_status("Com_commit", "Com_stmt_prepare", "Com_stmt_execute")
    d = {k: after[k] - before[k] for k in before}
    print("per purchase:", {k: v / n for k, v in d.items()})
    assert d["Com_commit"] <= 2 * n + 3, d
    # left: the outbox's and the inbox's statements (messaging/), 5 per
    # purchase, prepared at each call
    assert d["Com_stmt_prepare"] <= 6 * n, d
    assert d["Com_stmt_execute"] >= 8 * n, d


def test_settling_a_payment_writes_its_outbox_rows_in_one_insert(api, arena):
    """Recording and applying a decision puts PaymentDecided, OrderConfirmed
    and the seats' row into the outbox with one multi-row INSERT, and
    leaves the request row to the deadline loop's bulk prune: per purchase
    8 INSERTs (order, its seats, OrderCreated, the request, the payment, the
    inbox claim, the sold seats, the three settle rows) and no DELETE of its
    own (it was 10 INSERTs and a DELETE)."""
    def held():
        s = new_session(api.base)
        seats = arena.take(2)
        hold(api.base, s["token"], arena.event_id, seats)
        return s, seats

    n = 10
    ready = [held() for _ in range(n)]
    oids = []
    time.sleep(1.2)  # a prune of earlier tests' rows is behind us
    before = _db_status("Com_insert", "Com_delete")
    for s, seats in ready:
        r = order(api.base, s["token"], arena.event_id, seats)
        assert r.status_code == 201, r.text
        oids.append(r.json()["orderId"])
        r = authorize(api.base, s["token"], oids[-1], simulate="approve")
        assert r.status_code == 200 and r.json()["orderStatus"] == "CONFIRMED", r.text
    after = _db_status("Com_insert", "Com_delete")
    d = {k: after[k] - before[k] for k in before}
    print("per purchase:", {k: v / n for k, v in d.items()})
    assert d["Com_insert"] <= 8 * n + 2, d
    assert d["Com_delete"] <= 4, d  # the prune's, not one per purchase
    # the outbox rows are all there, in order: payment, order, seats
    ids = "', '".join(oids)
    rows = mariadb_sql("SELECT msg_key, topic FROM outbox WHERE msg_key IN"
                       f" ('{ids}') ORDER BY id").split("\n")
    got = {}
    for line in filter(None, rows):
        key, topic = line.split("\t")
        got.setdefault(key, []).append(topic)
    for oid in oids:
        assert got[oid] == ["ticketing.orders", "ticketing.payments", "ticketing.orders",
                            "ticketing.seats"], (oid, got[oid])


def test_decided_payment_requests_are_pruned_in_bulk(api, arena):
    """The settle transaction leaves its payment_requests row; the deadline
    loop deletes decided ones within about a second, counted."""
    s, _, o = held_order(api, arena)
    before = metric(api.base, "ticketd_payment_requests_pruned_total")
    r = authorize(api.base, s["token"], o["orderId"], simulate="decline")
    assert r.status_code == 200 and r.json()["orderStatus"] == "CANCELLED", r.text
    deadline = time.time() + 5
    left = None
    while time.time() < deadline:
        left = int(mariadb_sql("SELECT COUNT(*) FROM payment_requests"
                               f" WHERE order_id = '{o['orderId']}'").strip())
        if left == 0:
            break
        time.sleep(0.1)
    assert left == 0
    assert metric(api.base, "ticketd_payment_requests_pruned_total") >= before + 1


def test_an_ended_order_is_read_from_memory(api, arena):
    """GET of an ended order (it never changes again) is answered from
    ticketd's copy, counted as a hit, with no statement at MariaDB; a
    PENDING one is read from MariaDB each time (a miss)."""
    s, _, o = held_order(api, arena)
    oid = o["orderId"]
    hit = 'ticketd_order_cache_total{result="hit"}'
    miss = 'ticketd_order_cache_total{result="miss"}'
    m0 = metric(api.base, miss)
    assert get_order(api.base, s["token"], oid).json()["status"] == "PENDING"
    assert metric(api.base, miss) >= m0 + 1
    r = authorize(api.base, s["token"], oid, simulate="approve")
    assert r.status_code == 200 and r.json()["orderStatus"] == "CONFIRMED", r.text
    h0 = metric(api.base, hit)
    before = _db_status("Com_stmt_execute")
    answers = [get_order(api.base, s["token"], oid) for _ in range(20)]
    after = _db_status("Com_stmt_execute")
    assert all(a.status_code == 200 for a in answers)
    body = answers[-1].json()
    assert body["status"] == "CONFIRMED" and body["orderId"] == oid
    assert body["seatIds"] == o["seatIds"] and body["amount"] == o["amount"]
    assert body["createdAt"] == o["createdAt"]
    assert body["paymentDeadline"] == o["paymentDeadline"]
    assert metric(api.base, hit) >= h0 + 20
    # the background loops (deadline poll, relay) run meanwhile: far fewer
    # than the 20 reads
    assert after["Com_stmt_execute"] - before["Com_stmt_execute"] < 10
    # still another session's order is not found, and a second authorize
    # is refused from the copy as from the row
    other = new_session(api.base)
    assert_error(get_order(api.base, other["token"], oid), 404, "ORDER_NOT_FOUND")
    assert_error(authorize(api.base, s["token"], oid), 409, "ORDER_NOT_PENDING")
    # a cancelled order keeps its reason
    s2, _, o2 = held_order(api, arena)
    r = authorize(api.base, s2["token"], o2["orderId"], simulate="decline")
    assert r.status_code == 200, r.text
    h1 = metric(api.base, hit)
    body = get_order(api.base, s2["token"], o2["orderId"]).json()
    assert body["status"] == "CANCELLED" and body["reason"] == "PAYMENT_DECLINED"
    assert metric(api.base, hit) >= h1 + 1
