"""The waiting room (issue #12; docs/api.md, "Waiting room") against a real
ticketd: the admin endpoints, joining and polling, the rate and the active
cap, the pre-queue draw, the seat map's gate, tickets bound to their
session, the room stream, idle timeouts, a restart, and hostile input.

Each test gets an event of its own ("Room Test N", created once), so the
queues of one test never reach another; every room is turned off again at
the end so other suites see plain events."""
import datetime
import json
import os
import signal
import time

import pytest
import requests

from conftest import RUN_DIR, assert_error, auth, mariadb_sql, metric, new_session

N_EVENTS = 17
ADMIN_KEY_PATH = os.path.join(RUN_DIR, "ticketd", "admin.key")


def ensure_room_events():
    have = int(mariadb_sql("SELECT COUNT(*) FROM events WHERE name LIKE 'Room Test %'").strip())
    for i in range(have, N_EVENTS):
        mariadb_sql(
            f"INSERT INTO events (name, venue, starts_at, seat_rows, seat_cols) "
            f"VALUES ('Room Test {i}', 'Test Hall', '2030-01-01 20:00:00', 2, 2); "
            f"INSERT INTO seats (event_id, seat_id, r, c, label, price) "
            f"SELECT LAST_INSERT_ID(), seq, seq DIV 2, seq MOD 2, CONCAT('R', seq), 1000 "
            f"FROM seq_0_to_3")
    return have < N_EVENTS


def admin_key():
    with open(ADMIN_KEY_PATH) as f:
        return f.read().strip()


@pytest.fixture(scope="module")
def rooms(ticketd):
    if ensure_room_events():  # the catalogue is loaded at start
        ticketd.stop()
        ticketd.start()
    events = requests.get(ticketd.base + "/api/events", timeout=5).json()
    ids = sorted(e["id"] for e in events if e["name"].startswith("Room Test "))
    assert len(ids) == N_EVENTS
    free = list(ids)
    for ev in ids:
        admin_put(ticketd.base, ev, enabled=False)
    yield free
    for ev in ids:
        admin_put(ticketd.base, ev, enabled=False)


def admin_put(base, event_id, key=None, **fields):
    r = requests.put(f"{base}/admin/events/{event_id}/room", json=fields, timeout=5,
                     headers=auth(key or admin_key()))
    assert r.status_code == 200, r.text
    return r.json()


def admin_get(base, event_id):
    r = requests.get(f"{base}/admin/events/{event_id}/room", timeout=5,
                     headers=auth(admin_key()))
    assert r.status_code == 200, r.text
    return r.json()


def join(base, event_id, token, ticket=None):
    body = {"ticket": ticket} if ticket else None
    r = requests.post(f"{base}/api/events/{event_id}/room", json=body, timeout=5,
                      headers=auth(token))
    assert r.status_code == 200, r.text
    return r.json()


def poll(base, event_id, token, ticket=None):
    params = {"ticket": ticket} if ticket else None
    return requests.get(f"{base}/api/events/{event_id}/room", params=params, timeout=5,
                        headers=auth(token))


def wait_admitted(base, event_id, token, within=5):
    """Joins (polls) until the session is admitted; fails after within s."""
    deadline = time.monotonic() + within
    while join(base, event_id, token)["state"] != "admitted":
        assert time.monotonic() < deadline, "not admitted in time"
        time.sleep(0.1)


def seq_of(ticket):
    return int(ticket.split(".")[2])


def iso_in(seconds):
    t = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=seconds)
    return t.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def test_event_without_room_is_open(api, rooms):
    ev = rooms.pop()
    s = new_session(api.base)
    assert join(api.base, ev, s["token"]) == {"eventId": ev, "state": "open"}
    assert requests.get(f"{api.base}/api/events/{ev}/seats", timeout=5).status_code == 200
    got = admin_get(api.base, ev)
    assert got["enabled"] is False and got["startsAt"] is None


