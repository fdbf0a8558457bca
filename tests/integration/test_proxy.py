"""ticketd behind nginx (infra/nginx.sh, infra/nginx/ticketing.conf,
docs/ops/nginx.md), black-box against a real nginx and a real ticketd:
streams arrive unbuffered, ticketd's per-address limits see the client's
address that the proxy forwards (--trusted-proxies) and ignore the header
from anyone else, admin routes are refused at the proxy, the proxy's own
rate limits and stream caps answer in ticketd's error shape, and the prior
design's /ticketing/* paths land on our routes.

nginx: when TICKETD_TEST_BASE_URL names a proxy (tests/ops/test_nginx.sh
started it) the tests use that one; otherwise they start one themselves on
port NGINX_TEST_PORT (default: ticketd's test port + 500) and stop it
afterwards. Without an nginx binary the module is skipped.

Clients are this machine from source addresses 127.0.0.x. The proxy runs
with its default limits except for 127.0.0.1, which they leave alone
(NGINX_LIMIT_EXEMPT) so that the suite run through it is not throttled;
every test of a limit uses its own source address. ticketd is restarted
with low session limits, 1 s pings and the proxy trusted; the module
restores its settings afterwards."""
import http.client
import itertools
import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.parse
import uuid

import pytest
import requests

from conftest import PORTS, ROOT, RUN_DIR, assert_error, auth
from test_sse import Stream

NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx")
                                  else None)
pytestmark = pytest.mark.skipif(NGINX is None, reason="nginx is not installed (make deps)")

SESSION_BURST = 3
TRUSTED = ["--trusted-proxies", "127.0.0.1",
           "--session-rate-per-addr", "1", "--session-burst-per-addr", str(SESSION_BURST),
           "--sse-ping-seconds", "1"]
UNTRUSTED = TRUSTED[2:]
# The proxy's defaults (infra/nginx.sh).
HOLD_BURST, ORDER_BURST, STREAMS_PER_ADDR, CONNS_PER_ADDR = 40, 10, 32, 64
ADMIN_KEY_PATH = os.path.join(RUN_DIR, "ticketd", "admin.key")

_sources = itertools.count(1)


def fresh_source():
    """A source address no other test of this module used (127.0.1.N)."""
    n = next(_sources)
    return f"127.0.{1 + n // 250}.{n % 250 + 1}"


def proxy_url():
    url = os.environ.get("TICKETD_TEST_BASE_URL", "").rstrip("/")
    if url:
        return url
    return f"http://127.0.0.1:{int(os.environ.get('NGINX_TEST_PORT', PORTS['http'] + 500))}"


def nginx_env(port):
    return dict(os.environ, RUN_DIR=RUN_DIR, NGINX_PORT=str(port),
                HTTP_PORT=str(PORTS["http"]), NGINX_WORKERS="1",
                NGINX_LIMIT_EXEMPT="127.0.0.1")


class Proxied:
    """The proxy in front of the session's ticketd, and ticketd's settings."""

    def __init__(self, ticketd):
        self.ticketd = ticketd
        self.base = proxy_url()
        u = urllib.parse.urlsplit(self.base)
        self.host, self.port = u.hostname, u.port or 80
        self.started_nginx = False
        self.extra = None

    def nginx(self, action):
        return subprocess.run(["bash", os.path.join(ROOT, "infra", "nginx.sh"), action],
                              env=nginx_env(self.port), cwd=ROOT, capture_output=True,
                              text=True, timeout=60)

    def use(self, extra):
        """ticketd runs with the suite's arguments plus extra."""
        if self.extra == list(extra):
            return
        self.ticketd.stop(signal.SIGTERM)
        self.start(extra)

    def start(self, extra):
        base_args = self.ticketd.args[:self.ticketd.args.index("--log-level") + 2]
        self.ticketd.args = base_args + list(extra)
        self.ticketd.start()
        self.extra = list(extra)

    def request(self, method, path, source="127.0.0.1", body=None, headers=None,
                direct=False, timeout=10):
        """One request on a fresh connection from source, through the proxy
        (or straight to ticketd); the path is sent as it is. Returns
        (status, headers with lower-case names, body)."""
        port = PORTS["http"] if direct else self.port
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout,
                                       source_address=(source, 0))
        try:
            if isinstance(body, (dict, list)):
                body = json.dumps(body)
            c.request(method, path, body=body, headers=headers or {})
            r = c.getresponse()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
        finally:
            c.close()

    def session(self, source=None):
        """A new session, created straight at ticketd from a fresh address
        (ticketd's session burst here is small and per address)."""
        status, _, body = self.request("POST", "/api/sessions", direct=True,
                                       source=source or fresh_source())
        assert status == 201, body
        return json.loads(body)


