"""The live seat stream, GET /api/events/{id}/seats/stream (docs/api.md,
"Server-sent events"), black-box against a real ticketd: snapshot first,
one seat event per change from either door, the same order for everyone,
Last-Event-ID replay from memory and from Redis, pings, slow clients
dropped without delaying others, and a thousand subscribers at once.

Streams are read with raw sockets (HTTP/1.1 chunked decoding by hand), so
the tests control receive buffers and never need a thread per stream."""
import collections
import json
import os
import re
import resource
import selectors
import socket
import subprocess
import time

import pytest
import requests

from conftest import (PORTS, RUN_DIR, Ticketd, assert_error, auth, metric, new_session, udp,
                      udp_packet, udp_parse)

# A thousand streams need file descriptors here and in the ticketd that the
# session fixture starts later (it inherits our limit): raise the soft
# limit at collection time, before any ticketd exists.
_soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
if _soft < 4096:
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(_hard, 4096), _hard))


# ---- a minimal SSE client ----

class Stream:
    """One SSE stream over a raw socket. feed() takes bytes in any pieces;
    events come out of next() as dicts (event, id, data) or
    {"comment": text} for comment lines."""

    def __init__(self, port, event_id, last_event_id=None, rcvbuf=None, connect=True,
                 path=None):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        extra = f"Last-Event-ID: {last_event_id}\r\n" if last_event_id is not None else ""
        self.request = (f"GET {path or f'/api/events/{event_id}/seats/stream'} HTTP/1.1\r\n"
                        f"Host: 127.0.0.1\r\nAccept: text/event-stream\r\n{extra}\r\n").encode()
        self.raw = b""
        self.body = b""
        self.status = None
        self.headers = {}
        self.chunk_left = None  # bytes left in the current chunk; None: size line next
        self.need_crlf = False
        self.ended = False  # the server ended the stream (or closed)
        self.events = collections.deque()
        if connect:
            self.sock.connect(("127.0.0.1", port))
            self.sock.sendall(self.request)

    def close(self):
        self.sock.close()

    def feed(self, data):
        if not data:
            self.ended = True
            return
        self.raw += data
        if self.status is None:
            end = self.raw.find(b"\r\n\r\n")
            if end < 0:
                return
            head, self.raw = self.raw[:end].decode(), self.raw[end + 4:]
            lines = head.split("\r\n")
            self.status = int(lines[0].split()[1])
            for line in lines[1:]:
                k, _, v = line.partition(":")
                self.headers[k.strip().lower()] = v.strip()
        self._dechunk()
        self._parse()

    def _dechunk(self):
        while self.raw:
            if self.need_crlf:
                if len(self.raw) < 2:
                    return
                self.raw, self.need_crlf = self.raw[2:], False
            if self.chunk_left is None:
                i = self.raw.find(b"\r\n")
                if i < 0:
                    return
                size = int(self.raw[:i].split(b";")[0], 16)
                self.raw = self.raw[i + 2:]
                if size == 0:
                    self.ended = True
                    return
                self.chunk_left = size
            take = self.raw[:self.chunk_left]
            self.body += take
            self.raw = self.raw[len(take):]
            self.chunk_left -= len(take)
            if self.chunk_left == 0:
                self.chunk_left, self.need_crlf = None, True

    def _parse(self):
        while True:
            i = self.body.find(b"\n\n")
            if i < 0:
                return
            block, self.body = self.body[:i].decode(), self.body[i + 2:]
            ev = {}
            for line in block.split("\n"):
                if line.startswith(":"):
                    ev.setdefault("comment", line[1:].strip())
                    continue
                k, _, v = line.partition(":")
                ev[k] = v[1:] if v.startswith(" ") else v
            if "data" in ev:
                ev["json"] = json.loads(ev["data"])
            self.events.append(ev)

    def pump(self, timeout):
        """Waits up to timeout for bytes; False once the stream ended."""
        if self.ended:
            return False
        self.sock.settimeout(max(timeout, 0.001))
        try:
            self.feed(self.sock.recv(262144))
        except socket.timeout:
            pass
        except (ConnectionResetError, BrokenPipeError):
            self.ended = True
        return not self.ended

    def next(self, timeout=5.0, comments=False):
        """The next event (pings skipped unless comments); raises on timeout."""
        deadline = time.monotonic() + timeout
        while True:
            while self.events:
                ev = self.events.popleft()
                if comments or "comment" not in ev:
                    return ev
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no SSE event in time")
            if not self.pump(left) and not self.events:
                raise EOFError("stream ended")

    def seat_events_until(self, pred, timeout=5.0):
        """Seat events up to and including the first one pred accepts."""
        out = []
        while True:
            ev = self.next(timeout)
            assert ev.get("event") == "seat", ev
            out.append(ev)
            if pred(ev):
                return out