def test_admin_needs_the_key(api, rooms):
    ev = rooms[0]
    url = f"{api.base}/admin/events/{ev}/room"
    assert_error(requests.get(url, timeout=5), 401, "UNAUTHORIZED")
    assert_error(requests.put(url, json={"enabled": True}, timeout=5), 401, "UNAUTHORIZED")
    wrong = "0" * 64
    assert_error(requests.get(url, headers=auth(wrong), timeout=5), 403, "FORBIDDEN")
    assert_error(requests.put(url, json={"enabled": True}, headers=auth(wrong), timeout=5),
                 403, "FORBIDDEN")
    assert_error(requests.get(url, headers=auth(admin_key()[:-1]), timeout=5), 403, "FORBIDDEN")
    # nothing changed
    assert admin_get(api.base, ev)["enabled"] is False
    # the key file is private
    assert os.stat(ADMIN_KEY_PATH).st_mode & 0o077 == 0
    assert os.stat(os.path.join(RUN_DIR, "ticketd", "room.key")).st_mode & 0o077 == 0


def test_admin_put_turns_room_on_and_stores_it(api, rooms):
    ev = rooms.pop()
    got = admin_put(api.base, ev, enabled=True, ratePerSecond=7, activeMax=3,
                    idleSeconds=30, admitSeconds=120, startsAt="2031-05-01T10:00:00+02:00")
    assert got["enabled"] is True and got["ratePerSecond"] == 7 and got["activeMax"] == 3
    assert got["idleSeconds"] == 30 and got["admitSeconds"] == 120
    assert got["startsAt"] == "2031-05-01T08:00:00.000Z"
    row = mariadb_sql(f"SELECT enabled, rate_per_s, active_max, starts_at FROM event_rooms "
                      f"WHERE event_id = {ev}").split("\t")
    assert row[:3] == ["1", "7", "3"] and row[3].startswith("2031-05-01 08:00:00")
    # partial update; "auto" rate; table names accepted
    got = admin_put(api.base, ev, rate="auto", starts_at=None)
    assert got["ratePerSecond"] == 0 and got["startsAt"] is None and got["activeMax"] == 3
    assert "queueLength" in got["status"] and "rate" in got["status"]
    admin_put(api.base, ev, enabled=False)


def test_join_waits_with_position_in_join_order(api, rooms):
    ev = rooms.pop()
    admin_put(api.base, ev, enabled=True, ratePerSecond=1, activeMax=1, startsAt=None)
    blocker = new_session(api.base)["token"]  # takes the one place
    wait_admitted(api.base, ev, blocker)
    tokens = [new_session(api.base)["token"] for _ in range(3)]
    answers = [join(api.base, ev, t) for t in tokens]
    for a in answers:
        assert a["state"] == "waiting" and a["eventId"] == ev
        assert a["ticket"].startswith(f"v1.{ev}.")
        assert a["estimatedWaitSeconds"] >= 0 and a["rate"] == 1
        assert a["startsAt"] is None
    pos = [a["position"] for a in answers]
    assert pos == sorted(pos) and len(set(pos)) == 3
    # idempotent: the same session gets its same ticket back
    again = join(api.base, ev, tokens[1])
    assert again["ticket"] == answers[1]["ticket"]
    # a poll says the same
    r = poll(api.base, ev, tokens[1], answers[1]["ticket"])
    assert r.status_code == 200 and r.json()["ticket"] == answers[1]["ticket"]
    admin_put(api.base, ev, enabled=False)


def test_rate_lets_visitors_through_in_order(api, rooms):
    ev = rooms.pop()
    admin_put(api.base, ev, enabled=True, ratePerSecond=2, activeMax=100, startsAt=None)
    tokens = [new_session(api.base)["token"] for _ in range(6)]
    for t in tokens:
        assert join(api.base, ev, t)["state"] == "waiting"
    start = time.monotonic()
    admitted_at = {}
    while len(admitted_at) < len(tokens) and time.monotonic() - start < 15:
        for i, t in enumerate(tokens):
            if i not in admitted_at and join(api.base, ev, t)["state"] == "admitted":
                admitted_at[i] = time.monotonic() - start
        time.sleep(0.1)
    assert len(admitted_at) == len(tokens)
    order = sorted(admitted_at, key=admitted_at.get)
    assert order == sorted(order), admitted_at  # first come, first served
    # 2 a second: the 6th not before about 2.5 s
    assert admitted_at[5] >= 2.0, admitted_at
    assert admin_get(api.base, ev)["status"]["admittedTotal"] >= 6
    admin_put(api.base, ev, enabled=False)