@pytest.fixture(scope="module")
def proxied(ticketd):
    p = Proxied(ticketd)
    if p.nginx("status").returncode != 0:
        r = p.nginx("start")
        assert r.returncode == 0, r.stdout + r.stderr
        p.started_nginx = True
    p.use(TRUSTED)
    yield p
    p.ticketd.stop(signal.SIGTERM)
    p.start([])
    if p.started_nginx:
        p.nginx("stop")


def error_of(status, headers, body, want_status, code):
    """ticketd's error shape, traceId equal to the Trace-Id header."""
    assert status == want_status, (status, body)
    assert headers["content-type"].startswith("application/json"), headers
    e = json.loads(body)
    assert e["code"] == code, e
    assert isinstance(e["message"], str) and e["message"]
    assert e["traceId"] == headers["trace-id"], (e, headers)
    assert len(e["traceId"]) == 32 and int(e["traceId"], 16) >= 0
    return e


def proxied_stream(p, path, last_event_id=None, source="127.0.0.1"):
    """A Stream (test_sse.py) through the proxy, from source."""
    s = Stream(p.port, None, last_event_id=last_event_id, connect=False, path=path)
    s.sock.bind((source, 0))
    s.sock.connect((p.host, p.port))
    s.sock.sendall(s.request)
    return s


def arena_seats(arena, n):
    return arena.event_id, arena.take(n)


# ---- streams through the proxy ----

def test_stream_through_the_proxy_is_unbuffered(proxied, arena):
    ev, (seat,) = arena_seats(arena, 1)
    t0 = time.monotonic()
    s = proxied_stream(proxied, f"/api/events/{ev}/seats/stream")
    try:
        first = s.next(timeout=1.0)  # the snapshot, within a second
        assert time.monotonic() - t0 < 1.0
        assert s.status == 200
        assert s.headers["content-type"].startswith("text/event-stream")
        assert s.headers.get("x-accel-buffering") == "no"
        assert first["event"] == "snapshot"
        v0 = int(first["id"])
        tok = proxied.session()["token"]
        t1 = time.monotonic()
        r = requests.post(proxied.base + "/api/reservations", headers=auth(tok),
                          json={"eventId": ev, "seatIds": [seat]}, timeout=5)
        assert r.status_code == 201, r.text
        change = s.next(timeout=1.0)
        assert time.monotonic() - t1 < 1.0
        assert change["event"] == "seat"
        assert change["json"] == {"seatId": seat, "status": "HELD", "version": v0 + 1}
    finally:
        s.close()


def test_pings_come_through_the_proxy(proxied, ticketd):
    # ticketd pings idle streams every second here (--sse-ping-seconds 1);
    # the last demo event sees no holds in these tests.
    ev = requests.get(ticketd.direct + "/api/events", timeout=5).json()[2]["id"]
    s = proxied_stream(proxied, f"/api/events/{ev}/seats/stream")
    try:
        assert s.next(timeout=1.0)["event"] == "snapshot"
        assert s.next(timeout=2.5, comments=True).get("comment") == "ping"
    finally:
        s.close()


def test_last_event_id_reaches_ticketd_through_the_proxy(proxied, arena):
    ev, (seat,) = arena_seats(arena, 1)
    a = proxied_stream(proxied, f"/api/events/{ev}/seats/stream")
    try:
        v0 = int(a.next(timeout=2)["id"])
        tok = proxied.session()["token"]
        assert requests.post(proxied.base + "/api/reservations", headers=auth(tok),
                             json={"eventId": ev, "seatId": seat},
                             timeout=5).status_code == 201
        a.seat_events_until(lambda e: e["json"]["seatId"] == seat, timeout=2)
    finally:
        a.close()
    b = proxied_stream(proxied, f"/api/events/{ev}/seats/stream", last_event_id=v0)
    try:
        replay = b.next(timeout=2)
        assert replay["event"] == "seat" and int(replay["id"]) == v0 + 1, replay
    finally:
        b.close()


