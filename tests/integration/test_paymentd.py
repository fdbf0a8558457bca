"""Black-box tests of paymentd, the simulated card gateway (build/paymentd).

Each test starts its own paymentd on a free local port (18084 when free) with
a fixed seed; the `paymentd` fixture kills every process it started, whatever
the outcome of the test. Needs nothing but the binary: no Redis, MariaDB or
Kafka."""
import concurrent.futures
import json
import os
import re
import signal
import socket
import subprocess
import threading
import time

import pytest
import requests

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
PAYMENTD = os.environ.get("PAYMENTD_BIN", os.path.join(ROOT, "build", "paymentd"))
PREFERRED_PORT = int(os.environ.get("PAYMENTD_TEST_PORT", "18084"))
PAYMENT_ID = re.compile(r"^pay_[0-9a-f]{16}$")

pytestmark = pytest.mark.skipif(not os.access(PAYMENTD, os.X_OK),
                                reason=f"{PAYMENTD} is not built")


def free_port():
    """PREFERRED_PORT if nobody listens there, else one the kernel picks."""
    for port in (PREFERRED_PORT, 0):
        s = socket.socket()
        try:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("127.0.0.1", port))
            return s.getsockname()[1]
        except OSError:
            continue
        finally:
            s.close()
    raise RuntimeError("no free port")


