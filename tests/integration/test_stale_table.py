"""A seat table (pinned BPF maps or the shm seat file) is only served for
the database and event layout it was built for: ticketd pointed at another
database while the pins or the seat file remain clears the table, rebuilds
it from that database, says why in one log line and counts it; no seat
held or sold in the old database shows, and no session of the new one
(whatever its slot) can release or extend the old holds. Needs root for
the second database (MariaDB's socket, as infra/mariadb.sh provisions)."""
import os
import signal
import subprocess
import time
import uuid

import pytest
import requests

from conftest import (PORTS, RUN_DIR, auth, mariadb_sql, new_session, udp)

SLOTS = "4"  # few slots: the new database's sessions reuse the old ones'
GRANTS = "SELECT, INSERT, UPDATE, DELETE, CREATE, ALTER, INDEX, REFERENCES"


def root_sql(sql):
    sock = os.path.join(RUN_DIR, "mariadb", "mariadb.sock")
    subprocess.run(["mariadb", "--no-defaults", "--protocol=socket", "-S", sock,
                    "-u", "root", "-e", sql], check=True, capture_output=True,
                   text=True, timeout=60)


@pytest.fixture
def two_dbs(ticketd):
    """Two new databases: the old one and the new one."""
    if os.geteuid() != 0:
        pytest.skip("needs root for MariaDB's socket")
    names = [f"ticketing_{w}_{uuid.uuid4().hex[:8]}" for w in ("old", "new")]
    for name in names:
        grants = "".join(f"GRANT {GRANTS} ON `{name}`.* TO 'ticket'@'{h}';"
                         for h in ("127.0.0.1", "localhost"))
        root_sql(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 "
                 f"COLLATE utf8mb4_unicode_ci; {grants}")
    yield names
    restart(ticketd)  # back on the test database (rebuilt from it)
    for name in names:
        root_sql(f"DROP DATABASE IF EXISTS `{name}`")


def db_sql(db, sql):
    subprocess.run(["mariadb", "-h", "127.0.0.1", "-P", str(PORTS["mariadb"]), "-u",
                    "ticket", "-N", "-B", db, "-e", sql],
                   env=dict(os.environ, MYSQL_PWD="ticket"), check=True,
                   capture_output=True, text=True, timeout=30)


def restart(ticketd, *extra, sig=signal.SIGTERM):
    ticketd.stop(sig)
    base_args = ticketd.args[:ticketd.args.index("--log-level") + 2]
    ticketd.args = base_args + list(extra)
    ticketd.start()


def seat_map(base, event_id):
    r = requests.get(f"{base}/api/events/{event_id}/seats", timeout=5)
    assert r.status_code == 200
    return r.json()["seats"]


def slot_of(token):
    return int(token[:8], 16)


def metric(base, line_prefix):
    text = requests.get(base + "/metrics", timeout=5).text
    return [l for l in text.splitlines() if l.startswith(line_prefix)]


