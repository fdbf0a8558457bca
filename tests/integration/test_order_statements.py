"""What MariaDB runs for one purchase (issue #13: statements per order).
MariaDB's general log (to its table, for the length of the test) records
every statement ticketd sends; the ones naming the order are its own.
POST /api/payments/authorize records the payment request with the order's
checks (the session's order, PENDING, no decision recorded) in one
statement, and reads the order only when that recorded nothing
(docs/threads.md, One purchase). Runs against real MariaDB, Kafka and
paymentd; the general log needs MariaDB's root over its socket."""
import glob
import hashlib
import os
import subprocess
import time

import pytest

from conftest import RUN_DIR, assert_error, new_session
from test_orders import authorize, get_order, hold, order, wait_final


def _socket():
    own = os.path.join(RUN_DIR, "mariadb", "mariadb.sock")
    if os.path.exists(own):
        return own
    # infra/mariadb.sh keeps the data here when RUN_DIR is closed to mysql
    tag = hashlib.sha1(RUN_DIR.encode()).hexdigest()[:12]
    found = glob.glob(f"/var/lib/ticket-mariadb/{tag}/mariadb.sock")
    return found[0] if found else None


def root_sql(sql):
    sock = _socket()
    out = subprocess.run(
        ["mariadb", "--no-defaults", "--protocol=socket", "-S", sock, "-u", "root",
         "-N", "-B", "-e", sql], check=True, capture_output=True, text=True, timeout=30)
    return out.stdout


@pytest.fixture
def general_log():
    if not _socket():
        pytest.skip("no MariaDB socket for root")
    root_sql("SET GLOBAL general_log = 0; TRUNCATE mysql.general_log;"
             " SET GLOBAL log_output = 'TABLE'; SET GLOBAL general_log = 1")

    def statements(needle):
        rows = root_sql("SELECT command_type, REPLACE(REPLACE(argument, '\\n', ' '),"
                        " '\\t', ' ') FROM mysql.general_log WHERE argument LIKE"
                        f" '%{needle}%' AND argument NOT LIKE '%general_log%'"
                        " AND command_type IN ('Query', 'Execute')"
                        " ORDER BY event_time")
        return [line.split("\t", 1)[1] for line in rows.splitlines() if "\t" in line]

    yield statements
    root_sql("SET GLOBAL general_log = 0; SET GLOBAL log_output = 'FILE';"
             " TRUNCATE mysql.general_log")


def _kind(sql):
    words = sql.split()
    head = " ".join(words[:3]).upper()
    for table in ("payment_requests", "order_seats", "sold_seats", "payments",
                  "outbox", "inbox", "orders"):
        if f" {table} " in f" {sql} ":
            return f"{head.split()[0]} {table}"
    return head


def test_authorize_records_the_request_and_its_checks_in_one_statement(
        api, arena, general_log):
    s = new_session(api.base)
    seats = arena.take(2)
    hold(api.base, s["token"], arena.event_id, seats)
    r = order(api.base, s["token"], arena.event_id, seats)
    assert r.status_code == 201, r.text
    oid = r.json()["orderId"]
    created = general_log(oid)
    r = authorize(api.base, s["token"], oid, "approve")
    assert r.status_code == 200 and r.json()["orderStatus"] == "CONFIRMED", r.text
    assert wait_final(api.base, s["token"], oid)["status"] == "CONFIRMED"
    time.sleep(0.5)  # the outbox relay's marks
    every = general_log(oid)
    paid = every[len(created):]
    print(f"order {oid}: {len(every)} statements naming it")
    for sql in every:
        print("  ", _kind(sql), "|", sql[:160])
    requests_rows = [q for q in paid if "payment_requests" in q]
    assert len(requests_rows) == 1, requests_rows
    assert "RETURNING" in requests_rows[0] and "FROM orders" in requests_rows[0]
    # no read of the order before its request is recorded
    first = paid.index(requests_rows[0])
    assert not [q for q in paid[:first] if q.lstrip().upper().startswith("SELECT")], paid
    # no read of the order on the authorize path at all: the claim said yes
    assert not [q for q in paid if "LEFT JOIN payments" in q], paid


def test_authorize_answers_why_when_nothing_was_recorded(api, arena, general_log):
    s, other = new_session(api.base), new_session(api.base)
    seats = arena.take(1)
    hold(api.base, s["token"], arena.event_id, seats)
    r = order(api.base, s["token"], arena.event_id, seats)
    assert r.status_code == 201, r.text
    oid = r.json()["orderId"]
    # another session's order: nothing recorded, then read: 404
    assert_error(authorize(api.base, other["token"], oid), 404, "ORDER_NOT_FOUND")
    assert not [q for q in general_log(oid) if q.upper().startswith("INSERT")
                and "payment_requests" in q and "RETURNING" not in q]
    r = authorize(api.base, s["token"], oid, "decline")
    assert r.status_code == 200 and r.json()["orderStatus"] == "CANCELLED", r.text
    # ended: answered 409 (from ticketd's memory, no statement)
    before = len(general_log(oid))
    assert_error(authorize(api.base, s["token"], oid), 409, "ORDER_NOT_PENDING")
    assert len(general_log(oid)) == before
    assert get_order(api.base, s["token"], oid).json()["status"] == "CANCELLED"
    assert_error(authorize(api.base, s["token"], "ord_missing"), 404, "ORDER_NOT_FOUND")