def test_prequeue_is_shuffled_at_the_start(api, rooms):
    ev = rooms.pop()
    admin_put(api.base, ev, enabled=True, ratePerSecond=1000, activeMax=1000,
              startsAt=iso_in(3))
    tokens = [new_session(api.base)["token"] for _ in range(10)]
    for t in tokens:
        a = join(api.base, ev, t)
        assert a["state"] == "waiting" and a["prequeue"] is True
        assert seq_of(a["ticket"]) == 0 and a["startsAt"] is not None
        assert a["estimatedWaitSeconds"] >= 1
    time.sleep(3.5)
    seqs, states = [], []
    for t in tokens:
        a = join(api.base, ev, t)
        seqs.append(seq_of(a["ticket"]))
        states.append(a["state"])
    assert sorted(seqs) == list(range(min(seqs), min(seqs) + len(tokens)))  # a permutation
    assert seqs != sorted(seqs)  # not join order (chance 1 in 10!)
    deadline = time.monotonic() + 5
    while "waiting" in states:
        assert time.monotonic() < deadline
        time.sleep(0.2)
        states = [join(api.base, ev, t)["state"] for t in tokens]
    admin_put(api.base, ev, enabled=False)


def test_seat_map_needs_admission(api, rooms):
    ev = rooms.pop()
    admin_put(api.base, ev, enabled=True, ratePerSecond=1, activeMax=10,
              startsAt=iso_in(60))
    seats = f"{api.base}/api/events/{ev}/seats"
    body = assert_error(requests.get(seats, timeout=5), 403, "QUEUE_REQUIRED")
    assert body["details"]["room"] == f"/api/events/{ev}/room"
    assert_error(requests.get(seats + "/stream", timeout=5), 403, "QUEUE_REQUIRED")
    t = new_session(api.base)["token"]
    join(api.base, ev, t)
    assert_error(requests.get(seats, headers=auth(t), timeout=5), 403, "QUEUE_REQUIRED")
    assert_error(requests.get(seats, headers=auth("f" * 32), timeout=5), 401, "UNAUTHORIZED")
    admin_put(api.base, ev, startsAt=None, ratePerSecond=100)
    wait_admitted(api.base, ev, t)
    assert requests.get(seats, headers=auth(t), timeout=5).status_code == 200
    with requests.get(seats + "/stream", params={"token": t}, stream=True, timeout=5) as r:
        assert r.status_code == 200
    # other events are not gated
    other = rooms[0]
    assert requests.get(f"{api.base}/api/events/{other}/seats", timeout=5).status_code == 200
    admin_put(api.base, ev, enabled=False)
    assert requests.get(seats, timeout=5).status_code == 200


def test_ticket_of_another_session_is_refused(api, rooms):
    ev = rooms.pop()
    admin_put(api.base, ev, enabled=True, ratePerSecond=1, activeMax=10, startsAt=iso_in(60))
    a = new_session(api.base)["token"]
    b = new_session(api.base)["token"]
    ticket = join(api.base, ev, a)["ticket"]
    before = admin_get(api.base, ev)["status"]
    r = requests.post(f"{api.base}/api/events/{ev}/room", json={"ticket": ticket},
                      headers=auth(b), timeout=5)
    assert_error(r, 403, "QUEUE_TICKET_INVALID")
    assert_error(poll(api.base, ev, b, ticket), 403, "QUEUE_TICKET_INVALID")
    # a ticket of another event
    assert_error(poll(api.base, rooms[0], a, ticket), 403, "QUEUE_TICKET_INVALID")
    # no ticket, never joined
    assert_error(poll(api.base, ev, b), 404, "NOT_IN_QUEUE")
    assert admin_get(api.base, ev)["status"]["visitors"] == before["visitors"]
    admin_put(api.base, ev, enabled=False)


