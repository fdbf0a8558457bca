"""Per-address limits and the request deadline against hostile clients:
session creation rate (429 RATE_LIMITED + Retry-After), open seat streams
(429 TOO_MANY_STREAMS), connections per address, and the deadline for a
whole request (a client trickling bytes is cut; a bystander stays fast).

The session's ticketd runs with generous limits (conftest.py); this module
restarts it with low ones and restores it afterwards. The "other client" is
the same machine from source address 127.0.0.2, which must be unaffected.
"""
import http.client
import select
import signal
import socket
import time

import pytest
import requests

from conftest import PORTS, assert_error

SESSION_BURST = 3
STREAMS_PER_ADDR = 2
CONNS_PER_ADDR = 300
DEADLINE_MS = 3000
LOW_LIMITS = [
    "--session-rate-per-addr", "1", "--session-burst-per-addr", str(SESSION_BURST),
    "--sse-max-streams-per-addr", str(STREAMS_PER_ADDR),
    "--http-max-connections-per-addr", str(CONNS_PER_ADDR),
    "--http-header-timeout-ms", str(DEADLINE_MS),
    "--sse-ping-seconds", "1",
]
OTHER = "127.0.0.2"


def restart(ticketd, *extra):
    ticketd.stop(signal.SIGTERM)
    base_args = ticketd.args[:ticketd.args.index("--log-level") + 2]
    ticketd.args = base_args + list(extra)
    ticketd.start()


@pytest.fixture(scope="module")
def limited(ticketd):
    restart(ticketd, *LOW_LIMITS)
    yield ticketd
    restart(ticketd)


def request(method, path, source=None, body=None, timeout=5):
    """One request on a fresh connection from source (an address of ours);
    returns (status, headers, body bytes)."""
    c = http.client.HTTPConnection("127.0.0.1", PORTS["http"], timeout=timeout,
                                   source_address=(source, 0) if source else None)
    try:
        c.request(method, path, body=body)
        r = c.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        c.close()


def connect(source="127.0.0.1"):
    s = socket.create_connection(("127.0.0.1", PORTS["http"]), timeout=5,
                                 source_address=(source, 0))
    return s


def first_event_id(base):
    return requests.get(base + "/api/events", timeout=5).json()[0]["id"]


def open_stream(event_id, source="127.0.0.1"):
    """A seat stream on a raw socket; returns (socket, status, head bytes)."""
    s = connect(source)
    s.sendall(f"GET /api/events/{event_id}/seats/stream HTTP/1.1\r\n"
              f"Host: x\r\nAccept: text/event-stream\r\n\r\n".encode())
    head = b""
    deadline = time.monotonic() + 5
    while b"\r\n\r\n" not in head and time.monotonic() < deadline:
        chunk = s.recv(4096)
        if not chunk:
            break
        head += chunk
    status = int(head.split(b" ", 2)[1]) if head.startswith(b"HTTP/") else 0
    return s, status, head


def closed_by_server(s, wait=2.0):
    """True if the server closed s (EOF or reset) within wait seconds
    without sending a response."""
    s.settimeout(wait)
    try:
        data = s.recv(4096)
    except (ConnectionResetError, BrokenPipeError):
        return True
    except socket.timeout:
        return False
    return data == b""


# ---- POST /api/sessions: per-address token bucket ----

def test_session_creation_over_the_burst_is_429_with_retry_after(limited):
    for _ in range(SESSION_BURST):
        status, _, body = request("POST", "/api/sessions")
        assert status == 201, body
    r = requests.post(limited.base + "/api/sessions", timeout=5)
    body = assert_error(r, 429, "RATE_LIMITED")
    assert r.headers["Retry-After"] == "1"  # 1/s: one token within a second
    assert "X-Content-Type-Options" in r.headers
    # another address has its own bucket
    status, _, body = request("POST", "/api/sessions", source=OTHER)
    assert status == 201, body
    # after Retry-After seconds the first address may create one again
    time.sleep(int(r.headers["Retry-After"]))
    status, _, body = request("POST", "/api/sessions")
    assert status == 201, body


