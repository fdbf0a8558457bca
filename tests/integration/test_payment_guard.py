"""Payment decisions read from ticketing.payments are applied only when they
match the payment ticketd recorded (docs/events.md, "The saga consumer"):
anyone who can produce to the topic must not be able to confirm an order.
The forged decisions are produced with kcat, as any local Kafka client could."""
import json
import re
import subprocess
import time

import requests

from conftest import PORTS, mariadb_sql
from test_orders import authorize, get_order, held_order, statuses, wait_final


def produce(order_id, **fields):
    """Produces one PaymentDecided message keyed by order_id."""
    payload = json.dumps({"type": "PaymentDecided", "orderId": order_id, "attempts": 1,
                          **fields})
    subprocess.run(["kcat", "-b", f"127.0.0.1:{PORTS['kafka']}", "-P", "-t",
                    "ticketing.payments", "-k", order_id],
                   input=payload, text=True, check=True, timeout=30)


def rejected(base):
    text = requests.get(base + "/metrics", timeout=5).text
    return {m.group(1): int(m.group(2)) for m in re.finditer(
        r'^ticketd_saga_decisions_rejected_total\{reason="([a-z_]+)"\} (\d+)$', text, re.M)}


def wait_rejected(base, before, want, within=20.0):
    """Waits until each reason in want was counted that many more times."""
    deadline = time.monotonic() + within
    while True:
        now = rejected(base)
        grown = {k: now.get(k, 0) - before.get(k, 0) for k in want}
        if all(grown[k] >= n for k, n in want.items()) or time.monotonic() > deadline:
            return grown
        time.sleep(0.1)


def record_payment(payment_id, order_id, status, amount):
    """A payments row as if the gateway decided, without applying it."""
    mariadb_sql("INSERT INTO payments (id, order_id, status, amount, attempts, decided_at)"
                f" VALUES ('{payment_id}', '{order_id}', '{status}', {amount}, 1, NOW(3))")


def test_forged_payment_decisions_confirm_nothing(api, arena):
    before = rejected(api.base)
    assert set(before) >= {"malformed", "unknown_payment", "other_order",
                           "status_differs", "amount_differs"}

    # A genuine order paid for through the API: its payment id is public
    # (the client saw it) and can be replayed against another order.
    paid_s, paid_seats, paid = held_order(api, arena)
    r = authorize(api.base, paid_s["token"], paid["orderId"], simulate="approve")
    assert r.status_code == 200 and r.json()["status"] == "APPROVED", r.text
    paid_pid = r.json()["paymentId"]
    assert wait_final(api.base, paid_s["token"], paid["orderId"])["status"] == "CONFIRMED"

    victims = []  # (session, seats, order)

    # 1. No payment recorded at all (a genuine order, no approval).
    s1, seats1, o1 = held_order(api, arena)
    produce(o1["orderId"], paymentId="pay_0000000000000001", status="APPROVED",
            amount=o1["amount"])
    victims.append((s1, seats1, o1))

    # 2. A recorded approval, but the message claims another amount; and a
    #    recorded approval whose amount is not the order's.
    s2, seats2, o2 = held_order(api, arena)
    record_payment(f"pay_g2_{o2['orderId'][4:20]}", o2["orderId"], "APPROVED", o2["amount"])
    produce(o2["orderId"], paymentId=f"pay_g2_{o2['orderId'][4:20]}", status="APPROVED",
            amount=1)
    s3, seats3, o3 = held_order(api, arena)
    record_payment(f"pay_g3_{o3['orderId'][4:20]}", o3["orderId"], "APPROVED", 1)
    produce(o3["orderId"], paymentId=f"pay_g3_{o3['orderId'][4:20]}", status="APPROVED",
            amount=1)
    victims += [(s2, seats2, o2), (s3, seats3, o3)]

    # 3. Another order's genuine approval replayed for this order.
    s4, seats4, o4 = held_order(api, arena)
    produce(o4["orderId"], paymentId=paid_pid, status="APPROVED", amount=o4["amount"])
    victims.append((s4, seats4, o4))

    # 4. A recorded decline turned into an approval; a made-up status.
    s5, seats5, o5 = held_order(api, arena)
    record_payment(f"pay_g5_{o5['orderId'][4:20]}", o5["orderId"], "DECLINED", o5["amount"])
    produce(o5["orderId"], paymentId=f"pay_g5_{o5['orderId'][4:20]}", status="APPROVED",
            amount=o5["amount"])
    produce(o1["orderId"], paymentId="pay_0000000000000001", status="PAID",
            amount=o1["amount"])
    victims.append((s5, seats5, o5))

    # 5. Malformed: no payment id, no amount.
    produce(o1["orderId"], status="APPROVED", amount=o1["amount"])
    produce(o1["orderId"], paymentId="pay_0000000000000001", status="APPROVED")

    grown = wait_rejected(api.base, before, {
        "unknown_payment": 1, "amount_differs": 2, "other_order": 1,
        "status_differs": 2, "malformed": 2})
    assert grown == {"unknown_payment": 1, "amount_differs": 2, "other_order": 1,
                     "status_differs": 2, "malformed": 2}, grown

    for s, seats, o in victims:
        got = get_order(api.base, s["token"], o["orderId"]).json()
        assert got["status"] == "PENDING", got
        assert "SOLD" not in statuses(api.base, arena.event_id, seats)
    sold = mariadb_sql("SELECT COUNT(*) FROM sold_seats WHERE order_id IN (%s)" % ",".join(
        f"'{o['orderId']}'" for _, _, o in victims))
    assert int(sold) == 0
    assert get_order(api.base, paid_s["token"], paid["orderId"]).json()["status"] == "CONFIRMED"

    # The forged messages claimed nothing: the genuine decisions still work,
    # through the API and from Kafka.
    r = authorize(api.base, s1["token"], o1["orderId"], simulate="approve")
    assert r.status_code == 200 and r.json()["status"] == "APPROVED", r.text
    assert wait_final(api.base, s1["token"], o1["orderId"])["status"] == "CONFIRMED"
    assert statuses(api.base, arena.event_id, seats1) == ["SOLD", "SOLD"]
    produce(o2["orderId"], paymentId=f"pay_g2_{o2['orderId'][4:20]}", status="APPROVED",
            amount=o2["amount"])
    assert wait_final(api.base, s2["token"], o2["orderId"], within=10)["status"] == "CONFIRMED"
    assert statuses(api.base, arena.event_id, seats2) == ["SOLD", "SOLD"]