def read_sse(resp, until_event, limit_s):
    """[(event, data)] until an event named until_event (or the stream
    ends, or limit_s passes)."""
    frames, ev, deadline = [], None, time.monotonic() + limit_s
    for line in resp.iter_lines(decode_unicode=True):
        if time.monotonic() > deadline:
            break
        if line.startswith("event: "):
            ev = line[7:]
        elif line.startswith("data: "):
            frames.append((ev, json.loads(line[6:])))
            if ev == until_event:
                break
    return frames


def test_stream_sends_positions_then_admitted(api, rooms):
    ev = rooms.pop()
    admin_put(api.base, ev, enabled=True, ratePerSecond=1, activeMax=100, startsAt=None)
    tokens = [new_session(api.base)["token"] for _ in range(3)]
    tickets = [join(api.base, ev, t)["ticket"] for t in tokens]
    start = time.monotonic()
    with requests.get(f"{api.base}/api/events/{ev}/room/stream",
                      params={"ticket": tickets[2]}, headers=auth(tokens[2]),
                      stream=True, timeout=10) as r:
        assert r.status_code == 200
        assert r.headers["Content-Type"].startswith("text/event-stream")
        frames = read_sse(r, "admitted", 10)
    names = [f[0] for f in frames]
    assert names[-1] == "admitted", frames
    assert "admittedUntil" in frames[-1][1]
    positions = [f[1]["position"] for f in frames if f[0] == "position"]
    assert len(positions) >= 2 and positions == sorted(positions, reverse=True)
    assert all("estimatedWaitSeconds" in f[1] and f[1]["state"] == "waiting"
               for f in frames if f[0] == "position")
    assert time.monotonic() - start < 8
    # EventSource form: the token as a query argument
    with requests.get(f"{api.base}/api/events/{ev}/room/stream",
                      params={"token": tokens[2]}, stream=True, timeout=10) as r:
        frames = read_sse(r, "admitted", 5)
    assert frames and frames[-1][0] == "admitted"
    # a session not in the room
    r = requests.get(f"{api.base}/api/events/{ev}/room/stream",
                     headers=auth(new_session(api.base)["token"]), timeout=5)
    assert_error(r, 404, "NOT_IN_QUEUE")
    admin_put(api.base, ev, enabled=False)


def test_idle_admitted_visitor_frees_its_place(api, rooms):
    ev = rooms.pop()
    admin_put(api.base, ev, enabled=True, ratePerSecond=100, activeMax=1, idleSeconds=5,
              startsAt=None)
    a = new_session(api.base)["token"]
    b = new_session(api.base)["token"]
    wait_admitted(api.base, ev, a)
    assert join(api.base, ev, b)["state"] == "waiting"
    start = time.monotonic()
    while join(api.base, ev, b)["state"] != "admitted":
        assert time.monotonic() - start < 12, "the idle visitor kept its place"
        time.sleep(0.5)
    assert time.monotonic() - start >= 3.5  # not before a's idle timeout
    got = admin_get(api.base, ev)["status"]
    assert got["active"] == 1 and got["expiredTotal"] >= 1
    # a comes back: the end of the queue, a new ticket
    back = join(api.base, ev, a)
    assert back["state"] == "waiting"
    admin_put(api.base, ev, enabled=False)


def test_activity_keeps_the_place(api, rooms):
    ev = rooms.pop()
    admin_put(api.base, ev, enabled=True, ratePerSecond=100, activeMax=1, idleSeconds=5,
              startsAt=None)
    a = new_session(api.base)["token"]
    wait_admitted(api.base, ev, a)
    # any request of the session counts: its reservations list here
    for _ in range(8):
        time.sleep(1)
        assert requests.get(f"{api.base}/api/reservations", headers=auth(a),
                            timeout=5).status_code == 200
    assert requests.get(f"{api.base}/api/events/{ev}/seats", headers=auth(a),
                        timeout=5).status_code == 200
    admin_put(api.base, ev, enabled=False)


