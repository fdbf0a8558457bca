"""Gateway answers that arrive together are settled together (docs/threads.md,
One purchase): one transaction for up to 8 orders (payments, inbox claims,
sold seats, outbox rows each in one multi-row INSERT, the orders in one
UPDATE), with the same outcome per order as one by one. paymentd answers
every authorization after the same fixed delay, so 24 answers land at
once. Runs against real MariaDB, Kafka and paymentd."""
import concurrent.futures as cf

from conftest import mariadb_sql, metric, new_session
from test_orders import authorize, hold, order, statuses, wait_final
from test_overload import restart  # noqa: F401 (the fixture)

N = 24


def test_answers_arriving_together_settle_in_batches_with_the_same_outcomes(
        api, arena, restart):
    restart((), ("--delay-min-ms", "400", "--delay-max-ms", "400"))
    orders = []
    for i in range(N):
        s = new_session(api.base)
        seats = arena.take(1 + i % 2)
        hold(api.base, s["token"], arena.event_id, seats)
        r = order(api.base, s["token"], arena.event_id, seats)
        assert r.status_code == 201, r.text
        orders.append((s["token"], r.json(), seats, "approve" if i % 3 else "decline"))
    batches0 = metric(api.base, "ticketd_saga_settle_batches_total")
    batched0 = metric(api.base, "ticketd_saga_settled_in_batches_total")
    with cf.ThreadPoolExecutor(N) as pool:
        answers = list(pool.map(lambda o: authorize(api.base, o[0], o[1]["orderId"], o[3]),
                                orders))
    batched = metric(api.base, "ticketd_saga_settled_in_batches_total") - batched0
    batches = metric(api.base, "ticketd_saga_settle_batches_total") - batches0
    print(f"{batched:.0f} of {N} orders settled in {batches:.0f} batches")
    assert batches >= 1 and batched >= 2
    for (token, o, seats, sim), r in zip(orders, answers):
        oid = o["orderId"]
        assert r.status_code == 200, r.text
        body = r.json()
        final = wait_final(api.base, token, oid)
        if sim == "approve":
            assert body["status"] == "APPROVED" and body["orderStatus"] == "CONFIRMED", body
            assert final["status"] == "CONFIRMED"
            assert statuses(api.base, arena.event_id, seats) == ["SOLD"] * len(seats)
        else:
            assert body["status"] == "DECLINED" and body["orderStatus"] == "CANCELLED", body
            assert body["reason"] == "PAYMENT_DECLINED" and "refund" not in body, body
            assert final["status"] == "CANCELLED" and final["reason"] == "PAYMENT_DECLINED"
            assert statuses(api.base, arena.event_id, seats) == ["AVAILABLE"] * len(seats)
        assert body["paymentId"]
        # the books of each order, as one by one would leave them
        pay = mariadb_sql(f"SELECT id, status, amount FROM payments WHERE order_id = '{oid}'")
        pid, pstatus, amount = pay.strip().split("\t")
        assert pid == body["paymentId"] and int(amount) == o["amount"]
        assert pstatus == ("APPROVED" if sim == "approve" else "DECLINED")
        assert mariadb_sql("SELECT COUNT(*) FROM inbox WHERE consumer = 'ticketd-saga'"
                           f" AND message_id = 'payment:{oid}'").strip() == "1"
        sold = mariadb_sql(f"SELECT seat_id FROM sold_seats WHERE order_id = '{oid}'"
                           " ORDER BY seat_id").split()
        assert [int(x) for x in sold] == (sorted(seats) if sim == "approve" else [])
        topics = mariadb_sql(f"SELECT topic FROM outbox WHERE msg_key = '{oid}'"
                             " ORDER BY id").split()
        assert topics == ["ticketing.orders", "ticketing.payments", "ticketing.orders"] + (
            ["ticketing.seats"] if sim == "approve" else []), topics
        reason = mariadb_sql(f"SELECT COALESCE(reason, '-') FROM orders WHERE id = '{oid}'")
        assert reason.strip() == ("-" if sim == "approve" else "PAYMENT_DECLINED")