# ---- the client's address ----

def test_ticketd_limits_each_client_behind_the_proxy_by_its_own_address(proxied):
    a, b = fresh_source(), fresh_source()
    for _ in range(SESSION_BURST):
        st, _, body = proxied.request("POST", "/api/sessions", source=a)
        assert st == 201, body
    e = error_of(*proxied.request("POST", "/api/sessions", source=a), 429, "RATE_LIMITED")
    assert "details" not in e  # ticketd's refusal, not the proxy's
    # Another client behind the same proxy still has its whole burst.
    st, _, body = proxied.request("POST", "/api/sessions", source=b)
    assert st == 201, body


def test_a_client_cannot_take_another_address_through_the_proxy(proxied):
    spent, mine = fresh_source(), fresh_source()
    for _ in range(SESSION_BURST):
        proxied.request("POST", "/api/sessions", source=spent)
    assert proxied.request("POST", "/api/sessions", source=spent)[0] == 429
    # Claiming the spent address changes nothing: the proxy says who it saw.
    st, _, body = proxied.request("POST", "/api/sessions", source=mine,
                                  headers={"X-Forwarded-For": spent, "X-Real-IP": spent})
    assert st == 201, body


def test_the_header_of_a_peer_that_is_not_a_trusted_proxy_is_ignored(proxied):
    spent, other = fresh_source(), fresh_source()
    for _ in range(SESSION_BURST):
        proxied.request("POST", "/api/sessions", source=spent, direct=True)
    assert proxied.request("POST", "/api/sessions", source=spent, direct=True)[0] == 429
    # Straight to ticketd from an address it does not trust: its own
    # address counts, whatever X-Forwarded-For says.
    hdr = {"X-Forwarded-For": spent}
    for _ in range(SESSION_BURST):
        st, _, body = proxied.request("POST", "/api/sessions", source=other,
                                      direct=True, headers=hdr)
        assert st == 201, body
    assert proxied.request("POST", "/api/sessions", source=other, direct=True,
                           headers={"X-Forwarded-For": fresh_source()})[0] == 429


def test_admin_loopback_check_uses_the_forwarded_address(proxied):
    with open(ADMIN_KEY_PATH) as f:
        key = f.read().strip()
    path = "/admin/events/1/room"
    st, _, body = proxied.request("GET", path, direct=True, headers=auth(key))
    assert st == 200, body
    # A trusted proxy (127.0.0.1) forwarding a remote client: not loopback.
    error_of(*proxied.request("GET", path, direct=True,
                              headers={**auth(key), "X-Forwarded-For": "198.51.100.7"}),
             403, "FORBIDDEN")


# ---- what the proxy refuses ----

def test_admin_routes_are_refused_at_the_proxy_however_spelled(proxied):
    with open(ADMIN_KEY_PATH) as f:
        key = f.read().strip()
    for path in ["/admin/events/1/room", "//admin/events/1/room",
                 "/api/../admin/events/1/room", "/%61dmin/events/1/room",
                 "/api/%2e%2e/admin/events/1/room", "/admin%2fevents/1/room"]:
        for method in ("GET", "PUT"):
            st, h, body = proxied.request(method, path, headers=auth(key),
                                          body={"enabled": False} if method == "PUT" else None)
            assert st in (403, 404), (path, method, st, body)
            error_of(st, h, body, st, "FORBIDDEN" if st == 403 else "NOT_FOUND")


def test_metrics_and_readiness_only_for_loopback_through_the_proxy(proxied):
    for path in ("/metrics", "/readyz"):
        assert proxied.request("GET", path)[0] == 200
        error_of(*proxied.request("GET", path, source=fresh_source()), 403, "FORBIDDEN")
    st, _, body = proxied.request("GET", "/healthz", source=fresh_source())
    assert st == 200 and json.loads(body) == {"status": "UP"}


