"""Browser holds over REST against the shared seat table (docs/api.md,
POST/GET/extend/DELETE /api/reservations), with every contract code."""
import concurrent.futures as cf
import datetime as dt
import time

import pytest
import requests

from conftest import assert_error, auth, new_session, udp


def hold(base, token, event_id, seat_ids, **extra):
    body = {"eventId": event_id, "seatIds": seat_ids, **extra}
    return requests.post(base + "/api/reservations", json=body, headers=auth(token),
                         timeout=10)


def parse_time(s):
    return dt.datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()


def seat_status(base, event_id, seat_id):
    seats = requests.get(f"{base}/api/events/{event_id}/seats", timeout=5).json()["seats"]
    return seats[seat_id]["status"]


def test_hold_returns_201_with_expiry_and_default_seconds(api, arena):
    s = new_session(api.base)
    seats = arena.take(3)
    before = time.time()
    r = hold(api.base, s["token"], arena.event_id, seats)
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["eventId"] == arena.event_id and body["seatIds"] == seats
    assert body["holdSeconds"] == 120
    assert before + 119 <= parse_time(body["expiresAt"]) <= time.time() + 121
    for sid in seats:
        assert seat_status(api.base, arena.event_id, sid) == "HELD"


def test_single_seat_id_is_accepted(api, arena):
    s = new_session(api.base)
    [sid] = arena.take(1)
    r = requests.post(api.base + "/api/reservations", headers=auth(s["token"]),
                      json={"eventId": arena.event_id, "seatId": sid}, timeout=5)
    assert r.status_code == 201, r.text
    assert r.json()["seatIds"] == [sid]


def test_hold_seconds_is_honoured(api, arena):
    s = new_session(api.base)
    r = hold(api.base, s["token"], arena.event_id, arena.take(1), holdSeconds=30)
    assert r.status_code == 201
    assert r.json()["holdSeconds"] == 30
    assert abs(parse_time(r.json()["expiresAt"]) - time.time() - 30) < 2


@pytest.mark.parametrize("extra", [{"holdSeconds": 4}, {"holdSeconds": 601},
                                   {"holdSeconds": "60"}, {"holdSeconds": 60.5},
                                   {"holdSeconds": True}, {"holdSeconds": None}])
def test_hold_seconds_out_of_range_or_wrong_type_is_422_not_clamped(api, arena, extra):
    s = new_session(api.base)
    seats = arena.take(1)
    assert_error(hold(api.base, s["token"], arena.event_id, seats, **extra), 422,
                 "VALIDATION_FAILED")
    assert seat_status(api.base, arena.event_id, seats[0]) == "AVAILABLE"


@pytest.mark.parametrize("seat_ids", [[], [1, 1], list(range(9)), [-1], ["1"],
                                      [1.5], [True], None, "1", {"a": 1},
                                      [99999], [2000]])
def test_bad_seat_lists_are_422(api, arena, seat_ids):
    s = new_session(api.base)
    assert_error(hold(api.base, s["token"], arena.event_id, seat_ids), 422,
                 "VALIDATION_FAILED")


@pytest.mark.parametrize("event_id", ["1", None, -1, 1.5, 2 ** 40])
def test_bad_event_id_is_422(api, event_id):
    s = new_session(api.base)
    assert_error(hold(api.base, s["token"], event_id, [1]), 422, "VALIDATION_FAILED")


def test_unknown_event_is_404(api):
    s = new_session(api.base)
    assert_error(hold(api.base, s["token"], 987654, [1]), 404, "EVENT_NOT_FOUND")


def test_malformed_json_is_400_and_changes_nothing(api, arena):
    s = new_session(api.base)
    r = requests.post(api.base + "/api/reservations", data='{"eventId": 1, "seatIds": [',
                      headers=auth(s["token"]), timeout=5)
    assert_error(r, 400, "MALFORMED_JSON")
    r = requests.post(api.base + "/api/reservations", data="[]",
                      headers=auth(s["token"]), timeout=5)
    assert_error(r, 422, "VALIDATION_FAILED")


