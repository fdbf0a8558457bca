"""MariaDB going away under a running ticketd (integration: stops and starts
the test MariaDB with infra/mariadb.sh). Pins:
- while the database is down, REST calls that need it answer 503 with
  Retry-After at once (no request waits on a dead connection), and nothing
  is half-applied;
- once it is back, ticketd replaces its dead connections by itself and the
  same requests succeed (an order retried with its Idempotency-Key is
  stored once, whole) and the saga's workers carry on."""
import time
import uuid

import requests

from conftest import PAYMENT_DEADLINE_SECONDS, auth, infra, mariadb_sql, metric, new_session

FAST = 3.0  # seconds: a 503 must come well before any client timeout


def timed(fn):
    t0 = time.monotonic()
    r = fn()
    return r, time.monotonic() - t0


def wait_until(pred, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.2)
    return False


def test_database_down_answers_503_fast_and_recovers(ticketd, arena):
    base = ticketd.base
    sess = new_session(base)
    token = sess["token"]
    seats = arena.take(2)
    r = requests.post(base + "/api/reservations", headers=auth(token), timeout=10,
                      json={"eventId": arena.event_id, "seatIds": seats})
    assert r.status_code == 201, r.text
    key = str(uuid.uuid4())

    def order():
        return requests.post(base + "/api/orders", timeout=10,
                             headers={**auth(token), "Idempotency-Key": key},
                             json={"eventId": arena.event_id, "seatIds": seats})

    infra("mariadb.sh", "stop")
    try:
        for call in (lambda: requests.post(base + "/api/sessions", timeout=10),
                     order,
                     lambda: requests.get(base + "/api/orders/o-missing",
                                          headers=auth(token), timeout=10)):
            for _ in range(3):  # the first (reconnect attempt) and the held-off ones
                r, took = timed(call)
                assert r.status_code == 503, r.text
                assert int(r.headers["Retry-After"]) >= 1
                assert took < FAST, took
        assert wait_until(lambda: requests.get(base + "/readyz", timeout=5)
                          .status_code == 503, 10)
    finally:
        infra("mariadb.sh", "start")

    assert wait_until(lambda: requests.post(base + "/api/sessions", timeout=10)
                      .status_code == 201, 30), ticketd.log_tail()
    r = order()
    assert r.status_code == 201, r.text
    oid = r.json()["orderId"]
    r = order()  # the retry of a stored order replays it
    assert r.status_code == 201 and r.json()["orderId"] == oid, r.text
    sid = sess["sessionId"]
    assert mariadb_sql(
        f"SELECT COUNT(*) FROM orders WHERE session_id = '{sid}'").split() == ["1"]
    assert mariadb_sql(
        f"SELECT COUNT(*) FROM order_seats WHERE order_id = '{oid}'").split() == ["2"]
    assert wait_until(lambda: requests.get(base + "/readyz", timeout=5)
                      .status_code == 200, 15)
    assert (metric(base, "ticketd_db_reconnects_total") or 0) >= 1
    assert (metric(base, "ticketd_db_unavailable_total") or 0) >= 1
    log = "".join(ticketd.log_tail(400))
    assert "database connection lost" in log or "database unreachable" in log
    # The saga's deadline worker came back too: the unpaid order ends by its
    # deadline (which also hands the seats and the slot back for later tests).
    assert wait_until(lambda: requests.get(
        f"{base}/api/orders/{oid}", headers=auth(token), timeout=5)
        .json()["status"] == "CANCELLED", PAYMENT_DEADLINE_SECONDS + 10)
