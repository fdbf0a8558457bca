"""No buyer is charged for nothing (issue #11): every payment the gateway
may have charged ends in a CONFIRMED order or in a CANCELLED one with a
refund sent to paymentd until it acknowledges; authorize answers what the
order came to; a graceful stop leaves an undecided payment pending, asked
again at the next start (docs/api.md, "POST /api/payments/authorize" and
"Refunds"). Runs against real MariaDB, Kafka, paymentd."""
import signal
import time

import pytest
import requests

from conftest import PORTS, auth, mariadb_sql, metric
from test_orders import authorize, get_order, held_order, wait_final
from test_payment_guard import record_payment

PAYMENTD = f"http://127.0.0.1:{PORTS['paymentd']}"


@pytest.fixture
def gateway(paymentd):
    """restart(*args): paymentd again with other settings; defaults after."""
    def restart(*args):
        paymentd.stop()
        paymentd.args = list(args)
        paymentd.start()
    yield restart
    restart()


def restart_ticketd(ticketd, *extra, sig=signal.SIGTERM):
    rc = ticketd.stop(sig)
    base_args = ticketd.args[:ticketd.args.index("--log-level") + 2]
    ticketd.args = base_args + list(extra)
    ticketd.start()
    return rc


@pytest.fixture
def back_to_default(ticketd):
    yield
    restart_ticketd(ticketd)


def paymentd_metric(name):
    return int(metric(PAYMENTD, name) or 0)


def refund_row(order_id):
    """(payment status, refund status, refund result) as recorded."""
    out = mariadb_sql("SELECT status, COALESCE(refund_status, ''), COALESCE(refund_result, '')"
                      f" FROM payments WHERE order_id = '{order_id}'").rstrip("\n")
    return tuple(out.split("\t")) if out else None


def wait_refund_done(order_id, within=10.0):
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        row = refund_row(order_id)
        if row and row[1] == "DONE":
            return row
        time.sleep(0.1)
    return refund_row(order_id)


def deadline_of(o):
    from datetime import datetime
    return datetime.fromisoformat(o["paymentDeadline"].replace("Z", "+00:00")).timestamp()


def test_late_approval_is_cancelled_and_refunded_at_the_gateway(api, arena, gateway):
    gateway("--delay_min_ms", "900", "--delay_max_ms", "900", "--approve_ratio", "1")
    s, seats, o = held_order(api, arena, 1)
    time.sleep(max(0.0, deadline_of(o) - time.time() - 0.4))
    r = authorize(api.base, s["token"], o["orderId"])
    # The gateway approved 0.5 s after the deadline: never "APPROVED".
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "DECLINED" and body["orderStatus"] == "CANCELLED", body
    assert body["reason"] == "PAYMENT_DEADLINE" and body["refund"] in ("PENDING", "DONE"), body
    assert get_order(api.base, s["token"], o["orderId"]).json()["status"] == "CANCELLED"
    assert wait_refund_done(o["orderId"]) == ("APPROVED", "DONE", "REFUNDED")
    assert paymentd_metric('paymentd_refunds_total{outcome="refunded"}') == 1


def test_approval_that_cannot_confirm_is_not_answered_approved(api, arena):
    s, seats, o = held_order(api, arena, 1)
    # The seat is sold already (as by another node): confirming must fail.
    mariadb_sql(f"INSERT INTO sold_seats (event_id, seat_id, order_id) VALUES"
                f" ({arena.event_id}, {seats[0]}, '{o['orderId']}')")
    try:
        before = paymentd_metric('paymentd_refunds_total{outcome="refunded"}')
        r = authorize(api.base, s["token"], o["orderId"], simulate="approve")
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["status"] != "APPROVED", body
        assert body["orderStatus"] == "CANCELLED" and body["reason"] == "SEAT_ALREADY_SOLD", body
        assert body["refund"] in ("PENDING", "DONE"), body
        assert wait_refund_done(o["orderId"]) == ("APPROVED", "DONE", "REFUNDED")
        assert paymentd_metric('paymentd_refunds_total{outcome="refunded"}') == before + 1
    finally:
        mariadb_sql(f"DELETE FROM sold_seats WHERE order_id = '{o['orderId']}'")


def test_deadline_confirms_a_recorded_approval_never_applied(api, arena):
    s, seats, o = held_order(api, arena, 1)
    # Recorded (as if ticketd died between recording and applying, with
    # the Kafka copy not yet consumed), never applied.
    record_payment(f"pay_unapplied_{o['orderId'][-12:]}", o["orderId"], "APPROVED", o["amount"])
    time.sleep(max(0.0, deadline_of(o) - time.time()))
    final = wait_final(api.base, s["token"], o["orderId"], within=5.0)
    assert final["status"] == "CONFIRMED", final
    seat_map = requests.get(f"{api.base}/api/events/{arena.event_id}/seats", timeout=5).json()
    assert seat_map["seats"][seats[0]]["status"] == "SOLD"
    assert refund_row(o["orderId"])[1] == ""


