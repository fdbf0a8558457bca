"""The SRE view of the edge (issue #14): /metrics exports the door counters,
the fill of every map with a limit and the change ring buffer; `ticketctl
stats` and `ticketctl seat` read the pinned maps of the running ticketd
(TICKETD_TEST_PIN_DIR) without asking it (docs/operations.md, "Inspecting
the edge")."""
import datetime as dt
import json
import os
import re
import subprocess
import time

import pytest
import requests

from conftest import PIN_DIR, ROOT, auth, new_session

CTL = os.path.join(ROOT, "build", "ticketctl")
DOOR_COUNTERS = ["OK", "TAKEN", "SOLD", "NO_SUCH_SEAT", "NOT_HOLDER", "BAD_CREDENTIAL",
                 "RATE_LIMITED", "LIMIT_EXCEEDED", "MALFORMED", "WRONG_NODE",
                 "NOT_ADMITTED", "dropped", "passed", "malformed_dropped", "ringbuf_full",
                 "unsendable", "source_dropped", "rate_dropped", "replay_dropped"]
LIMITS = {"events": 4096, "counts": 4 * 1048576, "ratelimit": 65536}


def metrics(base):
    """{name{labels}: value} of one scrape."""
    text = requests.get(base + "/metrics", timeout=5).text
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            key, value = line.rsplit(" ", 1)
            out[key] = float(value)
    return out


def backend(m):
    return "bpf" if m.get('ticketd_edge_backend{backend="bpf"}') == 1 else "shm"


def parse_time(s):
    return dt.datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()


def ctl(*args):
    return subprocess.run([CTL, *args], capture_output=True, text=True, timeout=30)


def hold(base, token, event_id, seat_ids):
    r = requests.post(base + "/api/reservations", headers=auth(token),
                      json={"eventId": event_id, "seatIds": seat_ids}, timeout=10)
    assert r.status_code == 201, r.text
    return r.json()


def restart(ticketd, *extra):
    ticketd.stop()
    ticketd.args = ticketd.args[:ticketd.args.index("--log-level") + 2] + list(extra)
    ticketd.start()


@pytest.fixture(scope="module")
def bpf_pins(ticketd):
    """ticketd on the bpf backend (the suite runs it on shm: --hold-path
    socket): --hold-path auto without --xdp-iface keeps the socket door but
    puts the seat table in maps pinned under PIN_DIR."""
    if os.geteuid() != 0:
        pytest.skip("the bpf backend needs root")
    restart(ticketd, "--hold-path", "auto")
    try:
        if backend(metrics(ticketd.base)) != "bpf":
            pytest.skip("BPF maps cannot be created here: ticketd fell back to shm")
        yield PIN_DIR
    finally:
        restart(ticketd)


def check_metrics(base):
    # the map fill is sampled by the sweeper (every 5 s, the first right
    # after start, which can take a moment under ASan): wait for one
    deadline = time.monotonic() + 15
    m = metrics(base)
    while "ticketd_bpf_map_sample_age_seconds" not in m and time.monotonic() < deadline:
        time.sleep(0.2)
        m = metrics(base)
    for name in DOOR_COUNTERS:
        for door in ("xdp", "userspace"):
            assert f'ticketd_udp_outcomes_total{{door="{door}",outcome="{name}"}}' in m
    assert m['ticketd_edge_backend{backend="bpf"}'] + m['ticketd_edge_backend{backend="shm"}'] == 1
    for name, limit in LIMITS.items():
        entries = m[f'ticketd_bpf_map_entries{{map="{name}"}}']
        top = m[f'ticketd_bpf_map_max_entries{{map="{name}"}}']
        assert 0 <= entries <= top and top == limit, name
    # the demo and test events are declared
    assert m['ticketd_bpf_map_entries{map="events"}'] >= 3
    assert 0 <= m["ticketd_bpf_map_sample_age_seconds"] < 15
    if backend(m) == "bpf":
        assert m["ticketd_bpf_ringbuf_size_bytes"] == 8 << 20
        assert 0 <= m["ticketd_bpf_ringbuf_unread_bytes"] <= 8 << 20
    else:
        assert "ticketd_bpf_ringbuf_size_bytes" not in m
    return m


def test_metrics_export_door_counters_and_map_fill(ticketd):
    check_metrics(ticketd.base)  # the suite runs shm (--hold-path socket)


def count_entries_follow_a_hold(api, arena):
    """New sessions' holds add count entries, and the gauge (sampled every
    5 s) shows more entries than before. Other tests' holds may lapse
    meanwhile and take their entries away, so a window in which the gauge
    did not rise is tried again, three windows at most."""
    name = 'ticketd_bpf_map_entries{map="counts"}'
    for _ in range(3):
        before = metrics(api.base)[name]
        for _ in range(4):
            s = new_session(api.base)
            hold(api.base, s["token"], arena.event_id, arena.take(1))
        deadline = time.monotonic() + 12
        while time.monotonic() < deadline:
            if metrics(api.base)[name] > before:
                return
            time.sleep(0.5)
    pytest.fail("the holds' count entries never showed in ticketd_bpf_map_entries")


