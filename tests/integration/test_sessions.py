"""Sessions and their holder slots: no two live tokens ever share a slot
(the next session is refused with 503 SESSIONS_EXHAUSTED, nobody is
evicted), a slot comes back only after its session expired plus the grace,
and a recycled slot cannot touch the older session's seats; a saturated
database pool answers 503 SERVICE_BUSY at once; expired sessions are pruned.

These tests restart ticketd with a handful of slots. The grace has a floor
(a hold and a payment must fit in it), so "the grace has passed" is
simulated by moving a slot's reservation into the past in MariaDB, the one
thing that cannot be waited for here."""
import os
import signal
import subprocess
import threading
import time

import pytest
import requests

from conftest import (PORTS, assert_error, auth, mariadb_sql, metric, new_session, udp,
                      udp_packet_v2, udp_parse, udp_send)


def restart(ticketd, *extra):
    """Restarts ticketd with the suite's settings (up to the last fixed
    one) and extra ones."""
    ticketd.stop(signal.SIGTERM)
    base_args = ticketd.args[:ticketd.args.index("--log-level") + 2]
    ticketd.args = base_args + list(extra)
    ticketd.start()


@pytest.fixture
def back_to_default(ticketd):
    yield
    restart(ticketd)


def slot_of(session):
    return int(session["sessionId"][:8], 16)


def free_slots_up_to(n):
    """Ends the reservations of slots 1..n (sessions of earlier tests) and
    removes their rows, as the grace and the pruner would. A session id is
    slot and expiry: a slot freed this way while its session still lives
    could otherwise be minted again with the same expiry second, and the
    new row would collide with the old one (the real grace rules that
    out)."""
    mariadb_sql(f"UPDATE session_slots SET busy_until = NOW(3) - INTERVAL 1 SECOND "
                f"WHERE slot <= {n}; DELETE FROM sessions WHERE slot <= {n}")


def end_grace_of(session):
    """What the passing of session_slot_grace_seconds does to a slot."""
    mariadb_sql(f"UPDATE session_slots SET busy_until = NOW(3) - INTERVAL 1 SECOND "
                f"WHERE session_id = '{session['sessionId']}'")


def post_session(base):
    return requests.post(base + "/api/sessions", timeout=5)


def test_live_sessions_never_share_a_slot_and_the_next_is_refused(
        ticketd, back_to_default):
    free_slots_up_to(3)
    restart(ticketd, "--session-slots", "3", "--session-ttl", "60")
    live = [new_session(ticketd.base) for _ in range(3)]
    slots = sorted(slot_of(s) for s in live)
    assert slots == [1, 2, 3]
    refused = post_session(ticketd.base)
    assert_error(refused, 503, "SESSIONS_EXHAUSTED")
    assert int(refused.headers["Retry-After"]) > 0
    assert metric(ticketd.base,
                  'ticketd_sessions_refused_total{reason="slots_exhausted"}') >= 1
    # Refusing evicted nobody: every live token still works.
    for s in live:
        r = requests.get(ticketd.base + "/api/reservations", headers=auth(s["token"]),
                         timeout=5)
        assert r.status_code == 200


def test_concurrent_requests_never_get_one_slot_twice(ticketd, back_to_default):
    free_slots_up_to(8)
    restart(ticketd, "--session-slots", "8", "--session-ttl", "90",
            "--http-threads", "4")
    from concurrent.futures import ThreadPoolExecutor
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _: post_session(ticketd.base), range(24)))
    won = [r.json() for r in answers if r.status_code == 201]
    for r in answers:  # taken or refused explicitly, never a failure
        if r.status_code != 201:
            assert_error(r, 503, "SESSIONS_EXHAUSTED")
    slots = [slot_of(s) for s in won]
    assert len(slots) == len(set(slots)) and len(slots) <= 8
    assert set(slots) <= set(range(1, 9))
    # Whatever the race left free is still free; then the slots are gone.
    while len(won) < 8:
        r = post_session(ticketd.base)
        assert r.status_code == 201, r.text
        won.append(r.json())
    assert sorted(slot_of(s) for s in won) == list(range(1, 9))
    assert_error(post_session(ticketd.base), 503, "SESSIONS_EXHAUSTED")