def test_dropped_decision_is_logged_with_its_reason(ticketd, api, arena):
    s, seats, o = held_order(api, arena)
    before = rejected(api.base)
    produce(o["orderId"], paymentId="pay_log_probe_0001", status="APPROVED",
            amount=o["amount"])
    assert wait_rejected(api.base, before, {"unknown_payment": 1})["unknown_payment"] == 1
    lines = [x for x in ticketd.log_lines()
             if x.get("msg") == "saga: dropped a payment decision"
             and x.get("paymentId") == "pay_log_probe_0001"]
    assert lines and lines[-1]["reason"] == "unknown_payment", lines
    assert lines[-1]["orderId"] == o["orderId"]


def saga_counter(base, name):
    text = requests.get(base + "/metrics", timeout=5).text
    m = re.search(r'^%s(\{consumer="ticketd-saga"\})? (\d+)$' % name, text, re.M)
    return int(m.group(2)) if m else 0


def test_kafka_copies_of_applied_decisions_are_dropped_in_batches(api, arena):
    """The saga consumer takes payment messages in batches: the Kafka copy
    of a decision applied when the gateway answered is found claimed by
    the batch's one read and counted as a duplicate."""
    b0 = saga_counter(api.base, "ticketd_consumer_batches_total")
    d0 = saga_counter(api.base, "ticketd_saga_duplicates_total")
    s, _, o = held_order(api, arena)
    r = authorize(api.base, s["token"], o["orderId"], simulate="approve")
    assert r.status_code == 200 and r.json()["status"] == "APPROVED", r.text
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if saga_counter(api.base, "ticketd_saga_duplicates_total") > d0:
            break
        time.sleep(0.1)
    assert saga_counter(api.base, "ticketd_saga_duplicates_total") > d0
    assert saga_counter(api.base, "ticketd_consumer_batches_total") > b0
    assert wait_final(api.base, s["token"], o["orderId"])["status"] == "CONFIRMED"
