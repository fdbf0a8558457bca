"""Best available (POST /api/reservations/best; docs/api.md) against a real
ticketd: the seats it holds show in the seat map, the default quality rank
(front row, then centre), the "together" flag, the hold limit, waiting-room
admission, validation, and a race of 16 buyers on a small event.

Each test has an event of its own ("Best Test N", created once). Every hold
here lasts 5 s, so a rerun over an old .run-test/ waits for the seats of
the previous run to lapse (fresh_event) instead of failing."""
import concurrent.futures
import os
import time

import pytest
import requests

from conftest import RUN_DIR, assert_error, auth, mariadb_sql, new_session

# name suffix -> (rows, cols)
EVENTS = {0: (5, 10), 1: (4, 8), 2: (2, 2), 3: (3, 2), 4: (5, 10)}
HOLD = 5
ADMIN_KEY_PATH = os.path.join(RUN_DIR, "ticketd", "admin.key")


def ensure_best_events():
    have = {int(n.split()[-1]) for n in mariadb_sql(
        "SELECT name FROM events WHERE name LIKE 'Best Test %'").split("\n") if n}
    added = False
    for i, (rows, cols) in EVENTS.items():
        if i in have:
            continue
        mariadb_sql(
            f"INSERT INTO events (name, venue, starts_at, seat_rows, seat_cols) "
            f"VALUES ('Best Test {i}', 'Test Hall', '2030-01-01 20:00:00', {rows}, {cols}); "
            f"INSERT INTO seats (event_id, seat_id, r, c, label, price) "
            f"SELECT LAST_INSERT_ID(), seq, seq DIV {cols}, seq MOD {cols}, "
            f"CONCAT('B', seq), 1000 FROM seq_0_to_{rows * cols - 1}")
        added = True
    return added


@pytest.fixture(scope="module")
def best_events(ticketd):
    if ensure_best_events():  # the catalogue is loaded at start
        ticketd.stop()
        ticketd.start()
    events = requests.get(ticketd.base + "/api/events", timeout=5).json()
    return {int(e["name"].split()[-1]): e["id"] for e in events
            if e["name"].startswith("Best Test ")}


def seat_status(base, ev):
    r = requests.get(f"{base}/api/events/{ev}/seats", timeout=5)
    assert r.status_code == 200, r.text
    return {s["id"]: s["status"] for s in r.json()["seats"]}


def fresh_event(base, ev, timeout=HOLD + 5):
    """Waits until no seat of ev is held (holds of an earlier run lapse)."""
    deadline = time.monotonic() + timeout
    while True:
        held = [i for i, st in seat_status(base, ev).items() if st != "AVAILABLE"]
        if not held:
            return
        assert time.monotonic() < deadline, f"event {ev}: seats still held {held}"
        time.sleep(0.5)


def best(base, token, ev, count, **extra):
    body = {"eventId": ev, "count": count, "holdSeconds": HOLD, **extra}
    return requests.post(base + "/api/reservations/best", json=body, timeout=10,
                         headers=auth(token) if token else {})


def test_holds_the_front_centre_and_shows_in_the_seat_map(api, best_events):
    ev = best_events[0]
    fresh_event(api.base, ev)
    tok = new_session(api.base)["token"]
    r = best(api.base, tok, ev, 2)
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["seatIds"] == [4, 5] and body["together"] is True
    assert body["eventId"] == ev and body["holdSeconds"] == HOLD
    assert body["expiresAt"].endswith("Z")
    st = seat_status(api.base, ev)
    assert st[4] == st[5] == "HELD"
    mine = requests.get(api.base + "/api/reservations", headers=auth(tok),
                        timeout=5).json()
    assert sorted(h["seatId"] for h in mine if h["eventId"] == ev) == [4, 5]
    # a second buyer: still the front row, never the seats already held
    r = best(api.base, new_session(api.base)["token"], ev, 4, accessible=False)
    assert r.status_code == 201, r.text
    ids = r.json()["seatIds"]
    assert r.json()["together"] is True
    assert all(i < 10 for i in ids) and not {4, 5} & set(ids)
    assert ids == list(range(ids[0], ids[0] + 4))


def test_not_together_then_not_enough(api, best_events):
    ev = best_events[3]  # 3 rows of 2: never 3 adjacent seats in a row
    fresh_event(api.base, ev)
    r = best(api.base, new_session(api.base)["token"], ev, 3)
    assert r.status_code == 201, r.text
    assert r.json()["together"] is False
    assert r.json()["seatIds"] == [0, 1, 2]  # the fewest rows, front first
    r = best(api.base, new_session(api.base)["token"], ev, 4)
    body = assert_error(r, 409, "NOT_ENOUGH_SEATS")
    assert body["details"]["count"] == 4
    assert seat_status(api.base, ev)[3] == "AVAILABLE"  # nothing was held


def test_hold_limit_applies(api, best_events):
    ev = best_events[4]
    fresh_event(api.base, ev)
    tok = new_session(api.base)["token"]
    r = best(api.base, tok, ev, 8)  # the default --hold-limit
    assert r.status_code == 201, r.text
    assert r.json()["together"] is True
    r = best(api.base, tok, ev, 1)
    body = assert_error(r, 422, "HOLD_LIMIT_EXCEEDED")
    assert body["details"]["limit"] == 8
    held = [i for i, st in seat_status(api.base, ev).items() if st != "AVAILABLE"]
    assert len(held) == 8