def open_stream(event_id, **kw):
    s = Stream(PORTS["http"], event_id, **kw)
    first = s.next()
    return s, first


def seat_ev(ev):
    """(version, seatId, status) of a seat event, checking id == version."""
    d = ev["json"]
    assert set(d) == {"seatId", "status", "version"}, d
    assert int(ev["id"]) == d["version"], ev
    return d["version"], d["seatId"], d["status"]


def hold(base, token, event_id, seat_ids, **extra):
    return requests.post(base + "/api/reservations", headers=auth(token), timeout=10,
                         json={"eventId": event_id, "seatIds": seat_ids, **extra})


def udp_churn(event_id, seat_id, token, n, between=None):
    """n changes of one seat over one UDP socket: hold, release, hold, ...
    between() runs after each one (a reader keeping up)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(2)
        for i in range(n):
            op = "HOLD" if i % 2 == 0 else "RELEASE"
            s.sendto(udp_packet(op, event_id, seat_id, token, 0, i),
                     ("127.0.0.1", PORTS["udp"]))
            assert udp_parse(s.recvfrom(64)[0])["status"] == "OK"
            if between:
                between()


def wait_until(pred, timeout, step=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(step)
    return pred()


# ---- the tests ----

def test_stream_starts_with_a_snapshot_equal_to_the_seat_map(api, arena):
    for attempt in range(3):
        s, first = open_stream(arena.event_id)
        rest = requests.get(f"{api.base}/api/events/{arena.event_id}/seats", timeout=5).json()
        s.close()
        assert s.status == 200
        assert s.headers["content-type"].startswith("text/event-stream")
        assert re.fullmatch(r"[0-9a-f]{32}", s.headers["trace-id"])
        assert first["event"] == "snapshot"
        snap = first["json"]
        assert int(first["id"]) == snap["version"]
        assert list(snap) == ["eventId", "rows", "cols", "version", "categories", "sections",
                              "seats"]
        assert {k: snap[k] for k in ("eventId", "rows", "cols")} == \
               {k: rest[k] for k in ("eventId", "rows", "cols")}
        assert len(snap["seats"]) == snap["rows"] * snap["cols"]
        static = [{k: v for k, v in x.items() if k != "status"} for x in snap["seats"]]
        assert static == [{k: v for k, v in x.items() if k != "status"}
                          for x in rest["seats"]]
        # Statuses agree unless a change landed between the two reads, or a
        # hold lapsed and awaits its sweep (GET /seats shows a lapsed hold
        # AVAILABLE at once; the stream announces it within 1 s).
        if [x["status"] for x in snap["seats"]] == [x["status"] for x in rest["seats"]]:
            return
        time.sleep(0.6)
    pytest.fail("snapshot statuses never matched GET /seats")


def test_rest_hold_udp_hold_release_and_expiry_each_produce_one_seat_event(api, arena):
    s, snap = open_stream(arena.event_id)
    v0 = snap["json"]["version"]
    a, b, c = arena.take(3)
    sess = new_session(api.base)
    assert hold(api.base, sess["token"], arena.event_id, [a]).status_code == 201
    assert udp("HOLD", arena.event_id, b, sess["token"])["status"] == "OK"
    r = requests.delete(f"{api.base}/api/reservations/{arena.event_id}/{a}",
                        headers=auth(sess["token"]), timeout=5)
    assert r.status_code == 204
    t_hold = time.time()
    assert hold(api.base, sess["token"], arena.event_id, [c], holdSeconds=5).status_code == 201

    mine = []
    got = s.seat_events_until(lambda e: e["json"]["seatId"] == c and
                              e["json"]["status"] == "AVAILABLE", timeout=10)
    t_lapse = time.time()
    s.close()
    versions = [seat_ev(e)[0] for e in got]
    assert versions == list(range(v0 + 1, v0 + 1 + len(versions))), "gap-free, increasing"
    mine = [seat_ev(e)[1:] for e in got if e["json"]["seatId"] in (a, b, c)]
    assert mine == [(a, "HELD"), (b, "HELD"), (a, "AVAILABLE"), (c, "HELD"),
                    (c, "AVAILABLE")]
    assert 4.5 <= t_lapse - t_hold <= 7.5


def test_two_subscribers_see_identical_sequences(api, arena):
    s1, f1 = open_stream(arena.event_id)
    s2, f2 = open_stream(arena.event_id)
    sess = new_session(api.base)
    seats = arena.take(4)
    for sid in seats:
        assert hold(api.base, sess["token"], arena.event_id, [sid]).status_code == 201
    for sid in seats:
        assert udp("RELEASE", arena.event_id, sid, sess["token"])["status"] == "OK"
    last = lambda e: e["json"]["seatId"] == seats[-1] and e["json"]["status"] == "AVAILABLE"
    seq1 = [seat_ev(e) for e in s1.seat_events_until(last)]
    seq2 = [seat_ev(e) for e in s2.seat_events_until(last)]
    s1.close()
    s2.close()
    # Both started at (possibly) different snapshots; compare the overlap.
    start = max(f1["json"]["version"], f2["json"]["version"])
    assert [x for x in seq1 if x[0] > start] == [x for x in seq2 if x[0] > start]
    assert len([x for x in seq1 if x[1] in seats]) == 8


def test_last_event_id_replays_exactly_the_missed_changes(api, arena):
    watcher, _ = open_stream(arena.event_id)
    a, _ = open_stream(arena.event_id)
    sess = new_session(api.base)
    seats = arena.take(5)
    assert hold(api.base, sess["token"], arena.event_id, seats[:2]).status_code == 201
    seen = a.seat_events_until(lambda e: e["json"]["seatId"] == seats[1])
    last_id = seen[-1]["id"]
    a.close()
    assert hold(api.base, sess["token"], arena.event_id, seats[2:]).status_code == 201
    for sid in seats:
        assert udp("RELEASE", arena.event_id, sid, sess["token"])["status"] == "OK"
    done = lambda e: e["json"]["seatId"] == seats[-1] and e["json"]["status"] == "AVAILABLE"
    truth = [seat_ev(e) for e in watcher.seat_events_until(done)]
    missed = [x for x in truth if x[0] > int(last_id)]
    assert len([x for x in missed if x[1] in seats]) == 8

    b = Stream(PORTS["http"], arena.event_id, last_event_id=last_id)
    replay = [seat_ev(e) for e in b.seat_events_until(lambda e: seat_ev(e) == missed[-1])]
    b.close()
    watcher.close()
    assert replay == missed, "no snapshot, no gap, nothing twice"


def test_last_event_id_older_than_the_ring_replays_from_redis(api, arena_b):
    """4200 changes push the 4096-entry ring past the client's last id; the
    journal in Redis still has them."""
    s, snap = open_stream(arena_b.event_id)
    s.close()
    v0 = snap["json"]["version"]
    sess = new_session(api.base)
    [sid] = arena_b.take(1)
    n = 4200
    udp_churn(arena_b.event_id, sid, sess["token"], n)
    key = f"tkt:seats:{arena_b.event_id}"

    def journalled():
        # this ticketd's last change itself, not the stream's top: other
        # nodes of the suite (test_shards) journal the same event ids with
        # versions of their own epochs
        last = f"{v0 + n}-0"
        out = subprocess.run(["redis-cli", "-p", str(PORTS["redis"]), "XRANGE", key,
                              last, last], capture_output=True, text=True)
        return last in out.stdout

    assert wait_until(journalled, 10), "journal did not catch up"
    before = metric(api.base, 'ticketd_sse_replays_total{source="redis"}')
    r = Stream(PORTS["http"], arena_b.event_id, last_event_id=str(v0))
    got = [seat_ev(e) for e in r.seat_events_until(lambda e: e["json"]["version"] >= v0 + n,
                                                  timeout=10)]
    r.close()
    ours = [x for x in got if x[1] == sid]
    assert [x[0] for x in got] == list(range(v0 + 1, v0 + 1 + len(got)))
    assert len(ours) == n
    assert [x[2] for x in ours] == ["HELD", "AVAILABLE"] * (n // 2)
    assert metric(api.base, 'ticketd_sse_replays_total{source="redis"}') == before + 1


@pytest.mark.parametrize("last_id", ["abc", "-1", "1.5", "", " ", "12-0",
                                     "99999999999999999999999", "FUTURE"])
def test_malformed_or_future_last_event_id_gets_a_snapshot(api, arena, last_id):
    if last_id == "FUTURE":
        s, snap = open_stream(arena.event_id)
        s.close()
        last_id = str(snap["json"]["version"] + 1000)
    s, first = open_stream(arena.event_id, last_event_id=last_id)
    s.close()
    assert s.status == 200
    assert first["event"] == "snapshot"
    assert int(first["id"]) == first["json"]["version"]


def test_unknown_event_is_404_and_bad_id_is_400(api):
    r = requests.get(api.base + "/api/events/999999/seats/stream", timeout=5)
    assert_error(r, 404, "EVENT_NOT_FOUND")
    for bad in ("abc", "-1", "1.5", "99999999999"):
        r = requests.get(f"{api.base}/api/events/{bad}/seats/stream", timeout=5)
        assert_error(r, 400, "VALIDATION_FAILED")


def test_stalled_client_is_dropped_without_delaying_a_healthy_one(api, arena):
    """A client that never reads (tiny receive buffer) falls a full queue
    (1024 changes) behind and is cut; a healthy one meanwhile gets every
    change at once."""
    dropped0 = metric(api.base, "ticketd_sse_clients_dropped_total")
    stalled = Stream(PORTS["http"], arena.event_id, rcvbuf=4096)
    healthy, snap = open_stream(arena.event_id)
    sess = new_session(api.base)
    [sid] = arena.take(1)
    n = 3000
    seen = []

    def keep_up():
        healthy.pump(0)
        while healthy.events:
            ev = healthy.events.popleft()
            if "json" in ev and ev["json"]["seatId"] == sid:
                seen.append(time.monotonic())

    udp_churn(arena.event_id, sid, sess["token"], n, between=keep_up)
    t_done = time.monotonic()
    while len(seen) < n:
        ev = healthy.next(timeout=5)
        if ev["json"]["seatId"] == sid:
            seen.append(time.monotonic())
    lag = seen[-1] - t_done
    assert lag < 1.0, f"healthy stream lagged {lag:.2f}s behind"
    assert wait_until(lambda: metric(api.base, "ticketd_sse_clients_dropped_total")
                      >= dropped0 + 1, 5), "stalled client was not dropped"
    # The server closed it: draining what is buffered ends in EOF or reset.
    stalled.sock.settimeout(5)
    try:
        while stalled.sock.recv(1 << 20):
            pass
    except ConnectionResetError:
        pass
    stalled.close()
    healthy.close()


def test_ping_interval_setting_and_stream_cap():
    """A dedicated ticketd with --sse-ping-seconds 1 and --sse-max-clients 2
    (its own ports and state, and no Redis so it leaves the shared journal
    alone)."""
    http, udp_port = PORTS["http"] + 10, PORTS["udp"] + 10
    d = Ticketd(name="ticketd-sse-ping", extra_args=[
        "--http-port", str(http), "--udp-port", str(udp_port),
        "--state-dir", os.path.join(RUN_DIR, "ticketd-sse-ping"),
        "--redis-port", "1", "--sse-ping-seconds", "1", "--sse-max-clients", "2"])
    d.base = f"http://127.0.0.1:{http}"
    d.start(wait_ready=False)
    try:
        event_id = requests.get(d.base + "/api/events", timeout=5).json()[0]["id"]
        s1 = Stream(http, event_id)
        assert s1.next()["event"] == "snapshot"
        t0 = time.monotonic()
        pings = []
        while len(pings) < 2:
            ev = s1.next(timeout=2.5, comments=True)
            if ev.get("comment") == "ping":
                pings.append(time.monotonic() - t0)
        assert pings[1] < 3.0, pings
        s2 = Stream(http, event_id)
        assert s2.next()["event"] == "snapshot"
        r = requests.get(f"{d.base}/api/events/{event_id}/seats/stream", timeout=5)
        assert_error(r, 503, "TOO_MANY_STREAMS")
        s1.close()
        # The hub sees the hang-up and frees the slot without waiting for a ping.
        assert wait_until(lambda: metric(d.base, "ticketd_sse_subscribers") == 1, 3)
        s3 = Stream(http, event_id)
        assert s3.next()["event"] == "snapshot"
        s2.close()
        # Stopping with an open (suspended) stream ends it cleanly.
        assert d.stop() == 0, d.log_tail()
        with pytest.raises(EOFError):
            while True:
                s3.next(timeout=5)
        assert s3.ended
        s3.close()
    finally:
        d.stop()


def test_a_thousand_subscribers_all_get_a_change_within_1s(api):
    n = 1000
    if resource.getrlimit(resource.RLIMIT_NOFILE)[0] < 2 * n + 200:
        pytest.skip("needs ulimit -n of at least 2200 (client and ticketd)")
    # A 10 x 10 demo event keeps the thousand snapshots small; the seat
    # is released again at the end.
    event = [e for e in requests.get(api.base + "/api/events", timeout=5).json()
             if e["rows"] * e["cols"] == 100][-1]
    base_subs = metric(api.base, "ticketd_sse_subscribers")
    sel = selectors.DefaultSelector()
    streams = []
    for _ in range(n):
        s = Stream(PORTS["http"], event["id"], connect=False)
        s.sock.setblocking(False)
        s.sock.connect_ex(("127.0.0.1", PORTS["http"]))
        sel.register(s.sock, selectors.EVENT_WRITE, s)
        streams.append(s)
    pending_send, have_snapshot, t_seen = set(streams), set(), {}
    sess = new_session(api.base)
    seat = None
    t0 = None
    deadline = time.monotonic() + 30
    while len(t_seen) < n and time.monotonic() < deadline:
        if seat is None and len(have_snapshot) == n:
            avail = requests.get(f"{api.base}/api/events/{event['id']}/seats",
                                 timeout=5).json()["seats"]
            seat = [x["id"] for x in avail if x["status"] == "AVAILABLE"][0]
            t0 = time.monotonic()
            assert hold(api.base, sess["token"], event["id"], [seat]).status_code == 201
        for key, mask in sel.select(timeout=0.2):
            s = key.data
            if s in pending_send:
                s.sock.send(s.request)
                pending_send.discard(s)
                sel.modify(s.sock, selectors.EVENT_READ, s)
                continue
            try:
                data = s.sock.recv(65536)
            except BlockingIOError:
                continue
            s.feed(data)
            while s.events:
                ev = s.events.popleft()
                if ev.get("event") == "snapshot":
                    have_snapshot.add(s)
                elif (ev.get("event") == "seat" and seat is not None and
                      ev["json"]["seatId"] == seat and ev["json"]["status"] == "HELD"):
                    t_seen.setdefault(s, time.monotonic())
            if s.ended:
                sel.unregister(s.sock)
    assert len(have_snapshot) == n, f"only {len(have_snapshot)} snapshots"
    assert metric(api.base, "ticketd_sse_subscribers") >= base_subs + n
    assert len(t_seen) == n, f"only {len(t_seen)} of {n} saw the change"
    slowest = max(t_seen.values()) - t0
    assert slowest < 1.0, f"slowest subscriber got the change after {slowest:.3f}s"
    sel.close()
    for s in streams:
        s.close()
    requests.delete(f"{api.base}/api/reservations/{event['id']}/{seat}",
                    headers=auth(sess["token"]), timeout=5)
    # Hang-ups are noticed without a ping.
    assert wait_until(lambda: metric(api.base, "ticketd_sse_subscribers") <= base_subs, 5)