@pytest.mark.parametrize("header", [None, "Bearer", "Bearer nothex",
                                    "Bearer " + "0" * 32, "Basic abc",
                                    "Bearer " + "f" * 31])
def test_missing_or_forged_token_is_401(api, arena, header):
    headers = {"Authorization": header} if header else {}
    r = requests.post(api.base + "/api/reservations", headers=headers, timeout=5,
                      json={"eventId": arena.event_id, "seatIds": [0]})
    assert_error(r, 401, "UNAUTHORIZED")
    for method, path in (("GET", "/api/reservations"),
                         ("DELETE", f"/api/reservations/{arena.event_id}/0"),
                         ("POST", f"/api/reservations/{arena.event_id}/0/extend")):
        r = requests.request(method, api.base + path, headers=headers,
                             json={"seconds": 30}, timeout=5)
        assert_error(r, 401, "UNAUTHORIZED")


def test_tampered_token_is_401(api):
    s = new_session(api.base)
    t = s["token"]
    forged = t[:-1] + ("0" if t[-1] != "0" else "1")
    r = requests.get(api.base + "/api/reservations", headers=auth(forged), timeout=5)
    assert_error(r, 401, "UNAUTHORIZED")


def test_conflict_is_409_listing_blockers_and_holds_nothing(api, arena):
    a, b = new_session(api.base), new_session(api.base)
    seats = arena.take(4)
    assert hold(api.base, a["token"], arena.event_id, seats[1:3]).status_code == 201
    r = hold(api.base, b["token"], arena.event_id, seats)
    body = assert_error(r, 409, "SEAT_UNAVAILABLE")
    assert sorted(body["details"]["seatIds"]) == seats[1:3]
    mine = requests.get(api.base + "/api/reservations", headers=auth(b["token"]),
                        timeout=5).json()
    assert mine == []
    assert seat_status(api.base, arena.event_id, seats[0]) == "AVAILABLE"
    assert seat_status(api.base, arena.event_id, seats[3]) == "AVAILABLE"


def test_hold_limit_is_eight_per_event_counting_udp(api, arena, arena_b):
    s = new_session(api.base)
    seats = arena.take(9)
    assert hold(api.base, s["token"], arena.event_id, seats[:5]).status_code == 201
    for sid in seats[5:8]:
        assert udp("HOLD", arena.event_id, sid, s["token"])["status"] == "OK"
    body = assert_error(hold(api.base, s["token"], arena.event_id, seats[8:9]), 422,
                        "HOLD_LIMIT_EXCEEDED")
    assert body["details"]["limit"] == 8
    assert udp("HOLD", arena.event_id, seats[8], s["token"])["status"] == "LIMIT_EXCEEDED"
    # another event has its own limit
    assert hold(api.base, s["token"], arena_b.event_id, arena_b.take(1)).status_code == 201
    # releasing one makes room again
    r = requests.delete(f"{api.base}/api/reservations/{arena.event_id}/{seats[0]}",
                        headers=auth(s["token"]), timeout=5)
    assert r.status_code == 204
    assert hold(api.base, s["token"], arena.event_id, seats[8:9]).status_code == 201


def test_list_shows_holds_from_both_doors(api, arena):
    s = new_session(api.base)
    rest_seats, udp_seat = arena.take(2), arena.take(1)[0]
    assert hold(api.base, s["token"], arena.event_id, rest_seats).status_code == 201
    assert udp("HOLD", arena.event_id, udp_seat, s["token"], secs=60)["status"] == "OK"
    r = requests.get(api.base + "/api/reservations", headers=auth(s["token"]), timeout=5)
    assert r.status_code == 200
    got = {(h["eventId"], h["seatId"]) for h in r.json()}
    assert got == {(arena.event_id, x) for x in rest_seats + [udp_seat]}
    for h in r.json():
        assert parse_time(h["expiresAt"]) > time.time()


def test_udp_hold_shows_in_rest_at_once_and_blocks_rest(api, arena):
    a, b = new_session(api.base), new_session(api.base)
    [sid] = arena.take(1)
    assert udp("HOLD", arena.event_id, sid, a["token"])["status"] == "OK"
    assert seat_status(api.base, arena.event_id, sid) == "HELD"
    body = assert_error(hold(api.base, b["token"], arena.event_id, [sid]), 409,
                        "SEAT_UNAVAILABLE")
    assert body["details"]["seatIds"] == [sid]