class Paymentd:
    def __init__(self, log_dir, args=(), env=None):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log_path = os.path.join(log_dir, f"paymentd-{self.port}-{time.monotonic_ns()}.log")
        self.args = [PAYMENTD, "--port", str(self.port), "--seed", "42", *args]
        self.env = dict(os.environ, **(env or {}))
        self.proc = None

    def start(self, timeout=10):
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(self.args, stdout=log, stderr=log,
                                         env=self.env, cwd=ROOT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"paymentd exited with {self.proc.returncode}:\n"
                                   f"{self.log_text()}")
            try:
                if requests.get(self.base + "/healthz", timeout=1).status_code == 200:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"paymentd not up in {timeout}s:\n{self.log_text()}")

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def stop(self, timeout=5):
        """SIGTERM, then SIGKILL if it is still there after timeout. Returns
        the exit status of a process that was running, else None."""
        if not self.proc or self.proc.poll() is not None:
            return None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            return self.proc.returncode

    def log_text(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode(errors="replace")
        except OSError:
            return "(no log)"

    def log_lines(self):
        return [json.loads(line) for line in self.log_text().splitlines() if line]

    def authorize(self, body, timeout=15, **kw):
        return requests.post(self.base + "/v1/authorize", json=body, timeout=timeout, **kw)

    def metrics(self):
        r = requests.get(self.base + "/metrics", timeout=5)
        assert r.status_code == 200
        assert r.headers["Content-Type"].startswith("text/plain")
        out = {}
        for line in r.text.splitlines():
            if line and not line.startswith("#"):
                name, value = line.rsplit(" ", 1)
                out[name] = float(value)
        return out


@pytest.fixture
def paymentd(tmp_path):
    """Factory: paymentd(*args, env=...) starts one; all are killed at the end."""
    started = []

    def start(*args, env=None, wait=True):
        p = Paymentd(str(tmp_path), args, env)
        started.append(p)
        return p.start() if wait else p

    unclean = []
    try:
        yield start
    finally:
        # Every process goes, whatever happened: SIGTERM first (so a clean
        # shutdown is checked on every test, sanitizer builds included),
        # SIGKILL when that does not work.
        for p in started:
            try:
                rc = p.stop()
            finally:
                p.kill()
            if rc not in (None, 0):
                unclean.append(f"exit {rc}:\n{p.log_text()[-3000:]}")
    if unclean:
        pytest.fail("paymentd did not stop cleanly on SIGTERM: " + "\n".join(unclean))


FAST = ("--delay-min-ms", "20", "--delay-max-ms", "40")


def assert_error(r, status, code):
    assert r.status_code == status, (r.status_code, r.text)
    assert r.headers["Content-Type"] == "application/json"
    body = r.json()
    assert set(body) == {"code", "message"}, body
    assert body["code"] == code, body
    assert isinstance(body["message"], str) and body["message"]
    return body


def test_healthz_answers_up(paymentd):
    p = paymentd(*FAST)
    r = requests.get(p.base + "/healthz", timeout=5)
    assert r.status_code == 200
    assert r.json() == {"status": "UP"}


def test_authorize_reply_has_the_contract_shape_after_the_delay(paymentd):
    p = paymentd("--delay-min-ms", "150", "--delay-max-ms", "200")
    t0 = time.monotonic()
    r = p.authorize({"orderId": "ord-shape", "amount": 4200, "currency": "EUR"})
    took = time.monotonic() - t0
    assert r.status_code == 200, r.text
    body = r.json()
    assert PAYMENT_ID.match(body["paymentId"]), body
    assert body["orderId"] == "ord-shape"
    assert body["status"] in ("APPROVED", "DECLINED")
    assert body["amount"] == 4200
    assert body["currency"] == "EUR"
    assert 0.15 <= took < 1.0, took


def test_currency_defaults_to_eur_and_is_echoed(paymentd):
    p = paymentd(*FAST)
    assert p.authorize({"orderId": "c1", "amount": 1}).json()["currency"] == "EUR"
    assert p.authorize({"orderId": "c2", "amount": 1, "currency": "USD"}).json()["currency"] == "USD"


def test_approve_ratio_roughly_honoured(paymentd):
    p = paymentd("--delay-min-ms", "0", "--delay-max-ms", "0")
    statuses = [p.authorize({"orderId": f"ratio-{i}", "amount": 100}).json()["status"]
                for i in range(400)]
    approved = statuses.count("APPROVED") / len(statuses)
    assert 0.72 <= approved <= 0.88, approved
    assert set(statuses) == {"APPROVED", "DECLINED"}


def test_approve_ratio_extremes(paymentd):
    all_yes = paymentd("--delay-min-ms", "0", "--delay-max-ms", "0", "--approve-ratio", "1")
    all_no = paymentd("--delay-min-ms", "0", "--delay-max-ms", "0", "--approve-ratio", "0")
    for i in range(50):
        assert all_yes.authorize({"orderId": f"y{i}", "amount": 1}).json()["status"] == "APPROVED"
        assert all_no.authorize({"orderId": f"n{i}", "amount": 1}).json()["status"] == "DECLINED"


def test_fixed_seed_decides_each_order_the_same_way_after_a_restart(paymentd):
    first = paymentd(*FAST)
    a = {i: first.authorize({"orderId": f"seeded-{i}", "amount": 5}).json() for i in range(30)}
    first.kill()
    second = paymentd(*FAST)
    # Asked in the opposite order: decisions depend on (seed, orderId) only.
    for i in reversed(range(30)):
        b = second.authorize({"orderId": f"seeded-{i}", "amount": 5}).json()
        assert (b["paymentId"], b["status"]) == (a[i]["paymentId"], a[i]["status"])


def test_simulate_forces_the_outcome(paymentd):
    # Ratios that would otherwise always give the other answer.
    yes = paymentd(*FAST, "--approve-ratio", "0")
    no = paymentd(*FAST, "--approve-ratio", "1")
    for i in range(10):
        r = yes.authorize({"orderId": f"sim-a-{i}", "amount": 1, "simulate": "approve"})
        assert r.status_code == 200 and r.json()["status"] == "APPROVED", r.text
        r = no.authorize({"orderId": f"sim-d-{i}", "amount": 1, "simulate": "decline"})
        assert r.status_code == 200 and r.json()["status"] == "DECLINED", r.text
    assert_error(no.authorize({"orderId": "sim-f", "amount": 1, "simulate": "fail"}),
                 503, "GATEWAY_ERROR")
    r = no.authorize({"orderId": "sim-n", "amount": 1, "simulate": None})
    assert r.status_code == 200 and r.json()["status"] == "APPROVED"


def test_simulate_approve_wins_over_fail_ratio(paymentd):
    p = paymentd(*FAST, "--fail-ratio", "1")
    r = p.authorize({"orderId": "forced", "amount": 1, "simulate": "approve"})
    assert r.status_code == 200 and r.json()["status"] == "APPROVED"


def test_repeat_returns_same_payment_immediately(paymentd):
    p = paymentd("--delay-min-ms", "300", "--delay-max-ms", "300")
    first = p.authorize({"orderId": "idem-1", "amount": 700})
    assert first.status_code == 200
    for _ in range(3):
        t0 = time.monotonic()
        again = p.authorize({"orderId": "idem-1", "amount": 700})
        assert time.monotonic() - t0 < 0.2
        assert again.status_code == 200
        assert again.json() == first.json()
    # A later "simulate" does not change a recorded decision.
    other = "decline" if first.json()["status"] == "APPROVED" else "approve"
    again = p.authorize({"orderId": "idem-1", "amount": 700, "simulate": other})
    assert again.json()["status"] == first.json()["status"]
    assert p.metrics()["paymentd_idempotent_replays_total"] == 4


def test_concurrent_repeats_of_one_order_agree(paymentd):
    p = paymentd("--delay-min-ms", "100", "--delay-max-ms", "150")
    with concurrent.futures.ThreadPoolExecutor(20) as pool:
        replies = list(pool.map(lambda _: p.authorize({"orderId": "same", "amount": 9}),
                                range(20)))
    assert all(r.status_code == 200 for r in replies)
    assert len({(r.json()["paymentId"], r.json()["status"]) for r in replies}) == 1


def test_gateway_error_is_not_recorded_so_a_retry_is_decided_afresh(paymentd):
    p = paymentd(*FAST)
    assert_error(p.authorize({"orderId": "retry-me", "amount": 3, "simulate": "fail"}),
                 503, "GATEWAY_ERROR")
    r = p.authorize({"orderId": "retry-me", "amount": 3})
    assert r.status_code == 200
    assert PAYMENT_ID.match(r.json()["paymentId"])


@pytest.mark.parametrize("body", [
    b"",
    b"{",
    b"not json",
    b'{"orderId":"a","amount":1',
    b'{"orderId":"a","amount":1} trailing',
    b'{"orderId":"a","orderId":"b","amount":1}',
    b"\xff\xfe",
])
def test_malformed_json_is_400(paymentd, body):
    p = paymentd(*FAST)
    r = requests.post(p.base + "/v1/authorize", data=body,
                      headers={"Content-Type": "application/json"}, timeout=5)
    assert_error(r, 400, "MALFORMED_JSON")


@pytest.mark.parametrize("body", [
    [],
    "a string",
    17,
    None,
    {},
    {"amount": 1},
    {"orderId": "a"},
    {"orderId": 12, "amount": 1},
    {"orderId": None, "amount": 1},
    {"orderId": "", "amount": 1},
    {"orderId": "x" * 129, "amount": 1},
    {"orderId": "a\u0000b", "amount": 1},
    {"orderId": "a", "amount": "1"},
    {"orderId": "a", "amount": 1.5},
    {"orderId": "a", "amount": True},
    {"orderId": "a", "amount": -1},
    {"orderId": "a", "amount": 10 ** 30},
    {"orderId": "a", "amount": 1, "currency": "eur"},
    {"orderId": "a", "amount": 1, "currency": "EURO"},
    {"orderId": "a", "amount": 1, "currency": 978},
    {"orderId": "a", "amount": 1, "simulate": "maybe"},
    {"orderId": "a", "amount": 1, "simulate": True},
])
def test_missing_or_wrong_typed_fields_are_422(paymentd, body):
    p = paymentd(*FAST)
    r = requests.post(p.base + "/v1/authorize", data=json.dumps(body), timeout=5,
                      headers={"Content-Type": "application/json"})
    assert_error(r, 422, "VALIDATION_FAILED")


def test_longest_order_id_and_zero_amount_are_accepted(paymentd):
    p = paymentd(*FAST)
    r = p.authorize({"orderId": "x" * 128, "amount": 0})
    assert r.status_code == 200, r.text
    assert r.json()["orderId"] == "x" * 128


def test_unicode_order_id_round_trips(paymentd):
    p = paymentd(*FAST)
    r = p.authorize({"orderId": "bestellung-é-🎟", "amount": 1})
    assert r.status_code == 200 and r.json()["orderId"] == "bestellung-é-🎟"


def test_huge_body_is_413(paymentd):
    p = paymentd(*FAST)
    big = json.dumps({"orderId": "big", "amount": 1, "pad": "x" * 100_000})
    r = requests.post(p.base + "/v1/authorize", data=big, timeout=10,
                      headers={"Content-Type": "application/json"})
    assert_error(r, 413, "PAYLOAD_TOO_LARGE")

    def chunks():
        for _ in range(40):
            yield b"x" * 1024

    r = requests.post(p.base + "/v1/authorize", data=chunks(), timeout=10)
    assert_error(r, 413, "PAYLOAD_TOO_LARGE")
    # Declared far too large: refused before the body is sent.
    with socket.create_connection(("127.0.0.1", p.port), timeout=5) as s:
        s.sendall(b"POST /v1/authorize HTTP/1.1\r\nHost: x\r\n"
                  b"Content-Type: application/json\r\nContent-Length: 50000000\r\n\r\n")
        head = s.recv(4096)
    assert head.startswith(b"HTTP/1.1 413 "), head
    # The service is fine afterwards.
    assert p.authorize({"orderId": "after-big", "amount": 1}).status_code == 200


def test_unknown_route_is_404_and_wrong_method_405(paymentd):
    p = paymentd(*FAST)
    assert_error(requests.get(p.base + "/nope", timeout=5), 404, "NOT_FOUND")
    assert_error(requests.post(p.base + "/v1/authorize/extra", json={}, timeout=5),
                 404, "NOT_FOUND")
    assert_error(requests.post(p.base + "/healthz", timeout=5), 404, "NOT_FOUND")
    assert_error(requests.get(p.base + "/v1/authorize", timeout=5), 405, "METHOD_NOT_ALLOWED")


def test_garbage_on_the_socket_does_not_crash_it(paymentd):
    p = paymentd(*FAST)
    for junk in (b"\x00\x01\x02\r\n\r\n", b"GET / HTTP/9.9\r\n\r\n",
                 b"POST /v1/authorize HTTP/1.1\r\nContent-Length: -5\r\n\r\n",
                 b"POST /v1/authorize HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n{",
                 b"A" * 70000 + b"\r\n\r\n"):
        with socket.create_connection(("127.0.0.1", p.port), timeout=1) as s:
            try:
                s.sendall(junk)
                s.shutdown(socket.SHUT_WR)
                s.recv(4096)
            except OSError:
                pass
    assert p.proc.poll() is None
    assert requests.get(p.base + "/healthz", timeout=5).status_code == 200


def test_200_concurrent_authorizations_do_not_block_each_other(paymentd):
    p = paymentd("--delay-min-ms", "200", "--delay-max-ms", "300")
    n = 200
    start = threading.Barrier(n + 1)

    def one(i):
        s = requests.Session()
        start.wait()
        return s.post(p.base + "/v1/authorize", json={"orderId": f"conc-{i}", "amount": i},
                      timeout=10)

    with concurrent.futures.ThreadPoolExecutor(n) as pool:
        futures = [pool.submit(one, i) for i in range(n)]
        start.wait()
        t0 = time.monotonic()
        replies = [f.result() for f in futures]
        took = time.monotonic() - t0
    assert all(r.status_code == 200 for r in replies), {r.status_code for r in replies}
    assert {r.json()["orderId"] for r in replies} == {f"conc-{i}" for i in range(n)}
    # Serially this would take 200 x 0.25 s = 50 s; with 4 blocking workers 12 s.
    assert took < 1.5, took
    m = p.metrics()
    assert m['paymentd_authorizations_total{outcome="approved"}'] + \
        m['paymentd_authorizations_total{outcome="declined"}'] == n
    assert m["paymentd_pending_authorizations"] == 0


def test_fail_ratio_one_answers_503(paymentd):
    p = paymentd(*FAST, "--fail-ratio", "1")
    for i in range(5):
        assert_error(p.authorize({"orderId": f"f{i}", "amount": 1}), 503, "GATEWAY_ERROR")
    # Still failing on retry: a gateway error is never recorded.
    assert_error(p.authorize({"orderId": "f0", "amount": 1}), 503, "GATEWAY_ERROR")
    m = p.metrics()
    assert m['paymentd_injected_failures_total{kind="gateway_error"}'] == 6
    assert m['paymentd_authorizations_total{outcome="gateway_error"}'] == 6


def test_settings_come_from_env_and_flags_win(paymentd):
    by_env = paymentd(*FAST, env={"PAYMENTD_FAIL_RATIO": "1"})
    assert_error(by_env.authorize({"orderId": "e1", "amount": 1}), 503, "GATEWAY_ERROR")
    flag_wins = paymentd(*FAST, "--fail_ratio=0", env={"PAYMENTD_FAIL_RATIO": "1"})
    assert flag_wins.authorize({"orderId": "e1", "amount": 1}).status_code == 200


@pytest.mark.parametrize("args", [
    ("--fail-ratio", "2"),
    ("--delay-min-ms", "500", "--delay-max-ms", "100"),
    ("--fail-ratio", "0.6", "--timeout-ratio", "0.6"),
    ("--no-such-setting", "1"),
    ("--port",),
    ("--port", "http"),
    ("--log-level", "loud"),
])
def test_bad_settings_exit_2_with_a_json_log_line(tmp_path, args):
    r = subprocess.run([PAYMENTD, *args], capture_output=True, timeout=10)
    assert r.returncode == 2, r
    line = json.loads(r.stderr.decode().strip().splitlines()[-1])
    assert line["level"] == "error" and "msg" in line


def test_port_in_use_is_an_error_not_a_shared_port(paymentd):
    p = paymentd(*FAST)
    r = subprocess.run([PAYMENTD, "--port", str(p.port)], capture_output=True, timeout=10)
    assert r.returncode == 1
    assert json.loads(r.stderr.decode().strip().splitlines()[-1])["level"] == "error"


def test_help_lists_every_setting():
    r = subprocess.run([PAYMENTD, "--help"], capture_output=True, timeout=10, text=True)
    assert r.returncode == 0
    for name in ("addr", "port", "delay_min_ms", "delay_max_ms", "approve_ratio",
                 "fail_ratio", "timeout_ratio", "timeout_hang_ms", "seed", "threads"):
        assert f"--{name.replace('_', '-')}" in r.stdout, name


def test_timeout_hangs_and_the_retry_gets_the_answer_at_once(paymentd):
    p = paymentd(*FAST, "--timeout-ratio", "1", "--timeout-hang-ms", "1500")
    # The caller gives up after 0.3 s, as ticketd would with its timeout...
    with pytest.raises(requests.Timeout):
        p.authorize({"orderId": "slow", "amount": 1}, timeout=0.3)
    assert p.metrics()["paymentd_pending_authorizations"] >= 0
    # ...and retries: the decision exists already, so it comes back at once.
    t0 = time.monotonic()
    r = p.authorize({"orderId": "slow", "amount": 1})
    assert time.monotonic() - t0 < 0.3
    assert r.status_code == 200 and PAYMENT_ID.match(r.json()["paymentId"])
    # A patient caller gets the answer after the hang.
    t0 = time.monotonic()
    r = p.authorize({"orderId": "patient", "amount": 1})
    assert 1.4 <= time.monotonic() - t0 < 3.0
    assert r.status_code == 200
    assert p.metrics()['paymentd_injected_failures_total{kind="timeout"}'] == 2


def test_pending_gauge_counts_waiting_authorizations(paymentd):
    p = paymentd("--delay-min-ms", "3000", "--delay-max-ms", "3000")
    with concurrent.futures.ThreadPoolExecutor(10) as pool:
        futures = [pool.submit(p.authorize, {"orderId": f"pend-{i}", "amount": 1})
                   for i in range(10)]
        deadline = time.monotonic() + 2.5
        while time.monotonic() < deadline:
            pending = p.metrics()["paymentd_pending_authorizations"]
            if pending == 10:
                break
            time.sleep(0.05)
        assert pending == 10
        assert all(f.result().status_code == 200 for f in futures)
    assert p.metrics()["paymentd_pending_authorizations"] == 0


def test_sigterm_stops_it_and_answers_pending_requests(paymentd):
    p = paymentd("--delay-min-ms", "5000", "--delay-max-ms", "5000")
    with concurrent.futures.ThreadPoolExecutor(5) as pool:
        futures = [pool.submit(p.authorize, {"orderId": f"term-{i}", "amount": 1})
                   for i in range(5)]
        time.sleep(0.3)
        t0 = time.monotonic()
        p.proc.send_signal(signal.SIGTERM)
        assert p.proc.wait(5) == 0
        assert time.monotonic() - t0 < 3
        # Waiting requests got their decision instead of a dropped connection.
        assert all(f.result().status_code == 200 for f in futures)
    msgs = [line["msg"] for line in p.log_lines()]
    # answered requests may log their line after "stopping"
    assert msgs[0] == "listening" and msgs[-1] == "stopped" and "stopping" in msgs


def test_sigint_stops_it_too(paymentd):
    p = paymentd(*FAST)
    p.proc.send_signal(signal.SIGINT)
    assert p.proc.wait(5) == 0


def test_logs_are_one_json_object_per_line(paymentd):
    p = paymentd(*FAST)
    p.authorize({"orderId": "logged", "amount": 1},
                headers={"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"})
    p.authorize({"orderId": 5, "amount": 1})
    p.proc.send_signal(signal.SIGTERM)
    p.proc.wait(5)
    lines = p.log_lines()  # raises if any line is not JSON
    assert all({"ts", "level", "msg"} <= set(line) for line in lines)
    auth = [line for line in lines if line["msg"] == "authorize"]
    assert auth and auth[0]["orderId"] == "logged"
    assert auth[0]["traceId"] == "0af7651916cd43dd8448eb211c80319c"


def refund(p, body):
    return requests.post(p.base + "/v1/refund", data=json.dumps(body), timeout=5)


def test_refund_returns_an_approved_charge_once(paymentd):
    p = paymentd(*FAST)
    r = p.authorize({"orderId": "ord-ref", "amount": 700, "simulate": "approve"})
    assert r.status_code == 200 and r.json()["status"] == "APPROVED", r.text
    assert_error(refund(p, {"orderId": "ord-ref", "amount": 699}), 422, "AMOUNT_DIFFERS")
    first = refund(p, {"orderId": "ord-ref", "amount": 700})
    assert first.status_code == 200, first.text
    body = first.json()
    assert body["status"] == "REFUNDED" and body["amount"] == 700, body
    assert body["replay"] is False and re.match(r"^ref_[0-9a-f]{16}$", body["refundId"])
    again = refund(p, {"orderId": "ord-ref", "amount": 700}).json()
    assert again["replay"] is True and again["refundId"] == body["refundId"]
    m = p.metrics()
    assert m['paymentd_refunds_total{outcome="refunded"}'] == 1
    assert m['paymentd_refunds_total{outcome="replay"}'] == 1


def test_refund_of_an_unknown_order_voids_it(paymentd):
    p = paymentd(*FAST)
    r = refund(p, {"orderId": "ord-void", "amount": 50})
    assert r.status_code == 200 and r.json()["status"] == "NOT_CHARGED", r.text
    # A late authorization of the voided order is never charged.
    late = p.authorize({"orderId": "ord-void", "amount": 50, "simulate": "approve"})
    assert late.status_code == 200 and late.json()["status"] == "DECLINED", late.text
    assert p.metrics()['paymentd_refunds_total{outcome="not_charged"}'] == 1


def test_refund_fail_ratio_answers_503_and_bad_bodies_422(paymentd):
    p = paymentd(*FAST, "--refund-fail-ratio", "1")
    assert_error(refund(p, {"orderId": "x", "amount": 1}), 503, "GATEWAY_ERROR")
    assert_error(refund(p, {"orderId": "", "amount": 1}), 422, "VALIDATION_FAILED")
    assert_error(refund(p, {"orderId": "x", "amount": -1}), 422, "VALIDATION_FAILED")
    assert_error(refund(p, {"orderId": "x"}), 422, "VALIDATION_FAILED")
    assert_error(requests.get(p.base + "/v1/refund", timeout=5), 405, "METHOD_NOT_ALLOWED")
    assert p.metrics()['paymentd_refunds_total{outcome="gateway_error"}'] == 1