# ---- seat streams per address ----

def test_stream_cap_per_address_and_a_closed_stream_frees_its_place(limited):
    ev = first_event_id(limited.base)
    held = []
    try:
        for _ in range(STREAMS_PER_ADDR):
            s, status, head = open_stream(ev)
            held.append(s)
            assert status == 200, head
        r = requests.get(f"{limited.base}/api/events/{ev}/seats/stream", timeout=5)
        assert_error(r, 429, "TOO_MANY_STREAMS")
        assert int(r.headers["Retry-After"]) >= 1
        # another address is unaffected
        s, status, head = open_stream(ev, source=OTHER)
        held.append(s)
        assert status == 200, head
        # the first address gets a place back when one of its streams ends
        held.pop(0).close()
        deadline = time.monotonic() + 5
        while True:
            s, status, head = open_stream(ev)
            held.append(s)
            if status == 200 or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert status == 200, head
    finally:
        for s in held:
            s.close()


def test_a_stream_refused_after_its_place_was_taken_gives_it_back(limited):
    """The place is taken before the hub is asked; a hub refusal (here: no
    such event) must hand it back, or a few 404s lock an address out."""
    ev = first_event_id(limited.base)
    for _ in range(STREAMS_PER_ADDR * 3):
        r = requests.get(f"{limited.base}/api/events/4000000000/seats/stream",
                         timeout=5)
        assert_error(r, 404, "EVENT_NOT_FOUND")
    held = []
    try:
        # earlier tests' streams may take a moment to end and give theirs back
        deadline = time.monotonic() + 5
        while len(held) < STREAMS_PER_ADDR:
            s, status, head = open_stream(ev)
            if status == 200:
                held.append(s)
                continue
            s.close()
            assert time.monotonic() < deadline, head
            time.sleep(0.1)
    finally:
        for s in held:
            s.close()


def test_stream_outlives_the_request_deadline(limited):
    """Streams got their request: the deadline never cuts them."""
    ev = first_event_id(limited.base)
    s, status, head = open_stream(ev)
    try:
        assert status == 200, head
        time.sleep(DEADLINE_MS / 1000 + 1)
        s.settimeout(3)
        got = s.recv(4096)  # a ping every second
        assert got, "the stream was closed"
        time.sleep(0.1)
        assert b"ping" in got + s.recv(4096)
    finally:
        s.close()


# ---- connections per address ----

def test_connection_cap_per_address_spares_other_addresses(limited):
    held = []
    try:
        for _ in range(CONNS_PER_ADDR):
            held.append(connect())
        # every one of them is served (and kept alive)
        for s in held[:5] + held[-5:]:
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            assert s.recv(4096).startswith(b"HTTP/1.1 200")
        extra = connect()
        extra.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        assert closed_by_server(extra), "connection over the cap was served"
        extra.close()
        status, _, _ = request("GET", "/healthz", source=OTHER)
        assert status == 200
        # one closes: the address gets a place back
        held.pop().close()
        deadline = time.monotonic() + 2
        served = False
        while not served and time.monotonic() < deadline:
            try:
                status, _, _ = request("GET", "/healthz", timeout=1)
                served = status == 200
            except (ConnectionError, http.client.HTTPException, OSError):
                time.sleep(0.05)
        assert served
    finally:
        for s in held:
            s.close()


# ---- the request deadline ----