@pytest.mark.parametrize("hold_path", ["socket", "auto"])
def test_another_database_never_adopts_the_stale_table(ticketd, api, two_dbs,
                                                       hold_path):
    old_db, new_db = two_dbs
    opts = ("--hold-path", hold_path, "--session-slots", SLOTS)
    restart(ticketd, *opts, "--db-name", old_db)
    event_id = requests.get(api.base + "/api/events", timeout=5).json()[0]["id"]
    free = [i for i, s in enumerate(seat_map(api.base, event_id))
            if s["status"] == "AVAILABLE"]
    assert len(free) >= 4
    rest, [u], [sold] = free[:2], free[2:3], free[3:4]
    old = new_session(api.base)
    r = requests.post(api.base + "/api/reservations", headers=auth(old["token"]),
                      json={"eventId": event_id, "seatIds": rest}, timeout=5)
    assert r.status_code == 201, r.text
    assert udp("HOLD", event_id, u, old["token"], secs=300)["status"] == "OK"
    # a sale recorded in this database, made SOLD by the next start
    oid = f"test-stale-{uuid.uuid4().hex[:12]}"
    db_sql(old_db,
        "INSERT INTO orders (id, session_id, event_id, status, amount, idempotency_key,"
        " request_hash, created_at, payment_deadline) VALUES"
        f" ('{oid}', '0000000000000000', {event_id}, 'CONFIRMED', 1000, '{oid}',"
        f" REPEAT('0', 64), NOW(3), NOW(3));"
        f"INSERT INTO order_seats VALUES ('{oid}', {event_id}, {sold}, 1000);"
        f"INSERT INTO sold_seats (event_id, seat_id, order_id) VALUES"
        f" ({event_id}, {sold}, '{oid}')")
    restart(ticketd, *opts, "--db-name", old_db, sig=signal.SIGKILL)  # reused
    seats = seat_map(api.base, event_id)
    assert [seats[i]["status"] for i in rest + [u, sold]] == \
        ["HELD", "HELD", "HELD", "SOLD"]

    # The pins / seat file stay; the database is another one (a dropped
    # and recreated one, a wiped .run/, another name: all the same here).
    n = len(ticketd.log_lines())
    restart(ticketd, *opts, "--db-name", new_db, sig=signal.SIGKILL)

    # Nothing of the old database shows: the new one has sold nothing and
    # held nothing yet.
    events = requests.get(api.base + "/api/events", timeout=5).json()
    assert events and any(e["id"] == event_id for e in events)
    for e in events:
        states = {s["status"] for s in seat_map(api.base, e["id"])}
        assert states == {"AVAILABLE"}, (e["id"], states)

    # Every slot goes to a new session (one of them the old session's
    # slot): none holds anything, none can release or extend the old
    # holds, and each can hold the old seats itself.
    fresh = [new_session(api.base) for _ in range(int(SLOTS))]
    assert slot_of(old["token"]) in {slot_of(s["token"]) for s in fresh}
    for s in fresh:
        r = requests.get(api.base + "/api/reservations", headers=auth(s["token"]),
                         timeout=5)
        assert r.status_code == 200 and r.json() == []
        for sid in rest + [u]:
            assert udp("RELEASE", event_id, sid, s["token"])["status"] == "NOT_HOLDER"
            assert udp("EXTEND", event_id, sid, s["token"], secs=60)["status"] == \
                "NOT_HOLDER"
    assert udp("RELEASE", event_id, u, old["token"])["status"] == "NOT_HOLDER"
    assert udp("HOLD", event_id, u, fresh[0]["token"])["status"] == "OK"
    assert udp("HOLD", event_id, sold, fresh[1]["token"])["status"] == "OK"

    # ...and said why, once, and counted it
    lines = ticketd.log_lines()[n:]
    stale = [l for l in lines if "treating this node as fresh" in l.get("msg", "")]
    assert len(stale) == 1, lines
    assert "built for database" in stale[0]["msg"]
    assert any(l.get("msg") == "seat table rebuilt" for l in lines)
    assert metric(api.base, 'ticketd_seat_table_stale_total{reason="database"}') == \
        ['ticketd_seat_table_stale_total{reason="database"} 1']

    # The table now carries the new identity: a kill -9 reuses it.
    n = len(ticketd.log_lines())
    restart(ticketd, *opts, "--db-name", new_db, sig=signal.SIGKILL)
    lines = ticketd.log_lines()[n:]
    assert not any(l.get("msg") == "seat table rebuilt" for l in lines)
    assert seat_map(api.base, event_id)[u]["status"] == "HELD"
    assert metric(api.base, 'ticketd_seat_table_stale_total{reason="database"}') == \
        ['ticketd_seat_table_stale_total{reason="database"} 0']


def test_a_new_event_layout_rebuilds_the_table(ticketd, api, arena):
    """An event added to the catalogue changes the layout: the next start
    rebuilds (from MariaDB and the journal, so live holds stay)."""
    restart(ticketd)
    s = new_session(api.base)
    [sid] = arena.take(1)
    r = requests.post(api.base + "/api/reservations", headers=auth(s["token"]),
                      json={"eventId": arena.event_id, "seatIds": [sid]}, timeout=5)
    assert r.status_code == 201, r.text
    name = f"Layout {uuid.uuid4().hex[:8]}"
    mariadb_sql(
        f"INSERT INTO events (name, venue, starts_at, seat_rows, seat_cols) "
        f"VALUES ('{name}', 'Test Hall', '2030-01-01 20:00:00', 1, 2); "
        f"INSERT INTO seats (event_id, seat_id, r, c, label, price) "
        f"VALUES (LAST_INSERT_ID(), 0, 0, 0, 'L0', 1000), "
        f"(LAST_INSERT_ID(), 1, 0, 1, 'L1', 1000)")
    time.sleep(0.5)  # the journal writer is asynchronous
    n = len(ticketd.log_lines())
    restart(ticketd, sig=signal.SIGKILL)
    lines = ticketd.log_lines()[n:]
    assert any("another event layout" in l.get("msg", "") for l in lines), lines
    assert metric(api.base, 'ticketd_seat_table_stale_total{reason="layout"}') == \
        ['ticketd_seat_table_stale_total{reason="layout"} 1']
    assert seat_map(api.base, arena.event_id)[sid]["status"] == "HELD"
    # the catalogue as it was (the next start rebuilds once more)
    mariadb_sql(f"DELETE s FROM seats s JOIN events e ON e.id = s.event_id "
                f"WHERE e.name = '{name}'; DELETE FROM events WHERE name = '{name}'")
    restart(ticketd)
