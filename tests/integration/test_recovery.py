"""Durability of holds: a daemon killed with SIGKILL restarts over its seat
table (pinned BPF maps or the shm seat file) and loses nothing; a fresh node
(no pins, no seat file) rebuilds sold seats from MariaDB and live holds from
Redis before it serves; a Redis restart never makes a sold seat holdable."""
import datetime
import glob
import os
import shutil
import signal
import subprocess
import time

import pytest
import requests

from conftest import (PIN_DIR, PORTS, RUN_DIR, assert_error, auth, infra,
                      mariadb_sql, new_session, udp)

SHM_DIR = os.path.join(RUN_DIR, "ticketd", "shm")


def restart(ticketd, *extra, sig=signal.SIGKILL, wipe=False):
    ticketd.stop(sig)
    if wipe:
        shutil.rmtree(PIN_DIR, ignore_errors=True)
        shutil.rmtree(SHM_DIR, ignore_errors=True)
    base_args = ticketd.args[:ticketd.args.index("--log-level") + 2]
    ticketd.args = base_args + list(extra)
    ticketd.start()


def holds_of(base, token):
    """[(eventId, seatId, expiresAt as Unix ms)], sorted."""
    r = requests.get(base + "/api/reservations", headers=auth(token), timeout=5)
    assert r.status_code == 200
    return sorted((h["eventId"], h["seatId"], unix_ms(h["expiresAt"])) for h in r.json())


def unix_ms(iso):
    d = datetime.datetime.strptime(iso, "%Y-%m-%dT%H:%M:%S.%fZ")
    return round(d.replace(tzinfo=datetime.timezone.utc).timestamp() * 1000)


def same_holds(after, before):
    """The same seats, each expiring at the same moment within 2 ms: a seat
    word counts monotonic ms, shown in wall-clock ms through an offset each
    read takes afresh (a slewing clock moves it across a ms boundary)."""
    return ([h[:2] for h in after] == [h[:2] for h in before]
            and all(abs(a[2] - b[2]) <= 2 for a, b in zip(after, before)))


def hold(base, token, event_id, seat_ids):
    return requests.post(base + "/api/reservations", headers=auth(token), timeout=5,
                         json={"eventId": event_id, "seatIds": seat_ids})


def log_has(ticketd, msg, since):
    return any(l.get("msg") == msg for l in ticketd.log_lines()[since:])


@pytest.fixture
def back_to_default(ticketd):
    yield
    restart(ticketd, sig=signal.SIGTERM)


def test_sigkill_over_shm_seat_file_loses_no_hold(ticketd, api, arena, back_to_default):
    s = new_session(api.base)
    rest, [u] = arena.take(2), arena.take(1)
    assert hold(api.base, s["token"], arena.event_id, rest).status_code == 201
    assert udp("HOLD", arena.event_id, u, s["token"])["status"] == "OK"
    before = holds_of(api.base, s["token"])
    restart(ticketd)
    assert same_holds(holds_of(api.base, s["token"]), before)
    other = new_session(api.base)
    assert_error(hold(api.base, other["token"], arena.event_id, rest), 409,
                 "SEAT_UNAVAILABLE")


def test_sigkill_over_pinned_bpf_maps_loses_no_hold(ticketd, api, arena, back_to_default):
    restart(ticketd, "--hold-path", "auto", sig=signal.SIGTERM)
    assert os.path.exists(os.path.join(PIN_DIR, "seats")), os.listdir(PIN_DIR)
    out = subprocess.run(["bpftool", "map", "show", "pinned", f"{PIN_DIR}/seats"],
                         capture_output=True, text=True, check=True).stdout
    assert "array" in out and "seats" in out
    s = new_session(api.base)
    seats = arena.take(2)
    assert hold(api.base, s["token"], arena.event_id, seats).status_code == 201
    before = holds_of(api.base, s["token"])
    n = len(ticketd.log_lines())
    restart(ticketd, "--hold-path", "auto")
    assert same_holds(holds_of(api.base, s["token"]), before)
    assert not log_has(ticketd, "seat table rebuilt", n), "pins were not reused"


