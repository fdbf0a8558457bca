"""Fixtures for black-box tests against a real ticketd backed by real Redis,
MariaDB and Kafka. tests/run_all.sh starts those services (infra/services.sh)
under RUN_DIR with the test ports below and stops them afterwards; this file
starts and stops ticketd itself."""
import json
import os
import signal
import subprocess
import time

import pytest
import requests

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
RUN_DIR = os.environ.get("RUN_DIR", os.path.join(ROOT, ".run-test"))
PORTS = {
    "redis": int(os.environ.get("REDIS_PORT", "6390")),
    "mariadb": int(os.environ.get("MARIADB_PORT", "3317")),
    "kafka": int(os.environ.get("KAFKA_PORT", "9102")),
    "http": int(os.environ.get("TICKETD_TEST_HTTP_PORT", "18080")),
    "udp": int(os.environ.get("TICKETD_TEST_UDP_PORT", "17000")),
    "paymentd": int(os.environ.get("PAYMENTD_TEST_PORT", "18085")),
}
PAYMENT_DEADLINE_SECONDS = 15
PIN_DIR = os.environ.get("TICKETD_TEST_PIN_DIR", "/sys/fs/bpf/ticket-test")
# TICKETD_BIN: another build, e.g. build/asan/ticketd (tests/integration/run.sh --asan)
TICKETD = os.environ.get("TICKETD_BIN") or os.path.join(ROOT, "build", "ticketd")
GENEROUS_LIMITS = ("--session-rate-per-addr", "100000",
                   "--session-burst-per-addr", "100000",
                   "--sse-max-streams-per-addr", "100000",
                   "--http-max-connections-per-addr", "0")


def metric(base, name, **labels):
    """The value of the series `name` in the /metrics at base (ticketd's or
    paymentd's); None when it is not there. The labels are either part of
    `name` as printed or given as keywords, in the order they are printed:
    metric(base, "ticketd_room_rate", event="4")."""
    if labels:
        name += "{" + ",".join(f'{k}="{v}"' for k, v in labels.items()) + "}"
    for line in requests.get(base + "/metrics", timeout=5).text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    return None

class Ticketd:
    """A ticketd process with its log captured in RUN_DIR/logs."""

    def __init__(self, extra_args=(), name="ticketd"):
        # direct: ticketd's own port. base: where the tests send requests,
        # the same unless TICKETD_TEST_BASE_URL names a proxy in front of
        # it (tests/ops/test_nginx.sh runs a subset of the suite through
        # nginx that way).
        self.direct = f"http://127.0.0.1:{PORTS['http']}"
        self.base = os.environ.get("TICKETD_TEST_BASE_URL", "").rstrip("/") or self.direct
        self.log_path = os.path.join(RUN_DIR, "logs", f"{name}.log")
        self.args = [
            TICKETD,
            "--http-port", str(PORTS["http"]),
            "--db-port", str(PORTS["mariadb"]),
            "--redis-port", str(PORTS["redis"]),
            "--kafka-bootstrap", f"127.0.0.1:{PORTS['kafka']}",
            "--udp-port", str(PORTS["udp"]),
            "--state-dir", os.path.join(RUN_DIR, "ticketd"),
            "--pin-dir", PIN_DIR,
            "--hold-path", "socket",
            "--demo-data",
            "--payment-url", f"http://127.0.0.1:{PORTS['paymentd']}",
            "--payment-timeout-ms", "1000",
            "--payment-deadline-seconds", str(PAYMENT_DEADLINE_SECONDS),
            "--dev-mode",
            # The suites create many sessions and streams from 127.0.0.1:
            # generous per-address limits here, not weaker defaults
            # (test_http_limits.py tests the limits themselves).
            *GENEROUS_LIMITS,
            # every test session comes from 127.0.0.1: the per-address hold
            # limit is on only in the tests of it (test_hold_limits.py)
            "--origin-hold-limit", "0",
            # the suite sends many requests from 127.0.0.1; the default
            # per-source limit (500/s) is for real clients
            "--udp-rate-limit", "100000", "--udp-rate-burst", "100000",
            # last of the base arguments: tests that restart ticketd keep
            # everything up to here (test_recovery, test_http_limits)
            "--log-level", "debug",
            *extra_args,
        ]
        self.proc = None

    def own_url(self):
        """ticketd's own address: the last --http-port of its arguments
        (a test may run one on another port and point base at it)."""
        ports = [self.args[i + 1] for i, a in enumerate(self.args[:-1]) if a == "--http-port"]
        return f"http://127.0.0.1:{ports[-1]}" if ports else self.direct

    def start(self, wait_ready=True, timeout=30):
        os.makedirs(os.path.dirname(self.log_path), exist_ok=True)
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.args, stdout=log, stderr=log, cwd=ROOT)
        deadline = time.monotonic() + timeout
        want = "/readyz" if wait_ready else "/healthz"
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"ticketd exited with {self.proc.returncode}; "
                                   f"see {self.log_path}:\n{self.log_tail()}")
            try:
                if requests.get(self.own_url() + want, timeout=1).status_code == 200:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"ticketd not ready in {timeout}s:\n{self.log_tail()}")

    def stop(self, sig=signal.SIGTERM, timeout=10):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode if self.proc else None

    def log_tail(self, n=30):
        try:
            with open(self.log_path, "rb") as f:
                return b"".join(f.readlines()[-n:]).decode(errors="replace")
        except OSError:
            return "(no log)"

    def log_lines(self):
        with open(self.log_path, "rb") as f:
            return [json.loads(line) for line in f if line.startswith(b"{")]


