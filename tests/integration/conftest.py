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
}
TICKETD = os.path.join(ROOT, "build", "ticketd")


class Ticketd:
    """A ticketd process with its log captured in RUN_DIR/logs."""

    def __init__(self, extra_args=(), name="ticketd"):
        self.base = f"http://127.0.0.1:{PORTS['http']}"
        self.log_path = os.path.join(RUN_DIR, "logs", f"{name}.log")
        self.args = [
            TICKETD,
            "--http-port", str(PORTS["http"]),
            "--db-port", str(PORTS["mariadb"]),
            "--redis-port", str(PORTS["redis"]),
            "--kafka-bootstrap", f"127.0.0.1:{PORTS['kafka']}",
            "--udp-port", str(PORTS["udp"]),
            "--state-dir", os.path.join(RUN_DIR, "ticketd"),
            "--pin-dir", "/sys/fs/bpf/ticket-test",
            "--hold-path", "socket",
            "--demo-data",
            "--log-level", "debug",
            *extra_args,
        ]
        self.proc = None

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
                if requests.get(self.base + want, timeout=1).status_code == 200:
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


@pytest.fixture(scope="session")
def ticketd():
    d = Ticketd().start()
    yield d
    d.stop()


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
