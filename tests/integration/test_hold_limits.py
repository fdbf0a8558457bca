"""Per-address hold limit and hold lifetime cap (issue #18), against a
dedicated ticketd (its own ports, socket door with its own seat table, and
no Redis so it leaves the shared journal alone) started with
--origin-hold-limit 16 and --hold-lifetime-max-seconds 12."""
import http.client
import json
import os
import socket
import time

import pytest
import requests

from conftest import (PORTS, RUN_DIR, Ticketd, auth, udp_packet, udp_parse)

ORIGIN_LIMIT = 16
CAP = 12


@pytest.fixture(scope="module")
def limited(ticketd):
    http_port, udp_port = PORTS["http"] + 20, PORTS["udp"] + 20
    state = os.path.join(RUN_DIR, "ticketd-limits")
    # a fresh seat table each run: seats held by earlier runs would count
    if os.path.isdir(os.path.join(state, "shm")):
        for f in os.listdir(os.path.join(state, "shm")):
            os.unlink(os.path.join(state, "shm", f))
    d = Ticketd(name="ticketd-limits", extra_args=[
        "--http-port", str(http_port), "--udp-port", str(udp_port),
        "--state-dir", state, "--redis-port", "1",
        "--origin-hold-limit", str(ORIGIN_LIMIT),
        "--hold-lifetime-max-seconds", str(CAP)])
    d.base = f"http://127.0.0.1:{http_port}"
    d.http_port, d.udp_port = http_port, udp_port
    d.start(wait_ready=False)
    events = requests.get(d.base + "/api/events", timeout=5).json()
    demo = [e for e in events if e["rows"] * e["cols"] == 100]
    assert len(demo) >= 3
    d.events = [e["id"] for e in demo]
    yield d
    d.stop()


def call(d, method, path, body=None, token=None, source="127.0.0.1"):
    """One HTTP request from the given local source address."""
    c = http.client.HTTPConnection("127.0.0.1", d.http_port, timeout=5,
                                   source_address=(source, 0))
    headers = auth(token) if token else {}
    c.request(method, path, body=json.dumps(body) if body is not None else None,
              headers=headers)
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, (json.loads(data) if data else None)


def session(d, source="127.0.0.1"):
    st, body = call(d, "POST", "/api/sessions", {}, source=source)
    assert st == 201, body
    return body["token"]


def udp_op(d, op, ev, seat, token, secs=0, source="127.0.0.1"):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((source, 0))
        s.settimeout(2)
        s.sendto(udp_packet(op, ev, seat, token, secs), ("127.0.0.1", d.udp_port))
        return udp_parse(s.recvfrom(2048)[0])


def held_by(d, tokens):
    n = 0
    for t in tokens:
        st, body = call(d, "GET", "/api/reservations", token=t)
        assert st == 200
        n += len(body)
    return n


def test_thirteen_sessions_from_one_address_hold_at_most_the_address_limit(limited):
    d, ev = limited, limited.events[0]
    tokens = [session(d) for _ in range(13)]
    refusals = []
    for i, t in enumerate(tokens[:7]):  # REST: 8 seats each, all or nothing
        st, body = call(d, "POST", "/api/reservations",
                        {"eventId": ev, "seatIds": list(range(i * 8, i * 8 + 8))},
                        token=t)
        if st != 201:
            refusals.append((st, body))
    for i, t in enumerate(tokens[7:]):  # UDP: seat by seat
        for seat in range(56 + i * 8, min(100, 64 + i * 8)):
            r = udp_op(d, "HOLD", ev, seat, t, 60)
            assert r["status"] in ("OK", "LIMIT_EXCEEDED"), r
    assert held_by(d, tokens) == ORIGIN_LIMIT
    st, body = refusals[0]
    assert st == 422 and body["code"] == "HOLD_LIMIT_EXCEEDED", body
    assert "address" in body["message"] and body["details"]["limit"] == ORIGIN_LIMIT
    # Another event has its own count.
    st, body = call(d, "POST", "/api/reservations",
                    {"eventId": d.events[1], "seatIds": [0, 1]}, token=tokens[5])
    assert st == 201, body


def test_another_address_is_not_limited_by_the_first(limited):
    d, ev = limited, limited.events[0]
    t = session(d, source="127.0.0.2")
    st, body = call(d, "POST", "/api/reservations",
                    {"eventId": ev, "seatIds": [90, 91, 92, 93]}, token=t,
                    source="127.0.0.2")
    assert st == 201, body
    r = udp_op(d, "HOLD", ev, 94, t, 60, source="127.0.0.2")
    assert r["status"] == "OK", r


def test_release_and_expiry_give_the_address_count_back(limited):
    d, ev = limited, limited.events[2]
    tokens = [session(d) for _ in range(2)]
    for i, t in enumerate(tokens):
        st, body = call(d, "POST", "/api/reservations",
                        {"eventId": ev, "seatIds": list(range(i * 8, i * 8 + 8)),
                         "holdSeconds": 5 if i else 120}, token=t)
        assert st == 201, body
    late = session(d)
    r = udp_op(d, "HOLD", ev, 50, late, 60)
    assert r["status"] == "LIMIT_EXCEEDED", r
    st, _ = call(d, "DELETE", f"/api/reservations/{ev}/0", token=tokens[0])
    assert st == 204
    assert udp_op(d, "HOLD", ev, 50, late, 60)["status"] == "OK"
    assert udp_op(d, "HOLD", ev, 51, late, 60)["status"] == "LIMIT_EXCEEDED"
    time.sleep(6.5)  # the second session's 5 s holds lapse and are swept
    st, body = call(d, "POST", "/api/reservations",
                    {"eventId": ev, "seatIds": [51, 52, 53]}, token=late)
    assert st == 201, body


def test_extensions_stop_at_the_hold_lifetime_cap(limited):
    d, ev = limited, limited.events[1]
    t = session(d, source="127.0.0.3")
    t0 = time.time()
    st, body = call(d, "POST", "/api/reservations",
                    {"eventId": ev, "seatIds": [40], "holdSeconds": 5}, token=t,
                    source="127.0.0.3")
    assert st == 201, body
    r = udp_op(d, "HOLD", ev, 41, t, 600, source="127.0.0.3")
    assert r["status"] == "OK"
    # A new hold longer than the cap is cut to the cap.
    assert r["expiryMs"] / 1000 <= t0 + CAP + 1, r
    st, body = call(d, "POST", f"/api/reservations/{ev}/40/extend", {"seconds": 600},
                    token=t, source="127.0.0.3")
    assert st == 200, body
    exp = requests.utils.parse_dict_header  # noqa: F841 (keep imports honest)
    expires = time.mktime(time.strptime(body["expiresAt"][:19], "%Y-%m-%dT%H:%M:%S")) \
        - time.timezone
    assert t0 + 5 < expires <= t0 + CAP + 1, (body, t0)
    r = udp_op(d, "EXTEND", ev, 40, t, 600, source="127.0.0.3")
    assert r["status"] == "OK" and r["expiryMs"] / 1000 <= t0 + CAP + 1, r
    # Once the cap is reached the hold lapses: no extension keeps it.
    time.sleep(max(0, t0 + CAP + 1.5 - time.time()))
    st, body = call(d, "POST", f"/api/reservations/{ev}/40/extend", {"seconds": 60},
                    token=t, source="127.0.0.3")
    assert st == 410, body