def test_hold_rate_limit_per_address_at_the_proxy(proxied, arena):
    src, other = fresh_source(), fresh_source()
    bogus = auth("0" * 32)  # answered 401 by ticketd when it gets through
    body = {"eventId": arena.event_id, "seatId": 0}
    codes = [proxied.request("POST", "/api/reservations", source=src, body=body,
                             headers=bogus)[0] for _ in range(HOLD_BURST + 15)]
    assert set(codes[:HOLD_BURST]) == {401}, codes
    assert 429 in codes[HOLD_BURST:], codes
    st, h, b = proxied.request("POST", "/api/reservations", source=src, body=body,
                               headers=bogus)
    e = error_of(st, h, b, 429, "RATE_LIMITED")
    assert e["details"] == {"by": "proxy"} and h["retry-after"] == "1"
    # extend and release share the holds' limit; reads do not count
    assert proxied.request("DELETE", f"/api/reservations/{arena.event_id}/0",
                           source=src, headers=bogus)[0] == 429
    assert proxied.request("GET", "/api/reservations", source=src,
                           headers=bogus)[0] == 401
    # per address: another client is not affected
    assert proxied.request("POST", "/api/reservations", source=other, body=body,
                           headers=bogus)[0] == 401


def test_order_and_payment_rate_limit_per_address_at_the_proxy(proxied):
    src = fresh_source()
    bogus = {**auth("0" * 32), "Idempotency-Key": "k1"}
    codes = [proxied.request("POST", "/api/orders", source=src, headers=bogus,
                             body={"eventId": 1, "seatIds": [1]})[0]
             for _ in range(ORDER_BURST + 10)]
    assert set(codes[:ORDER_BURST]) == {401}, codes
    assert 429 in codes[ORDER_BURST:], codes
    # payments share the orders' limit
    e = error_of(*proxied.request("POST", "/api/payments/authorize", source=src,
                                  headers=bogus, body={"orderId": "x"}), 429, "RATE_LIMITED")
    assert e["details"] == {"by": "proxy"}


def stream_head(p, path, source):
    """Opens a stream through the proxy and reads its head: (socket,
    status, head and whatever body came with it)."""
    s = socket.create_connection((p.host, p.port), timeout=5, source_address=(source, 0))
    s.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n"
              .encode())
    data = b""
    deadline = time.monotonic() + 5
    while b"\r\n\r\n" not in data and time.monotonic() < deadline:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    status = int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/") else 0
    return s, status, data


def test_stream_cap_per_address_at_the_proxy(proxied):
    src, path = fresh_source(), "/api/events/1/seats/stream"
    socks = []
    try:
        for _ in range(STREAMS_PER_ADDR):
            s, status, _ = stream_head(proxied, path, src)
            socks.append(s)
            assert status == 200
        st, h, body = proxied.request("GET", path, source=src)
        e = error_of(st, h, body, 429, "TOO_MANY_STREAMS")
        assert e["details"] == {"by": "proxy"} and h["retry-after"] == "5"
        # another address is not affected
        s, status, _ = stream_head(proxied, path, fresh_source())
        socks.append(s)
        assert status == 200
        # a closed stream gives its place back
        socks.pop(0).close()
        deadline = time.monotonic() + 3
        while True:
            s, status, _ = stream_head(proxied, path, src)
            socks.append(s)
            if status == 200:
                break
            assert status == 429 and time.monotonic() < deadline, status
            time.sleep(0.1)
    finally:
        for s in socks:
            s.close()