def test_trickled_request_is_cut_at_the_deadline_and_bystanders_are_served(limited):
    s = connect()
    start = time.monotonic()
    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
    cut_at = None
    bystander = []
    try:
        # one byte every 100 ms keeps libmicrohttpd's inactivity timeout away
        while time.monotonic() - start < DEADLINE_MS / 1000 + 3:
            try:
                s.sendall(b"a")
            except (BrokenPipeError, ConnectionResetError):
                cut_at = time.monotonic() - start
                break
            r, _, _ = select.select([s], [], [], 0)
            if r:
                try:
                    data = s.recv(4096)
                except ConnectionResetError:
                    data = b""
                assert data == b"", f"a response to an unfinished request: {data!r}"
                cut_at = time.monotonic() - start
                break
            t0 = time.monotonic()
            status, _, _ = request("GET", "/healthz", source=OTHER)
            bystander.append((status, time.monotonic() - t0))
            time.sleep(0.1)
    finally:
        s.close()
    assert cut_at is not None, "the trickling client was never cut"
    assert DEADLINE_MS / 1000 - 0.2 <= cut_at <= DEADLINE_MS / 1000 + 1.5, cut_at
    assert all(st == 200 for st, _ in bystander)
    assert max(t for _, t in bystander) < 1.0


def test_a_body_that_never_completes_is_cut_at_the_deadline(limited):
    s = connect()
    start = time.monotonic()
    s.sendall(b"POST /api/sessions HTTP/1.1\r\nHost: x\r\n"
              b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{")
    try:
        cut = False
        while not cut and time.monotonic() - start < DEADLINE_MS / 1000 + 3:
            try:
                s.sendall(b" ")
            except (BrokenPipeError, ConnectionResetError):
                cut = True
                break
            cut = closed_by_server(s, wait=0.2)
        elapsed = time.monotonic() - start
    finally:
        s.close()
    assert cut and elapsed >= DEADLINE_MS / 1000 - 0.2, elapsed


def test_metrics_count_refusals_and_deadline_closes(limited):
    text = requests.get(limited.base + "/metrics", timeout=5).text
    values = {}
    for line in text.splitlines():
        if line.startswith("ticketd_http_limited_total") or \
                line.startswith("ticketd_http_deadline_closes_total"):
            name, value = line.rsplit(" ", 1)
            values[name] = float(value)
    assert values['ticketd_http_limited_total{limit="session_rate"}'] >= 1
    assert values['ticketd_http_limited_total{limit="streams_per_addr"}'] >= 1
    assert values["ticketd_http_deadline_closes_total"] >= 2


def test_hundreds_of_slow_connections_leave_a_bystander_fast(limited):
    n = 250
    slow = []
    try:
        for _ in range(n):
            s = connect()
            s.sendall(b"GET /api/events HTTP/1.1\r\nHost: x\r\n")
            s.setblocking(False)
            slow.append(s)
        lat = []
        start = time.monotonic()
        with requests.Session() as b:
            b.mount("http://", SourceAdapter(OTHER))
            while time.monotonic() - start < DEADLINE_MS / 1000 - 0.5:
                for s in slow[len(lat) % 10::10]:  # each trickles now and then
                    try:
                        s.send(b"X")
                    except OSError:
                        pass
                t0 = time.monotonic()
                r = b.get(limited.base + "/api/events", timeout=5)
                lat.append(time.monotonic() - t0)
                assert r.status_code == 200
        lat.sort()
        p99 = lat[int(len(lat) * 0.99) - 1]
        print(f"bystander: {len(lat)} requests beside {n} slow connections, "
              f"p50 {lat[len(lat) // 2] * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms")
        assert p99 < 0.1
        # and every slow connection is gone shortly after the deadline
        time.sleep(max(0.0, start + DEADLINE_MS / 1000 + 1.5 - time.monotonic()))
        gone = 0
        for s in slow:
            s.setblocking(True)
            gone += closed_by_server(s, wait=0.5)
        assert gone == n
    finally:
        for s in slow:
            s.close()


class SourceAdapter(requests.adapters.HTTPAdapter):
    """Binds requests' connections to one local address."""

    def __init__(self, source, **kw):
        self.source = source
        super().__init__(**kw)

    def init_poolmanager(self, *args, **kw):
        kw["source_address"] = (self.source, 0)
        super().init_poolmanager(*args, **kw)