def test_validation(api, best_events):
    ev = best_events[0]
    tok = new_session(api.base)["token"]
    for count in (0, 9, "2", None):
        body = assert_error(best(api.base, tok, ev, count), 422, "VALIDATION_FAILED")
        assert body["details"]["field"] == "count"
    body = assert_error(best(api.base, tok, ev, 1, accessible="yes"), 422,
                        "VALIDATION_FAILED")
    assert body["details"]["field"] == "accessible"
    assert_error(best(api.base, tok, ev, 1, holdSeconds=1), 422, "VALIDATION_FAILED")
    assert_error(best(api.base, tok, 4000000000, 1), 404, "EVENT_NOT_FOUND")
    assert_error(best(api.base, None, ev, 1), 401, "UNAUTHORIZED")


def test_not_admitted_when_a_waiting_room_is_on(api, best_events):
    ev = best_events[2]
    fresh_event(api.base, ev)
    with open(ADMIN_KEY_PATH) as f:
        key = f.read().strip()

    def room(**fields):
        r = requests.put(f"{api.base}/admin/events/{ev}/room", json=fields,
                         timeout=5, headers=auth(key))
        assert r.status_code == 200, r.text

    room(enabled=True, ratePerSecond=1, activeMax=1, startsAt=None)
    try:
        r = best(api.base, new_session(api.base)["token"], ev, 1)
        body = assert_error(r, 403, "NOT_ADMITTED")
        assert body["details"]["room"] == f"/api/events/{ev}/room"
    finally:
        room(enabled=False)
    assert set(seat_status(api.base, ev).values()) == {"AVAILABLE"}


def test_race_of_16_buyers(api, best_events):
    ev = best_events[1]  # 32 seats: room for 8 of the 16 buyers
    fresh_event(api.base, ev)
    tokens = [new_session(api.base)["token"] for _ in range(16)]
    start = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        results = list(pool.map(lambda t: best(api.base, t, ev, 4), tokens))
    print(f"16 concurrent best-of-4 in {time.monotonic() - start:.2f}s")
    won, taken = [], set()
    for r in results:
        if r.status_code == 201:
            ids = r.json()["seatIds"]
            assert len(ids) == 4 and len(set(ids)) == 4
            assert not taken & set(ids), "a seat held twice"
            taken |= set(ids)
            won.append(ids)
        else:
            body = assert_error(r, 409, r.json().get("code"))
            assert body["code"] in ("NOT_ENOUGH_SEATS", "CONFLICT_RETRY"), body
    assert 1 <= len(won) <= 8
    held = {i for i, st in seat_status(api.base, ev).items() if st != "AVAILABLE"}
    assert held == taken  # failures left nothing behind


# ---- #17: categories, sections, accessible seats and kill seats ----

MAPPED = {
    "name": "Best Mapped", "venue": "Test Hall", "startsAt": "2030-06-01T19:00:00Z",
    "categories": [{"id": 1, "name": "Premium", "price": 9000, "color": "#b03a2e"},
                   {"id": 2, "name": "Standard", "price": 5000, "color": "#2e86c1"}],
    "sections": [
        {"id": 1, "name": "Stalls", "rows": [
            {"label": "A", "seats": 6, "category": 1, "blocked": [3, 4]},
            {"label": "B", "seats": 6, "category": 1, "accessible": [6], "companions": [5]}]},
        {"id": 2, "name": "Circle", "rows": [{"label": "C", "seats": 6, "category": 2}]}],
}


@pytest.fixture(scope="module")
def mapped(api, best_events):
    with open(ADMIN_KEY_PATH) as f:
        key = f.read().strip()
    r = requests.post(api.base + "/admin/events", json=MAPPED, headers=auth(key), timeout=10)
    assert r.status_code == 201, r.text
    eid = r.json()["id"]
    r = requests.post(f"{api.base}/admin/events/{eid}/publish", headers=auth(key), timeout=10)
    assert r.status_code == 200, r.text
    return eid


def test_kill_seats_are_never_chosen_and_filters_choose_among_ids(api, mapped):
    # A3 and A4 (ids 2, 3) are blocked: the front row's centre pair is not
    r = best(api.base, new_session(api.base)["token"], mapped, 2)
    assert r.status_code == 201, r.text
    assert not set(r.json()["seatIds"]) & {2, 3}
    r = best(api.base, new_session(api.base)["token"], mapped, 2, sections=[2])
    assert r.status_code == 201, r.text
    assert all(12 <= s < 18 for s in r.json()["seatIds"]) and r.json()["together"]
    r = best(api.base, new_session(api.base)["token"], mapped, 1, categories=[2])
    assert r.status_code == 201 and 12 <= r.json()["seatIds"][0] < 18
    tok = new_session(api.base)["token"]
    body = assert_error(best(api.base, tok, mapped, 1, categories=[0]), 422, "VALIDATION_FAILED")
    assert body["details"]["field"] == "categories"
    assert_error(best(api.base, tok, mapped, 1, sections=[9]), 409, "NOT_ENOUGH_SEATS")


def test_accessible_puts_the_accessible_seat_first_with_its_companion(api, mapped):
    r = best(api.base, new_session(api.base)["token"], mapped, 2, accessible=True)
    assert r.status_code == 201, r.text
    assert r.json()["seatIds"] == [10, 11] and r.json()["together"]  # B5 companion, B6
    # the only accessible seat is held now: nothing accessible is left
    assert_error(best(api.base, new_session(api.base)["token"], mapped, 1, accessible=True),
                 409, "NOT_ENOUGH_SEATS")