def test_requests_in_progress_per_address_are_capped_at_the_proxy(proxied):
    # Requests whose body never comes stay in progress at the proxy.
    src, path = fresh_source(), "/api/events"
    socks = []
    try:
        for _ in range(CONNS_PER_ADDR):
            s = socket.create_connection((proxied.host, proxied.port), timeout=5,
                                         source_address=(src, 0))
            s.sendall(f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n"
                      .encode())
            socks.append(s)
        time.sleep(0.2)  # let nginx read every head
        e = error_of(*proxied.request("POST", path, source=src, body="{}"),
                     429, "RATE_LIMITED")
        assert e["details"] == {"by": "proxy"}
        # another address is served
        assert proxied.request("POST", path, source=fresh_source(), body="{}")[0] == 405
    finally:
        for s in socks:
            s.close()
    deadline = time.monotonic() + 3
    while proxied.request("POST", path, source=src, body="{}")[0] == 429:
        assert time.monotonic() < deadline, "closed requests kept their places"
        time.sleep(0.1)


def test_too_large_body_is_413_in_ticketds_shape(proxied):
    error_of(*proxied.request("POST", "/api/sessions", body="x" * 70000),
             413, "PAYLOAD_TOO_LARGE")


def test_proxy_answers_carry_the_trace_id_of_traceparent(proxied):
    tid = uuid.uuid4().hex
    tp = f"00-{tid}-00f067aa0ba902b7-01"
    st, h, body = proxied.request("GET", "/admin/events/1/room", headers={"traceparent": tp})
    assert error_of(st, h, body, 403, "FORBIDDEN")["traceId"] == tid
    st, h, _ = proxied.request("GET", "/api/events", headers={"traceparent": tp})
    assert st == 200 and h["trace-id"] == tid  # ticketd's, passed through


def test_query_strings_stay_out_of_the_access_log(proxied):
    # Room streams take the session token as ?token=: it must not be logged.
    secret = uuid.uuid4().hex
    assert proxied.request("GET", f"/api/events/1/room/stream?token={secret}")[0] == 401
    assert proxied.request("GET", f"/api/events?ticket={secret}")[0] == 200
    with open(os.path.join(RUN_DIR, "logs", "nginx-access.log")) as f:
        log = f.read()
    assert "/api/events/1/room/stream" in log
    assert secret not in log


def test_web_page_and_api_answers_are_ticketds(proxied, ticketd):
    for path in ("/", "/api/events/1", "/healthz", "/nope"):
        d = requests.get(ticketd.direct + path, timeout=5)
        p = requests.get(proxied.base + path, timeout=5)
        assert (p.status_code, p.headers["content-type"]) == \
            (d.status_code, d.headers["content-type"]), path
        if d.headers["content-type"].startswith("application/json"):
            pj, dj = p.json(), d.json()
            pj.pop("traceId", None), dj.pop("traceId", None)
            assert pj == dj, path
        else:
            assert p.content == d.content, path


# ---- /ticketing/*: the prior design's paths ----

def test_prior_design_catalog_paths(proxied):
    base = proxied.base
    ours = requests.get(base + "/api/events", timeout=5).json()
    for prefix in ("/ticketing/catalog", "/ticketing"):
        r = requests.get(base + prefix + "/api/events", timeout=5)
        assert r.status_code == 200 and [e["id"] for e in r.json()] == [e["id"] for e in ours]
        r = requests.get(base + prefix + "/api/events/1", timeout=5)
        assert r.status_code == 200 and r.json()["id"] == 1
        seats = requests.get(base + prefix + "/api/events/1/seats", timeout=5).json()
        assert {"rows", "cols", "seats"} <= seats.keys()
        assert {"id", "r", "c", "price", "status"} <= seats["seats"][0].keys()
    for prefix in ("/ticketing/catalog", "/ticketing/order", "/ticketing"):
        r = requests.get(base + prefix + "/actuator/health", timeout=5)
        assert r.status_code == 200 and r.json() == {"status": "UP"}
    assert_error(requests.get(base + "/ticketing/catalog/api/events/x", timeout=5),
                 400, "VALIDATION_FAILED")


def test_prior_design_stream_path_is_unbuffered(proxied):
    t0 = time.monotonic()
    s = proxied_stream(proxied, "/ticketing/catalog/api/events/1/seats/stream")
    try:
        assert s.next(timeout=1.0)["event"] == "snapshot"
        assert time.monotonic() - t0 < 1.0
        assert s.headers.get("x-accel-buffering") == "no"
    finally:
        s.close()