def infra(*args):
    """Runs an infra/ script with the test environment."""
    env = dict(os.environ, RUN_DIR=RUN_DIR, REDIS_PORT=str(PORTS["redis"]),
               MARIADB_PORT=str(PORTS["mariadb"]), KAFKA_PORT=str(PORTS["kafka"]))
    subprocess.run(["bash", os.path.join(ROOT, "infra", args[0]), *args[1:]],
                   check=True, env=env, cwd=ROOT, timeout=180)


TEST_EVENTS = [("Test Arena A", 40, 50), ("Test Arena B", 40, 50)]


def ensure_test_events():
    """Adds two big events for the tests (beside the demo ones) once."""
    have = mariadb_sql("SELECT COUNT(*) FROM events WHERE name LIKE 'Test Arena %'")
    if int(have.strip()) >= len(TEST_EVENTS):
        return False
    for name, rows, cols in TEST_EVENTS:
        mariadb_sql(
            f"INSERT INTO events (name, venue, starts_at, seat_rows, seat_cols) "
            f"VALUES ('{name}', 'Test Hall', '2030-01-01 20:00:00', {rows}, {cols}); "
            f"INSERT INTO seats (event_id, seat_id, r, c, label, price) "
            f"SELECT LAST_INSERT_ID(), seq, seq DIV {cols}, seq MOD {cols}, "
            f"CONCAT('T', seq), 1000 + (seq DIV {cols}) * 10 "
            f"FROM seq_0_to_{rows * cols - 1}")
    return True


class Paymentd:
    """The simulated gateway that ticketd calls in the tests."""

    def __init__(self, name="paymentd"):
        self.proc = None
        self.log_path = os.path.join(RUN_DIR, "logs", name + ".log")
        self.args = []  # extra settings (test_payment_faults.py changes them)

    def start(self, *extra):
        """extra: settings for this start only (a later one wins)."""
        os.makedirs(os.path.dirname(self.log_path), exist_ok=True)
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [os.path.join(ROOT, "build", "paymentd"), "--port", str(PORTS["paymentd"]),
             "--delay_min_ms", "20", "--delay_max_ms", "60", *self.args, *extra],
            stdout=log, stderr=log)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                requests.get(f"http://127.0.0.1:{PORTS['paymentd']}/healthz", timeout=1)
                return self
            except requests.RequestException:
                time.sleep(0.05)
        raise RuntimeError("paymentd did not start")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)


@pytest.fixture(scope="session")
def paymentd():
    p = Paymentd().start()
    yield p
    p.stop()


@pytest.fixture(scope="session")
def ticketd(paymentd):
    d = Ticketd().start()
    if ensure_test_events():  # the catalogue is loaded at start
        d.stop()
        d.start()
    yield d
    d.stop()


class SeatAllocator:
    """Hands each test AVAILABLE seats no earlier test of this run used (a
    run over an old .run-test/ skips what earlier runs left held or sold)."""

    def __init__(self, base, event_id, n_seats):
        self.base, self.event_id, self.n_seats, self.next = base, event_id, n_seats, 0

    def take(self, n):
        seats = requests.get(f"{self.base}/api/events/{self.event_id}/seats",
                             timeout=5).json()["seats"]
        ids = []
        while len(ids) < n:
            assert self.next < self.n_seats, "test arena exhausted"
            if seats[self.next]["status"] == "AVAILABLE":
                ids.append(self.next)
            self.next += 1
        return ids


@pytest.fixture(scope="session")
def arena(ticketd):
    events = requests.get(ticketd.base + "/api/events", timeout=5).json()
    a = [e for e in events if e["name"] == "Test Arena A"][0]
    return SeatAllocator(ticketd.base, a["id"], a["rows"] * a["cols"])


@pytest.fixture(scope="session")
def arena_b(ticketd):
    events = requests.get(ticketd.base + "/api/events", timeout=5).json()
    b = [e for e in events if e["name"] == "Test Arena B"][0]
    return SeatAllocator(ticketd.base, b["id"], b["rows"] * b["cols"])


@pytest.fixture(scope="session")
def api(ticketd):
    s = requests.Session()
    s.base = ticketd.base
    return s


@pytest.fixture
def session_token(api):
    r = requests.post(api.base + "/api/sessions", timeout=5)
    assert r.status_code == 201, r.text
    return r.json()


def assert_error(r, status, code):
    """The contract's error shape, with traceId equal to the Trace-Id header."""
    assert r.status_code == status, (r.status_code, r.text)
    body = r.json()
    assert body["code"] == code, body
    assert isinstance(body["message"], str) and body["message"]
    assert body["traceId"] == r.headers["Trace-Id"]
    return body