def test_rest_hold_blocks_udp(api, arena):
    a, b = new_session(api.base), new_session(api.base)
    [sid] = arena.take(1)
    assert hold(api.base, a["token"], arena.event_id, [sid]).status_code == 201
    assert udp("HOLD", arena.event_id, sid, b["token"])["status"] == "TAKEN"
    assert udp("QUERY", arena.event_id, sid, b["token"])["status"] == "TAKEN"


def test_extend_sets_expiry_to_now_plus_seconds(api, arena):
    s = new_session(api.base)
    [sid] = arena.take(1)
    assert hold(api.base, s["token"], arena.event_id, [sid], holdSeconds=10).status_code == 201
    r = requests.post(f"{api.base}/api/reservations/{arena.event_id}/{sid}/extend",
                      json={"seconds": 300}, headers=auth(s["token"]), timeout=5)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["eventId"] == arena.event_id and body["seatId"] == sid
    assert abs(parse_time(body["expiresAt"]) - time.time() - 300) < 2


@pytest.mark.parametrize("body", [{}, {"seconds": 4}, {"seconds": 601},
                                  {"seconds": "30"}, {"seconds": 30.5}])
def test_extend_with_bad_seconds_is_422(api, arena, body):
    s = new_session(api.base)
    [sid] = arena.take(1)
    assert hold(api.base, s["token"], arena.event_id, [sid]).status_code == 201
    r = requests.post(f"{api.base}/api/reservations/{arena.event_id}/{sid}/extend",
                      json=body, headers=auth(s["token"]), timeout=5)
    assert_error(r, 422, "VALIDATION_FAILED")


def test_extend_or_delete_of_unheld_seat_is_410(api, arena):
    s = new_session(api.base)
    [sid] = arena.take(1)
    r = requests.post(f"{api.base}/api/reservations/{arena.event_id}/{sid}/extend",
                      json={"seconds": 30}, headers=auth(s["token"]), timeout=5)
    assert_error(r, 410, "RESERVATION_EXPIRED")
    r = requests.delete(f"{api.base}/api/reservations/{arena.event_id}/{sid}",
                        headers=auth(s["token"]), timeout=5)
    assert_error(r, 410, "RESERVATION_EXPIRED")


def test_extend_or_delete_of_another_sessions_hold_is_403(api, arena):
    a, b = new_session(api.base), new_session(api.base)
    [sid] = arena.take(1)
    assert hold(api.base, a["token"], arena.event_id, [sid]).status_code == 201
    r = requests.post(f"{api.base}/api/reservations/{arena.event_id}/{sid}/extend",
                      json={"seconds": 30}, headers=auth(b["token"]), timeout=5)
    assert_error(r, 403, "NOT_HOLDER")
    r = requests.delete(f"{api.base}/api/reservations/{arena.event_id}/{sid}",
                        headers=auth(b["token"]), timeout=5)
    assert_error(r, 403, "NOT_HOLDER")
    assert seat_status(api.base, arena.event_id, sid) == "HELD"


def test_delete_releases_then_second_delete_is_410(api, arena):
    s = new_session(api.base)
    [sid] = arena.take(1)
    assert hold(api.base, s["token"], arena.event_id, [sid]).status_code == 201
    r = requests.delete(f"{api.base}/api/reservations/{arena.event_id}/{sid}",
                        headers=auth(s["token"]), timeout=5)
    assert r.status_code == 204 and r.content == b""
    assert seat_status(api.base, arena.event_id, sid) == "AVAILABLE"
    r = requests.delete(f"{api.base}/api/reservations/{arena.event_id}/{sid}",
                        headers=auth(s["token"]), timeout=5)
    assert_error(r, 410, "RESERVATION_EXPIRED")