def test_ticket_survives_a_restart(api, rooms, ticketd):
    ev = rooms.pop()
    admin_put(api.base, ev, enabled=True, ratePerSecond=1, activeMax=1, startsAt=None)
    blocker = new_session(api.base)["token"]
    wait_admitted(api.base, ev, blocker)
    t = new_session(api.base)["token"]
    before = join(api.base, ev, t)
    assert before["state"] == "waiting"
    time.sleep(1.2)  # the progress file is written once a second
    ticketd.stop(signal.SIGTERM)
    ticketd.start()
    assert_error(poll(api.base, ev, t), 404, "NOT_IN_QUEUE")  # memory is gone
    r = poll(api.base, ev, t, before["ticket"])
    assert r.status_code == 200, r.text
    after = r.json()
    assert seq_of(after["ticket"]) == seq_of(before["ticket"])
    assert after["state"] in ("waiting", "admitted")
    # a newcomer comes after it
    late = join(api.base, ev, new_session(api.base)["token"])
    assert seq_of(late["ticket"]) > seq_of(before["ticket"])
    admin_put(api.base, ev, enabled=False)


def test_hostile_input_changes_nothing(api, rooms):
    ev = rooms.pop()
    admin_put(api.base, ev, enabled=True, ratePerSecond=1, activeMax=1, startsAt=iso_in(60))
    t = new_session(api.base)["token"]
    join(api.base, ev, t)
    before = admin_get(api.base, ev)
    url = f"{api.base}/api/events/{ev}/room"
    good = join(api.base, ev, t)["ticket"]
    for bad in ["", "v1", "v1." + "9" * 200, good + "0", good.upper(), "v1.%d.0.0.%s" % (ev, "0" * 64),
                good.replace(f"v1.{ev}.", f"v1.0{ev}."), "v2" + good[2:], "\u00e9" * 40]:
        r = requests.post(url, json={"ticket": bad}, headers=auth(t), timeout=5)
        if bad == "":
            assert r.status_code == 200  # no ticket
        else:
            assert r.status_code in (400, 403), (bad, r.text)
            assert r.json()["code"] in ("VALIDATION_FAILED", "QUEUE_TICKET_INVALID")
    assert_error(requests.post(url, json={"ticket": 5}, headers=auth(t), timeout=5),
                 422, "VALIDATION_FAILED")
    assert_error(requests.post(url, json={"seq": 1}, headers=auth(t), timeout=5),
                 422, "VALIDATION_FAILED")
    assert_error(requests.post(url, data="{", headers=auth(t), timeout=5), 400, "MALFORMED_JSON")
    r = requests.post(url, data="x" * 200000, headers=auth(t), timeout=5)
    assert r.status_code == 413
    assert_error(requests.post(url, timeout=5), 401, "UNAUTHORIZED")
    assert_error(requests.post(f"{api.base}/api/events/abc/room", headers=auth(t), timeout=5),
                 400, "VALIDATION_FAILED")
    assert_error(requests.post(f"{api.base}/api/events/4294967296/room", headers=auth(t),
                               timeout=5), 400, "VALIDATION_FAILED")
    assert_error(requests.post(f"{api.base}/api/events/999999/room", headers=auth(t), timeout=5),
                 404, "EVENT_NOT_FOUND")
    aurl = f"{api.base}/admin/events/{ev}/room"
    for body in [{"activeMax": 0}, {"activeMax": -1}, {"ratePerSecond": "fast"},
                 {"idleSeconds": 1}, {"admitSeconds": 10 ** 12}, {"startsAt": "tomorrow"},
                 {"startsAt": "2030-02-30T00:00:00Z"}, {"startsAt": "2030-01-01T00:00:00"},
                 {"enabled": "yes"}, {"color": "red"}]:
        r = requests.put(aurl, json=body, headers=auth(admin_key()), timeout=5)
        assert_error(r, 422, "VALIDATION_FAILED")
    assert_error(requests.put(aurl, data="[1]", headers=auth(admin_key()), timeout=5),
                 422, "VALIDATION_FAILED")
    assert_error(requests.put(f"{api.base}/admin/events/999999/room", json={"enabled": True},
                              headers=auth(admin_key()), timeout=5), 404, "EVENT_NOT_FOUND")
    after = admin_get(api.base, ev)
    for k in ("enabled", "startsAt", "ratePerSecond", "activeMax", "idleSeconds", "admitSeconds"):
        assert after[k] == before[k]
    assert after["status"]["visitors"] == before["status"]["visitors"]
    admin_put(api.base, ev, enabled=False)