# ---- UDP hold protocol v1 (docs/protocol.md) ----
import socket
import struct

UDP_OPS = {"HOLD": 1, "RELEASE": 2, "EXTEND": 3, "QUERY": 4}
UDP_STATUS = ["OK", "TAKEN", "SOLD", "NO_SUCH_SEAT", "NOT_HOLDER", "BAD_CREDENTIAL",
              "RATE_LIMITED", "LIMIT_EXCEEDED", "MALFORMED", "WRONG_NODE",
              "NOT_ADMITTED"]


def udp_packet(op, event_id, seat_id, token_hex, secs=0, req_id=1):
    return struct.pack(">HBBIII16sH6x", 0x5458, 1, UDP_OPS[op], req_id, event_id,
                       seat_id, bytes.fromhex(token_hex), secs)


_M64 = (1 << 64) - 1


def _rotl(x, b):
    return ((x << b) | (x >> (64 - b))) & _M64


def siphash24(key16, msg):
    """SipHash-2-4 of msg (a multiple of 8 bytes here) under a 16-byte key,
    the 64-bit result as an integer (bpf/session_token.h)."""
    k0, k1 = struct.unpack("<QQ", key16)
    v = [0x736f6d6570736575 ^ k0, 0x646f72616e646f6d ^ k1,
         0x6c7967656e657261 ^ k0, 0x7465646279746573 ^ k1]

    def rnd():
        v[0] = (v[0] + v[1]) & _M64; v[1] = _rotl(v[1], 13); v[1] ^= v[0]
        v[0] = _rotl(v[0], 32)
        v[2] = (v[2] + v[3]) & _M64; v[3] = _rotl(v[3], 16); v[3] ^= v[2]
        v[0] = (v[0] + v[3]) & _M64; v[3] = _rotl(v[3], 21); v[3] ^= v[0]
        v[2] = (v[2] + v[1]) & _M64; v[1] = _rotl(v[1], 17); v[1] ^= v[2]
        v[2] = _rotl(v[2], 32)

    assert len(msg) % 8 == 0
    for (m,) in struct.iter_unpack("<Q", msg):
        v[3] ^= m
        rnd(); rnd()
        v[0] ^= m
    b = (len(msg) & 0xff) << 56
    v[3] ^= b
    rnd(); rnd()
    v[0] ^= b
    v[2] ^= 0xff
    rnd(); rnd(); rnd(); rnd()
    return v[0] ^ v[1] ^ v[2] ^ v[3]


def udp_packet_v2(op, event_id, seat_id, token_hex, secs=0, req_id=1):
    """A version 2 request: session id (first 8 token bytes) and the MAC of
    bytes 0..31 keyed by the whole token (docs/protocol.md)."""
    tok = bytes.fromhex(token_hex)
    head = struct.pack(">HBBIII8sH6x", 0x5458, 2, UDP_OPS[op], req_id, event_id,
                       seat_id, tok[:8], secs)
    return head + struct.pack("<Q", siphash24(tok, head))


def udp_send(data, port=None, host="127.0.0.1", timeout=2.0):
    """Sends one datagram; returns the reply bytes or None on timeout."""
    port = port or PORTS["udp"]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        s.sendto(data, (host, port))
        try:
            return s.recvfrom(2048)[0]
        except socket.timeout:
            return None


def udp_parse(reply, version=1):
    magic, ver, op, req_id, ev, seat, status, counter, expiry = struct.unpack(
        ">HBBIIIB3xIQ", reply)
    assert magic == 0x5458 and ver == version and op & 0x80
    return {"op": op & 0x7f, "reqId": req_id, "eventId": ev, "seatId": seat,
            "status": UDP_STATUS[status], "counter": counter, "expiryMs": expiry}


def udp(op, event_id, seat_id, token_hex, secs=0, req_id=7, **kw):
    reply = udp_send(udp_packet(op, event_id, seat_id, token_hex, secs, req_id), **kw)
    assert reply is not None, "no UDP reply"
    return udp_parse(reply)


def udp_v2(op, event_id, seat_id, token_hex, req_id, secs=0, **kw):
    """One v2 request; request ids must grow per session (replay window)."""
    reply = udp_send(udp_packet_v2(op, event_id, seat_id, token_hex, secs, req_id),
                     **kw)
    assert reply is not None, "no UDP reply"
    return udp_parse(reply, version=2)


def new_session(base):
    r = requests.post(base + "/api/sessions", timeout=5)
    assert r.status_code == 201, r.text
    return r.json()


def auth(token):
    return {"Authorization": f"Bearer {token}"}


def mariadb_sql(sql):
    """Runs SQL on the test database with the mariadb client."""
    out = subprocess.run(
        ["mariadb", "-h", "127.0.0.1", "-P", str(PORTS["mariadb"]), "-u", "ticket",
         "-N", "-B", "ticketing", "-e", sql],
        env=dict(os.environ, MYSQL_PWD="ticket"),  # not in argv, where ps shows it
        check=True, capture_output=True, text=True, timeout=30)
    return out.stdout