def test_path_ids_must_be_numeric(api):
    s = new_session(api.base)
    r = requests.delete(f"{api.base}/api/reservations/x/1", headers=auth(s["token"]),
                        timeout=5)
    assert_error(r, 422, "VALIDATION_FAILED")
    r = requests.delete(f"{api.base}/api/reservations/1/y", headers=auth(s["token"]),
                        timeout=5)
    assert_error(r, 422, "VALIDATION_FAILED")
    r = requests.delete(f"{api.base}/api/reservations/987654/1", headers=auth(s["token"]),
                        timeout=5)
    assert_error(r, 404, "EVENT_NOT_FOUND")


def test_expired_hold_is_available_within_one_second_never_before(api, arena):
    s = new_session(api.base)
    [sid] = arena.take(1)
    r = hold(api.base, s["token"], arena.event_id, [sid], holdSeconds=5)
    expires = parse_time(r.json()["expiresAt"])
    seen_available = None
    while time.time() < expires + 3:
        st = seat_status(api.base, arena.event_id, sid)
        now = time.time()
        if st == "AVAILABLE":
            seen_available = now
            break
        time.sleep(0.05)
    assert seen_available is not None, "hold never lapsed"
    assert seen_available >= expires - 0.05, "seat freed before expiresAt"
    assert seen_available <= expires + 1.0, "seat freed later than 1 s after expiresAt"
    # and the lapsed hold is gone from the list; extend is 410
    assert requests.get(api.base + "/api/reservations", headers=auth(s["token"]),
                        timeout=5).json() == []
    r = requests.post(f"{api.base}/api/reservations/{arena.event_id}/{sid}/extend",
                      json={"seconds": 30}, headers=auth(s["token"]), timeout=5)
    assert_error(r, 410, "RESERVATION_EXPIRED")


def test_200_sessions_racing_for_one_seat_get_exactly_one_201(api, arena):
    [sid] = arena.take(1)
    sessions = [new_session(api.base) for _ in range(200)]
    with cf.ThreadPoolExecutor(max_workers=100) as pool:
        codes = list(pool.map(
            lambda s: hold(api.base, s["token"], arena.event_id, [sid]).status_code,
            sessions))
    assert codes.count(201) == 1, codes
    assert codes.count(409) == 199
    holders = [s for s in sessions
               if requests.get(api.base + "/api/reservations", headers=auth(s["token"]),
                               timeout=5).json()]
    assert len(holders) == 1


def test_1000_attempts_from_100_sessions_over_50_seats_never_double_hold(api, arena):
    import random
    seats = arena.take(50)
    sessions = [new_session(api.base) for _ in range(100)]
    rng = random.Random(7)
    attempts = [(rng.choice(sessions), rng.sample(seats, rng.randint(1, 3)))
                for _ in range(1000)]

    def attempt(a):
        s, ids = a
        return hold(api.base, s["token"], arena.event_id, ids, holdSeconds=600).status_code

    with cf.ThreadPoolExecutor(max_workers=64) as pool:
        codes = list(pool.map(attempt, attempts))
    assert set(codes) <= {201, 409, 422}, set(codes)
    owners = {}
    for s in sessions:
        for h in requests.get(api.base + "/api/reservations", headers=auth(s["token"]),
                              timeout=5).json():
            if h["eventId"] != arena.event_id:
                continue
            assert h["seatId"] not in owners, "seat held by two sessions"
            owners[h["seatId"]] = s["sessionId"]
    held = [x for x in seats if seat_status(api.base, arena.event_id, x) == "HELD"]
    assert sorted(owners) == sorted(held)
    assert len(held) > 0


def test_udp_and_rest_racing_on_one_seat_one_wins(api, arena):
    for _ in range(20):
        a, b = new_session(api.base), new_session(api.base)
        [sid] = arena.take(1)
        with cf.ThreadPoolExecutor(max_workers=2) as pool:
            fu = pool.submit(udp, "HOLD", arena.event_id, sid, a["token"])
            fr = pool.submit(hold, api.base, b["token"], arena.event_id, [sid])
            u, r = fu.result(), fr.result()
        wins = (u["status"] == "OK") + (r.status_code == 201)
        assert wins == 1, (u, r.status_code)
        assert (u["status"] == "TAKEN") == (r.status_code == 201)