def test_metrics_count_entries_follow_a_hold(ticketd, api, arena):
    """The counts entry of a new session's hold shows within a sample (5 s)."""
    count_entries_follow_a_hold(api, arena)


def test_metrics_on_bpf_show_the_ring_buffer_and_the_held_count(bpf_pins, api, arena):
    assert backend(check_metrics(api.base)) == "bpf"
    count_entries_follow_a_hold(api, arena)


def test_ticketctl_seat_shows_a_rest_hold_by_its_slot(bpf_pins, api, arena):
    s = new_session(api.base)
    slot = int(s["token"][:8], 16)
    [sid] = arena.take(1)
    body = hold(api.base, s["token"], arena.event_id, [sid])
    r = ctl("seat", str(arena.event_id), str(sid), "--pin-dir", bpf_pins, "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["eventId"] == arena.event_id and out["seatId"] == sid
    assert out["index"] == out["event"]["base"] + sid
    seat = out["seat"]
    assert seat["state"] == "HELD" and seat["effectiveState"] == "HELD"
    assert seat["holderSlot"] == slot and not seat["lapsed"]
    assert 110_000 <= seat["expiresInMs"] <= 120_000
    assert abs(parse_time(seat["expiresAt"]) - parse_time(body["expiresAt"])) < 2
    assert 0 <= seat["heldForMs"] < 10_000
    assert out["holderCount"] == 1
    word = int(seat["word"], 16)
    assert word >> 62 == 1 and (word >> 32) & 0x3FFFFF == slot
    # the text form says the same
    r = ctl("seat", str(arena.event_id), str(sid), "--pin-dir", bpf_pins)
    assert r.returncode == 0 and "state=HELD" in r.stdout
    assert f"holder_slot={slot}" in r.stdout and seat["word"] in r.stdout


def test_ticketctl_seat_shows_a_free_seat(bpf_pins, arena):
    [sid] = arena.take(1)
    r = ctl("seat", str(arena.event_id), str(sid), "--pin-dir", bpf_pins, "--json")
    assert r.returncode == 0, r.stderr
    seat = json.loads(r.stdout)["seat"]
    assert seat["state"] == "AVAILABLE" and seat["holderSlot"] == 0
    assert seat["expiresInMs"] is None and seat["expiresAt"] is None


def test_ticketctl_stats_counts_the_hold_and_names_every_counter(bpf_pins, api, arena):
    s = new_session(api.base)
    hold(api.base, s["token"], arena.event_id, arena.take(2))
    r = ctl("stats", "--pin-dir", bpf_pins, "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert list(out["doorCounters"]) == DOOR_COUNTERS
    assert all(isinstance(v, int) and v >= 0 for v in out["doorCounters"].values())
    fill = {m["map"]: m for m in out["maps"]}
    assert set(fill) == set(LIMITS)
    for name, limit in LIMITS.items():
        assert fill[name]["maxEntries"] == limit
        assert 0 <= fill[name]["entries"] <= limit
    assert fill["counts"]["entries"] >= 1 and fill["events"]["entries"] >= 3
    ring = out["ringbuf"]
    assert ring["sizeBytes"] == 8 << 20
    assert ring["unreadBytes"] == ring["producerPos"] - ring["consumerPos"]
    assert "key" not in json.dumps(out["config"]).lower()  # never the token key
    [ev] = [e for e in out["events"] if e["eventId"] == arena.event_id]
    assert ev["held"] >= 2 and ev["owned"]
    assert ev["available"] + ev["held"] + ev["ordered"] + ev["sold"] == ev["nseats"]
    r = ctl("stats", "--pin-dir", bpf_pins)
    assert r.returncode == 0 and "door counters" in r.stdout
    assert re.search(rf"event {arena.event_id}: .* [1-9][0-9]* held", r.stdout)


def test_ticketctl_map_commands_say_what_is_missing(bpf_pins, arena):
    r = ctl("seat", "4000000000", "0", "--pin-dir", bpf_pins, "--json")
    assert r.returncode == 1 and json.loads(r.stdout)["error"] == "event unknown"
    r = ctl("seat", str(arena.event_id), "2000", "--pin-dir", bpf_pins)
    assert r.returncode == 1 and "seat out of range" in r.stderr
    r = ctl("stats", "--pin-dir", bpf_pins + "-absent")
    assert r.returncode == 1 and "no such pin directory" in r.stderr
    for bad in (["seat", "1"], ["seat", "x", "1"], ["seat", "1", "-1"],
                ["stats", "extra"], ["stats", "--nope"]):
        assert ctl(*bad).returncode == 2, bad