def test_stream_frames_come_every_frame_interval(api, rooms):
    """A waiting visitor whose place does not move (the pre-queue) still
    gets a frame every --room-frame-ms (750 ms by default): under the 1 s
    between updates the issue asks for, and not two a second."""
    ev = rooms.pop()
    admin_put(api.base, ev, enabled=True, ratePerSecond=1, activeMax=5, startsAt=iso_in(60))
    t = new_session(api.base)["token"]
    ticket = join(api.base, ev, t)["ticket"]
    frames0 = metric(api.base, "ticketd_room_stream_frames_total")
    streams0 = metric(api.base, "ticketd_room_streams")
    arrivals = []
    with requests.get(f"{api.base}/api/events/{ev}/room/stream", params={"ticket": ticket},
                      headers=auth(t), stream=True, timeout=10) as r:
        assert r.status_code == 200
        deadline = time.monotonic() + 6
        for line in r.iter_lines(decode_unicode=True):
            if line.startswith("data: "):
                arrivals.append(time.monotonic())
                assert json.loads(line[6:])["prequeue"] is True
            if len(arrivals) >= 6 or time.monotonic() > deadline:
                break
    assert len(arrivals) >= 6, arrivals
    gaps = [b - a for a, b in zip(arrivals[1:], arrivals[2:])]
    assert all(0.55 <= g <= 0.98 for g in gaps), gaps
    assert metric(api.base, "ticketd_room_stream_frames_total") >= frames0 + 6
    assert metric(api.base, "ticketd_room_ticks_late_total") >= 0
    assert 0 <= metric(api.base, "ticketd_room_tick_gap_max_seconds") < 5
    # the server finds the closed stream at its next frame (parked until then)
    deadline = time.monotonic() + 3
    while metric(api.base, "ticketd_room_streams") > streams0:
        assert time.monotonic() < deadline, "the closed stream stayed open"
        time.sleep(0.1)
    admin_put(api.base, ev, enabled=False)


def test_metrics_show_the_room(api, rooms):
    ev = rooms.pop()
    admin_put(api.base, ev, enabled=True, ratePerSecond=3, activeMax=5, startsAt=iso_in(60))
    join(api.base, ev, new_session(api.base)["token"])
    text = requests.get(f"{api.base}/metrics", timeout=5).text
    for name in ("ticketd_room_queue_length", "ticketd_room_admitted_total",
                 "ticketd_room_active", "ticketd_room_estimated_wait_seconds",
                 "ticketd_room_rate"):
        assert f'{name}{{event="{ev}"}}' in text, name
    assert f'ticketd_room_queue_length{{event="{ev}"}} 1' in text
    assert f'ticketd_room_rate{{event="{ev}"}} 3.000' in text
    assert 'ticketd_http_inflight{door="room"} 0' in text
    # a waiting visitor's open stream is a stream, never an in-flight read
    t = new_session(api.base)["token"]
    ticket = join(api.base, ev, t)["ticket"]
    with requests.get(f"{api.base}/api/events/{ev}/room/stream", params={"ticket": ticket},
                      headers=auth(t), stream=True, timeout=10) as r:
        assert r.status_code == 200
        text = requests.get(f"{api.base}/metrics", timeout=5).text
    assert 'ticketd_http_inflight{door="reads"} 0' in text
    assert 'ticketd_http_inflight{door="streams"} 1' in text
    admin_put(api.base, ev, enabled=False)