def test_prior_design_hold_order_and_payment_paths(proxied, arena):
    base = proxied.base
    ev, (s1, s2) = arena_seats(arena, 2)
    r = requests.post(base + "/ticketing/api/sessions", timeout=5)
    assert r.status_code == 201
    h = auth(proxied.session()["token"])
    # the prior design's hold body: one seatId and holdSeconds
    for prefix, seat in (("/ticketing/reservation", s1), ("/ticketing", s2)):
        r = requests.post(base + prefix + "/api/reservations", headers=h, timeout=5,
                          json={"eventId": ev, "seatId": seat, "holdSeconds": 60})
        assert r.status_code == 201, r.text
        assert r.json()["seatIds"] == [seat]  # ours: a list, not "seatId"
        r = requests.post(f"{base}{prefix}/api/reservations/{ev}/{seat}/extend",
                          headers=h, json={"seconds": 30}, timeout=5)
        assert r.status_code == 200 and "expiresAt" in r.json(), r.text
    r = requests.delete(f"{base}/ticketing/reservation/api/reservations/{ev}/{s2}",
                        headers=h, timeout=5)
    assert r.status_code == 204
    r = requests.post(base + "/ticketing/order/api/orders", timeout=10,
                      headers={**h, "Idempotency-Key": uuid.uuid4().hex},
                      json={"eventId": ev, "seatIds": [s1]})
    assert r.status_code == 201, r.text
    order = r.json()["orderId"]
    r = requests.get(f"{base}/ticketing/order/api/orders/{order}", headers=h, timeout=5)
    assert r.status_code == 200 and r.json()["status"] == "PENDING"
    r = requests.post(base + "/ticketing/payment/api/payments/authorize", headers=h,
                      json={"orderId": order, "simulate": "approve"}, timeout=15)
    assert r.status_code == 200 and r.json()["status"] == "APPROVED", r.text
    r = requests.get(f"{base}/ticketing/api/orders/{order}", headers=h, timeout=5)
    assert r.json()["status"] == "CONFIRMED"


def test_prior_design_paths_without_an_equivalent_are_404(proxied):
    base = proxied.base
    # the prior design had no sessions: its token-less calls are refused
    assert_error(requests.post(base + "/ticketing/reservation/api/reservations",
                               json={"eventId": 1, "seatId": 1, "holdSeconds": 60},
                               timeout=5), 401, "UNAUTHORIZED")
    h = auth(proxied.session()["token"])
    e = assert_error(requests.post(base + "/ticketing/reservation/api/reservations/1/1/confirm",
                                   headers=h, timeout=5), 404, "NOT_FOUND")
    assert "/api/orders" in e["message"]
    assert_error(requests.post(base + "/ticketing/api/internal/seat-update", timeout=5,
                               json={"eventId": 1, "seatId": 1, "status": "SOLD",
                                     "version": 6}), 404, "NOT_FOUND")
    # a service prefix reaches only that service's routes
    for path in ("/ticketing/catalog/api/orders/x", "/ticketing/order/api/events",
                 "/ticketing/payment/api/reservations", "/ticketing/admin/events/1/room",
                 "/ticketing/", "/ticketing"):
        assert_error(requests.get(base + path, timeout=5), 404, "NOT_FOUND")


# ---- ticketd away, and ticketd without trusted proxies (restarts it) ----

def test_ticketd_down_is_503_unavailable_in_ticketds_shape(proxied):
    proxied.ticketd.stop(signal.SIGTERM)
    try:
        st, h, body = proxied.request("GET", "/api/events")
        e = error_of(st, h, body, 503, "UNAVAILABLE")
        assert e["details"] == {"by": "proxy"} and h["retry-after"] == "1"
    finally:
        proxied.start(UNTRUSTED)


def test_without_trusted_proxies_clients_behind_the_proxy_share_its_address(proxied):
    # The default: the header is not believed; every client behind the
    # proxy counts as the proxy's own address, 127.0.0.1.
    proxied.use(UNTRUSTED)
    for _ in range(SESSION_BURST):
        proxied.request("POST", "/api/sessions", source=fresh_source())
    error_of(*proxied.request("POST", "/api/sessions", source=fresh_source()),
             429, "RATE_LIMITED")