def test_recorded_gateway_failure_is_voided_at_the_gateway(api, arena, gateway):
    gateway("--fail_ratio", "1")
    s, seats, o = held_order(api, arena, 1)
    r = authorize(api.base, s["token"], o["orderId"])
    body = r.json()
    assert body["status"] == "DECLINED" and body["reason"] == "PAYMENT_GATEWAY_FAILED", body
    # The gateway may have charged on an attempt that timed out: voided.
    assert body["refund"] in ("PENDING", "DONE"), body
    assert wait_refund_done(o["orderId"]) == ("FAILED", "DONE", "NOT_CHARGED")


def test_unacknowledged_refund_is_retried_until_the_gateway_acknowledges(
        ticketd, api, arena, gateway, back_to_default):
    restart_ticketd(ticketd, "--refund-backoff-ms", "100", "--refund-backoff-max-ms", "200")
    gateway("--refund_fail_ratio", "1", "--fail_ratio", "1")
    s, seats, o = held_order(api, arena, 1)
    assert authorize(api.base, s["token"], o["orderId"]).json()["refund"] == "PENDING"
    time.sleep(3)
    assert refund_row(o["orderId"])[1] == "PENDING"
    attempts = int(mariadb_sql("SELECT refund_attempts FROM payments"
                               f" WHERE order_id = '{o['orderId']}'").strip())
    assert attempts >= 2, attempts
    # A restart keeps it owed; the gateway heals; the refund goes through.
    restart_ticketd(ticketd, "--refund-backoff-ms", "100", "--refund-backoff-max-ms", "200")
    gateway()
    assert wait_refund_done(o["orderId"], within=15) == ("FAILED", "DONE", "NOT_CHARGED")


def test_graceful_stop_with_a_retry_pending_resumes_after_restart(
        ticketd, api, arena, gateway, back_to_default):
    # Many attempts with a doubling backoff: a retry is always pending.
    restart_ticketd(ticketd, "--payment-attempts", "10")
    gateway("--fail_ratio", "1")
    s, seats, o = held_order(api, arena, 1)
    with requests.Session() as http:
        import threading
        answer = {}

        def call():
            answer["r"] = http.post(api.base + "/api/payments/authorize",
                                    headers=auth(s["token"]), timeout=30,
                                    json={"orderId": o["orderId"]})
        t = threading.Thread(target=call)
        t.start()
        deadline = time.monotonic() + 10
        while (paymentd_metric('paymentd_authorizations_total{outcome="gateway_error"}') < 2
               and time.monotonic() < deadline):
            time.sleep(0.05)
        assert ticketd.stop(signal.SIGTERM) == 0
        t.join(30)
    r = answer["r"]
    assert r.status_code == 202, r.text
    assert r.json()["status"] == "PENDING" and r.json()["orderStatus"] == "PENDING"
    # Nothing recorded FAILED; the request stays for the next start.
    assert refund_row(o["orderId"]) is None
    assert mariadb_sql("SELECT COUNT(*) FROM payment_requests"
                       f" WHERE order_id = '{o['orderId']}'").strip() == "1"
    gateway("--approve_ratio", "1")
    restart_ticketd(ticketd)
    final = wait_final(api.base, s["token"], o["orderId"], within=10.0)
    assert final["status"] == "CONFIRMED", final
    assert metric(api.base, "ticketd_payments_resumed_total") >= 1
    assert refund_row(o["orderId"])[0] == "APPROVED"


def test_ordered_seats_stay_off_sale_past_the_deadline_by_the_settle_margin(api, arena):
    from conftest import udp
    s, seats, o = held_order(api, arena, 1)
    q = udp("QUERY", arena.event_id, seats[0], s["token"])
    assert q["status"] == "TAKEN", q
    # 30 s (order_settle_margin_seconds) beyond the deadline: a confirmation
    # committed at the deadline still finds the word ORDERED.
    margin_ms = q["expiryMs"] - deadline_of(o) * 1000
    assert 29000 <= margin_ms <= 31000, margin_ms
    # Cancelling frees the seat at once all the same.
    r = authorize(api.base, s["token"], o["orderId"], simulate="decline")
    assert r.json()["orderStatus"] == "CANCELLED", r.text
    assert udp("QUERY", arena.event_id, seats[0], s["token"])["status"] == "OK"