def test_ticketctl_room_shows_and_changes_a_room(api, rooms):
    import subprocess
    from conftest import ROOT
    ev = rooms.pop()
    ctl = [os.path.join(ROOT, "build", "ticketctl"), "room", str(ev), "--admin", api.base,
           "--admin-key-file", ADMIN_KEY_PATH]
    out = subprocess.run(ctl + ["--on", "--rate", "9", "--active-max", "4",
                                "--starts-at", "2031-01-01T00:00:00Z", "--idle-seconds", "60"],
                         capture_output=True, text=True, timeout=20)
    assert out.returncode == 0, out.stderr
    got = json.loads(out.stdout)
    assert got["enabled"] is True and got["ratePerSecond"] == 9 and got["activeMax"] == 4
    assert got["startsAt"] == "2031-01-01T00:00:00.000Z" and got["idleSeconds"] == 60
    out = subprocess.run(ctl + ["--off", "--rate", "auto", "--starts-at", "none"],
                         capture_output=True, text=True, timeout=20)
    got = json.loads(out.stdout)
    assert got["enabled"] is False and got["ratePerSecond"] == 0 and got["startsAt"] is None
    assert json.loads(subprocess.run(ctl, capture_output=True, text=True,
                                     timeout=20).stdout)["activeMax"] == 4
    # refusals: a bad value (ticketd's 422), a wrong key, usage
    out = subprocess.run(ctl + ["--starts-at", "soon"], capture_output=True, text=True,
                         timeout=20)
    assert out.returncode == 1 and "VALIDATION_FAILED" in out.stderr
    bad_key = os.path.join(RUN_DIR, "wrong.key")
    with open(bad_key, "w") as f:
        f.write("0" * 64 + "\n")
    out = subprocess.run(ctl[:-1] + [bad_key], capture_output=True, text=True, timeout=20)
    assert out.returncode == 1 and "FORBIDDEN" in out.stderr
    out = subprocess.run(ctl + ["--rate", "-3"], capture_output=True, text=True, timeout=20)
    assert out.returncode == 2


def test_holds_need_the_admission_at_every_door(api, rooms):
    """A HOLD on a room event without an admission is refused over REST (403
    NOT_ADMITTED) and UDP (NOT_ADMITTED), and changes nothing, even when the
    seat is taken; once admitted the same session holds."""
    from conftest import udp
    ev = rooms.pop()
    admin_put(api.base, ev, enabled=True, ratePerSecond=100, activeMax=10,
              startsAt=iso_in(60))
    t = new_session(api.base)["token"]
    join(api.base, ev, t)
    hold = {"eventId": ev, "seatIds": [1]}
    assert_error(requests.post(f"{api.base}/api/reservations", json=hold,
                               headers=auth(t), timeout=5), 403, "NOT_ADMITTED")
    assert udp("HOLD", ev, 2, t, secs=60)["status"] == "NOT_ADMITTED"
    admin_put(api.base, ev, startsAt=None)
    wait_admitted(api.base, ev, t)
    r = requests.post(f"{api.base}/api/reservations", json=hold, headers=auth(t), timeout=5)
    assert r.status_code == 201, r.text
    assert udp("HOLD", ev, 2, t, secs=60)["status"] == "OK"
    # a session without an admission learns nothing about the seats: the
    # refusal comes before "taken", at both doors
    other = new_session(api.base)["token"]
    assert_error(requests.post(f"{api.base}/api/reservations", json=hold,
                               headers=auth(other), timeout=5), 403, "NOT_ADMITTED")
    assert udp("HOLD", ev, 2, other, secs=60)["status"] == "NOT_ADMITTED"
    admin_put(api.base, ev, enabled=False)