def test_expired_session_keeps_its_slot_until_the_grace_ends(
        ticketd, back_to_default):
    free_slots_up_to(2)
    restart(ticketd, "--session-slots", "2", "--session-ttl", "2")
    a, b = new_session(ticketd.base), new_session(ticketd.base)
    assert slot_of(a) != slot_of(b)
    time.sleep(2.5)  # both tokens have lapsed
    r = requests.get(ticketd.base + "/api/reservations", headers=auth(a["token"]),
                     timeout=5)
    assert r.status_code == 401
    assert_error(post_session(ticketd.base), 503, "SESSIONS_EXHAUSTED")
    end_grace_of(a)
    c = new_session(ticketd.base)
    assert slot_of(c) == slot_of(a)
    assert c["sessionId"] != a["sessionId"]
    assert_error(post_session(ticketd.base), 503, "SESSIONS_EXHAUSTED")


def test_recycled_slot_cannot_touch_the_older_sessions_seats(
        ticketd, arena, back_to_default):
    free_slots_up_to(1)
    restart(ticketd, "--session-slots", "1", "--session-ttl", "3")
    [x] = arena.take(1)
    ev = arena.event_id
    a = new_session(ticketd.base)
    r = requests.post(ticketd.base + "/api/reservations", headers=auth(a["token"]),
                      json={"eventId": ev, "seatIds": [x], "holdSeconds": 5}, timeout=5)
    assert r.status_code == 201, r.text
    held_at = time.monotonic()
    # A speaks UDP v2 with high request ids: its replay window moves up.
    assert udp_send(udp_packet_v2("QUERY", ev, x, a["token"], req_id=1000)) is not None
    time.sleep(3.3)
    # A's token lapsed but its hold lives on: the slot stays A's.
    assert requests.get(ticketd.base + "/api/reservations", headers=auth(a["token"]),
                        timeout=5).status_code == 401
    assert_error(post_session(ticketd.base), 503, "SESSIONS_EXHAUSTED")
    # Even with its reservation over, a slot whose seats are still counted
    # in the seat table is passed over.
    end_grace_of(a)
    seats_skips = metric(ticketd.base, 'ticketd_session_slot_skips_total{reason="seats"}')
    assert_error(post_session(ticketd.base), 503, "SESSIONS_EXHAUSTED")
    assert metric(ticketd.base,
                  'ticketd_session_slot_skips_total{reason="seats"}') == seats_skips + 1
    time.sleep(max(0.0, held_at + 6.0 - time.monotonic()))  # hold lapsed, swept
    b = new_session(ticketd.base)
    assert slot_of(b) == slot_of(a)
    h = auth(b["token"])
    base = ticketd.base
    assert requests.get(base + "/api/reservations", headers=h, timeout=5).json() == []
    r = requests.post(f"{base}/api/reservations/{ev}/{x}/extend", headers=h,
                      json={"seconds": 60}, timeout=5)
    assert r.status_code in (403, 410), r.text
    r = requests.delete(f"{base}/api/reservations/{ev}/{x}", headers=h, timeout=5)
    assert r.status_code in (403, 410), r.text
    r = requests.post(base + "/api/orders", timeout=5,
                      headers={**h, "Idempotency-Key": f"recycled-{x}"},
                      json={"eventId": ev, "seatIds": [x]})
    assert_error(r, 409, "SEAT_NOT_HELD")
    # The recycled slot starts with a clear v2 window: B's first ids count.
    rep = udp_send(udp_packet_v2("QUERY", ev, x, b["token"], req_id=1))
    assert rep is not None and udp_parse(rep, version=2)["status"] == "OK"
    assert udp("EXTEND", ev, x, b["token"], secs=60)["status"] != "OK"
    assert udp("RELEASE", ev, x, b["token"])["status"] != "OK"
    seats = requests.get(f"{base}/api/events/{ev}/seats", timeout=5).json()["seats"]
    assert seats[x]["status"] == "AVAILABLE"