def test_fresh_node_rebuilds_live_holds_from_redis(ticketd, api, arena, back_to_default):
    s = new_session(api.base)
    rest, [u] = arena.take(3), arena.take(1)
    assert hold(api.base, s["token"], arena.event_id, rest).status_code == 201
    assert udp("HOLD", arena.event_id, u, s["token"], secs=300)["status"] == "OK"
    before = holds_of(api.base, s["token"])
    time.sleep(0.5)  # the journal writer is asynchronous
    n = len(ticketd.log_lines())
    restart(ticketd, wipe=True)
    assert log_has(ticketd, "seat table rebuilt", n)
    assert same_holds(holds_of(api.base, s["token"]), before)
    other = new_session(api.base)
    body = assert_error(hold(api.base, other["token"], arena.event_id, rest + [u]), 409,
                        "SEAT_UNAVAILABLE")
    assert sorted(body["details"]["seatIds"]) == sorted(rest + [u])
    # the restored holds still count toward the session's limit
    assert hold(api.base, s["token"], arena.event_id, arena.take(5)).status_code == 422


def sell_directly(event_id, seat_id, order_id):
    """A sale as the saga records it, written straight into MariaDB."""
    mariadb_sql(
        "INSERT INTO orders (id, session_id, event_id, status, amount, idempotency_key,"
        " request_hash, created_at, payment_deadline) VALUES"
        f" ('{order_id}', '0000000000000000', {event_id}, 'CONFIRMED', 1000, '{order_id}',"
        f" REPEAT('0', 64), NOW(3), NOW(3));"
        f"INSERT INTO order_seats VALUES ('{order_id}', {event_id}, {seat_id}, 1000);"
        f"INSERT INTO sold_seats (event_id, seat_id, order_id) VALUES"
        f" ({event_id}, {seat_id}, '{order_id}')")


def test_fresh_node_rebuilds_sold_seats_and_redis_restart_keeps_them_sold(
        ticketd, api, arena, back_to_default):
    [sid] = arena.take(1)
    sell_directly(arena.event_id, sid, f"test-sold-{sid}")
    restart(ticketd, wipe=True)
    seats = requests.get(f"{api.base}/api/events/{arena.event_id}/seats", timeout=5).json()
    assert seats["seats"][sid]["status"] == "SOLD"
    s = new_session(api.base)
    body = assert_error(hold(api.base, s["token"], arena.event_id, [sid]), 422, "SEAT_SOLD")
    assert body["details"]["seatIds"] == [sid]
    assert udp("HOLD", arena.event_id, sid, s["token"])["status"] == "SOLD"

    # Redis loses everything and comes back: the seat stays sold...
    infra("redis.sh", "stop")
    for f in glob.glob(os.path.join(RUN_DIR, "redis", "data", "*")):
        if os.path.isdir(f):
            shutil.rmtree(f)
        else:
            os.remove(f)
    infra("redis.sh", "start")
    assert_error(hold(api.base, s["token"], arena.event_id, [sid]), 422, "SEAT_SOLD")
    # ...and a fresh node built while Redis is empty still has it sold.
    restart(ticketd, wipe=True)
    assert_error(hold(api.base, s["token"], arena.event_id, [sid]), 422, "SEAT_SOLD")
    assert udp("QUERY", arena.event_id, sid, s["token"])["status"] == "SOLD"


def test_restart_over_reused_table_marks_seats_sold_meanwhile(ticketd, api, arena,
                                                             back_to_default):
    """Another node sold a seat while this table was offline: the reused
    table learns it from MariaDB before serving."""
    [sid] = arena.take(1)
    ticketd.stop(signal.SIGTERM)
    sell_directly(arena.event_id, sid, f"test-sold-offline-{sid}")
    ticketd.start()
    s = new_session(api.base)
    assert_error(hold(api.base, s["token"], arena.event_id, [sid]), 422, "SEAT_SOLD")


def test_fresh_node_restores_more_sold_seats_and_holds_than_its_change_queue_holds(
        ticketd, api, arena, back_to_default):
    """Recovery restores every seat through the change queue, which the seat
    stream drains meanwhile: a queue smaller than what there is to restore
    makes recovery wait, never fail or drop a hold."""
    sold = arena.take(64)
    for sid in sold:
        sell_directly(arena.event_id, sid, f"test-sold-q-{sid}")
    s = new_session(api.base)
    held = arena.take(4)
    assert hold(api.base, s["token"], arena.event_id, held).status_code == 201
    before = holds_of(api.base, s["token"])
    time.sleep(0.5)  # the journal writer is asynchronous
    restart(ticketd, "--change-queue-records", "16", wipe=True)
    seats = requests.get(f"{api.base}/api/events/{arena.event_id}/seats", timeout=5).json()
    assert [seats["seats"][sid]["status"] for sid in sold] == ["SOLD"] * len(sold)
    assert same_holds(holds_of(api.base, s["token"]), before)