def test_saturated_pool_answers_service_busy_at_once(ticketd, back_to_default):
    restart(ticketd, "--db-pool", "1", "--db-wait-ms", "50", "--http-threads", "4")
    someone = new_session(ticketd.base)
    # Another client locks the end of the sessions table (a next-key lock
    # past the last row): ticketd's only connection waits inside the first
    # session request, at its INSERT, until that transaction ends.
    locker = subprocess.Popen(
        ["mariadb", "-h", "127.0.0.1", "-P", str(PORTS["mariadb"]), "-u", "ticket",
         "ticketing", "-e",
         "SELECT @m := COALESCE(MAX(slot_seq), 0) FROM sessions; START TRANSACTION;"
         " SELECT COUNT(*) FROM sessions WHERE slot_seq >= @m FOR UPDATE;"
         " SELECT SLEEP(4); COMMIT;"],
        env=dict(os.environ, MYSQL_PWD="ticket"),  # not in argv, where ps shows it
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        time.sleep(0.5)
        first = {}
        t = threading.Thread(target=lambda: first.update(r=post_session(ticketd.base)))
        t.start()
        time.sleep(0.5)
        assert t.is_alive(), "the first request should be waiting for the lock"
        busy = []
        for _ in range(3):
            t0 = time.monotonic()
            r = post_session(ticketd.base)
            busy.append((r, time.monotonic() - t0))
        for r, took in busy:
            body = assert_error(r, 503, "SERVICE_BUSY")
            assert r.headers["Retry-After"] == "1", body
            assert took < 1.0
        # Other handlers that read MariaDB on an HTTP thread do the same.
        r = requests.get(ticketd.base + "/api/orders/ord_0", timeout=5,
                         headers=auth(someone["token"]))
        assert_error(r, 503, "SERVICE_BUSY")
        r = requests.post(ticketd.base + "/api/payments/authorize", timeout=5,
                          headers=auth(someone["token"]), json={"orderId": "ord_0"})
        assert_error(r, 503, "SERVICE_BUSY")
        t.join(15)
        assert not t.is_alive()
        assert first["r"].status_code == 201, first["r"].text
    finally:
        _, err = locker.communicate(timeout=15)
    assert locker.returncode == 0, err
    assert metric(ticketd.base, 'ticketd_sessions_refused_total{reason="db_busy"}') >= 3


def test_sessions_expired_beyond_the_grace_are_pruned(ticketd, back_to_default):
    restart(ticketd, "--session-ttl", "2", "--session-prune-seconds", "1")
    old, reserved = new_session(ticketd.base), new_session(ticketd.base)
    time.sleep(2.2)
    live = new_session(ticketd.base)
    # old: expired long ago and its slot's reservation is over -> pruned.
    mariadb_sql(f"UPDATE sessions SET expires_at = NOW(3) - INTERVAL 2 DAY "
                f"WHERE session_id = '{old['sessionId']}'")
    end_grace_of(old)
    # reserved: just as old, but its slot row still reserves it -> kept.
    mariadb_sql(f"UPDATE sessions SET expires_at = NOW(3) - INTERVAL 2 DAY "
                f"WHERE session_id = '{reserved['sessionId']}'")
    ids = "','".join(s["sessionId"] for s in (old, reserved, live))

    def present():
        out = mariadb_sql(f"SELECT session_id FROM sessions WHERE session_id IN ('{ids}')")
        return set(out.split())

    deadline = time.monotonic() + 10
    while old["sessionId"] in present() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert present() == {reserved["sessionId"], live["sessionId"]}
    assert metric(ticketd.base, "ticketd_sessions_pruned_total") >= 1
