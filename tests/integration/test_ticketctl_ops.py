"""`ticketctl` for operators (issue #15, docs/ops/ticketctl.md): status,
events, pins and drain against the suite's real ticketd, with their JSON
outputs and exit codes (0 done, 1 error or unreachable, 2 usage, 3 not
ready). Drain: POST /admin/drain refuses new holds with 503 DRAINING and
Retry-After, closes the UDP door, makes /readyz 503 "draining", lets an
order in flight finish, and DELETE restores holds (docs/api.md,
"Draining")."""
import json
import os
import shutil
import subprocess
import time
import uuid

import pytest
import requests

from conftest import PIN_DIR, PORTS, ROOT, RUN_DIR, assert_error, auth, new_session

CTL = os.path.join(ROOT, "build", "ticketctl")
KEY_FILE = os.path.join(RUN_DIR, "ticketd", "admin.key")


def ctl(*args, timeout=60):
    env = dict(os.environ, TICKET_ADMIN_KEY_FILE=KEY_FILE)
    return subprocess.run([CTL, *args], capture_output=True, text=True, timeout=timeout, env=env)


def http(ticketd):
    return ["--admin", ticketd.base]


def admin_key():
    with open(KEY_FILE) as f:
        return f.read().strip()


def hold(base, token, event_id, seat_ids):
    return requests.post(base + "/api/reservations", headers=auth(token), timeout=10,
                         json={"eventId": event_id, "seatIds": seat_ids})


def udp_hold(token, event_id, seat_id):
    return ctl("--server", f"127.0.0.1:{PORTS['udp']}", "--token", token, "--timeout-ms", "500",
               "--json", "hold", str(event_id), str(seat_id))


@pytest.fixture
def undrain(ticketd):
    """Whatever a test does, the node takes holds again afterwards."""
    yield
    requests.delete(ticketd.base + "/admin/drain", headers=auth(admin_key()), timeout=10)


# ---- status ----

def test_status_reports_ready_version_uptime_and_counters(ticketd):
    r = ctl("status", *http(ticketd), "--json")
    assert r.returncode == 0, r.stdout + r.stderr
    s = json.loads(r.stdout)
    assert s["reachable"] and s["ready"] and not s["draining"]
    assert s["version"] and s["uptimeSeconds"] >= 0
    assert s["holdPath"] == "socket"  # the suite runs --hold-path socket
    assert s["backend"] in ("bpf", "shm")
    assert s["readiness"]["status"] == "UP"
    for k in ("ordersConfirmed", "ordersCancelled", "orderedSeats", "udpOkSocket", "http5xx"):
        assert k in s["counters"], k
    assert isinstance(s["counters"]["orderedSeats"], int)
    assert isinstance(s["counters"]["http5xx"], int)  # 0 before the first 5xx
    text = ctl("status", *http(ticketd))
    assert text.returncode == 0 and "READY" in text.stdout and "UDP hold path: socket" in text.stdout


def test_status_exit_codes_for_unreachable_and_usage(ticketd):
    r = ctl("status", "--admin", "http://127.0.0.1:1", "--json", "--timeout-ms", "500")
    assert r.returncode == 1
    assert json.loads(r.stdout)["reachable"] is False
    assert ctl("status", "--nope").returncode == 2
    assert ctl("status", "extra").returncode == 2
    assert ctl("nonsense").returncode == 2
    h = ctl("status", "--help")
    assert h.returncode == 0 and "exit:" in h.stdout


# ---- events ----

def test_events_lists_seats_by_state_and_rooms(ticketd, arena):
    r = ctl("events", *http(ticketd), "--json")
    assert r.returncode == 0, r.stderr
    rows = json.loads(r.stdout)
    api_events = requests.get(ticketd.base + "/api/events", timeout=5).json()
    assert [e["id"] for e in rows] == [e["id"] for e in api_events]
    for e in rows:
        assert e["seats"] == e["sold"] + e["held"] + e["free"]
        assert e["room"] in (True, False)  # the admin key was readable
    a = [e for e in rows if e["id"] == arena.event_id][0]
    assert a["name"] == "Test Arena A" and a["seats"] == 2000
    one = ctl("events", str(arena.event_id), *http(ticketd), "--json")
    assert one.returncode == 0 and [e["id"] for e in json.loads(one.stdout)] == [arena.event_id]
    text = ctl("events", *http(ticketd))
    assert text.returncode == 0 and "Test Arena A" in text.stdout and "ROOM" in text.stdout
    # without the key the rooms are unknown, not an error
    nokey = ctl("events", *http(ticketd), "--admin-key-file", "/nonexistent", "--json")
    assert nokey.returncode == 0 and all(e["room"] is None for e in json.loads(nokey.stdout))
    missing = ctl("events", "4000000000", *http(ticketd), "--json")
    assert missing.returncode == 1 and "EVENT_NOT_FOUND" in json.loads(missing.stdout)["detail"]
    assert ctl("events", "x").returncode == 2


# ---- pins ----

@pytest.fixture
def pinned():
    """A pin directory of our own with a hash map (one entry) and an XDP
    program, the program attached (generic mode) to a dummy interface."""
    if os.geteuid() != 0 or not shutil.which("bpftool"):
        pytest.skip("pins needs root and bpftool")
    d = PIN_DIR + "-ctlpins"
    iface = f"tctl{os.getpid() % 100000}"
    subprocess.run(["rm", "-rf", d], check=False)
    os.makedirs(d)
    try:
        subprocess.run(["bpftool", "map", "create", d + "/tctl_map", "type", "hash", "key", "4",
                        "value", "8", "entries", "16", "name", "tctl_map"], check=True)
        subprocess.run(["bpftool", "map", "update", "pinned", d + "/tctl_map", "key", "1", "0",
                        "0", "0", "value", *["0"] * 8], check=True)
        subprocess.run(["bpftool", "prog", "load", os.path.join(ROOT, "build", "bpf",
                        "seat_hold.bpf.o"), d + "/tctl_prog"], check=True,
                       capture_output=True)
        attached = subprocess.run(["ip", "link", "add", iface, "type", "dummy"],
                                  capture_output=True).returncode == 0 and \
            subprocess.run(["ip", "link", "set", "dev", iface, "xdpgeneric", "pinned",
                            d + "/tctl_prog"], capture_output=True).returncode == 0
        yield d, iface if attached else None
    finally:
        subprocess.run(["ip", "link", "del", iface], capture_output=True)
        subprocess.run(["rm", "-rf", d], check=False)


def test_pins_lists_maps_and_programs_with_their_attach_point(pinned):
    d, iface = pinned
    r = ctl("pins", "--pin-dir", d, "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["pinDir"] == d
    by = {p["pin"]: p for p in out["pins"]}
    m = by["tctl_map"]
    assert m["kind"] == "map" and m["type"] == "hash" and m["name"] == "tctl_map"
    assert m["maxEntries"] == 16 and m["entries"] == 1 and m["id"] > 0
    p = by["tctl_prog"]
    assert p["kind"] == "prog" and p["type"] == "xdp" and p["name"] == "xdp_seat_hold"
    if iface:
        assert {"iface": iface, "mode": "generic"} in p["attached"]
    text = ctl("pins", "--pin-dir", d)
    assert text.returncode == 0 and "tctl_map" in text.stdout and "xdp_seat_hold" in text.stdout
    gone = ctl("pins", "--pin-dir", d + "-absent", "--json")
    assert gone.returncode == 1 and json.loads(gone.stdout)["error"] == "no such pin directory"
    assert ctl("pins", "extra").returncode == 2


# ---- drain ----

def test_drain_refuses_holds_closes_udp_and_unreadies_then_undo_restores(ticketd, arena,
                                                                       undrain):
    s = new_session(ticketd.base)
    seats = arena.take(3)
    assert hold(ticketd.base, s["token"], arena.event_id, [seats[0]]).status_code == 201
    assert udp_hold(s["token"], arena.event_id, seats[1]).returncode == 0

    r = ctl("drain", *http(ticketd), "--json")
    assert r.returncode == 0, r.stderr
    st = json.loads(r.stdout)
    assert st["draining"] and st["since"] and st["udpDoor"] == "closed"

    refused = hold(ticketd.base, s["token"], arena.event_id, [seats[2]])
    assert_error(refused, 503, "DRAINING")
    assert int(refused.headers["Retry-After"]) >= 1
    ready = requests.get(ticketd.base + "/readyz", timeout=5)
    assert ready.status_code == 503
    assert ready.json()["reason"] == "draining" and ready.json()["draining"] is True
    assert requests.get(ticketd.base + "/healthz", timeout=5).status_code == 200
    # the socket door is stopped: no UDP answer (port unreachable or timeout)
    assert udp_hold(s["token"], arena.event_id, seats[2]).returncode == 1
    status = ctl("status", *http(ticketd), "--json")
    assert status.returncode == 3 and json.loads(status.stdout)["draining"] is True
    # releases still work
    rel = requests.delete(f"{ticketd.base}/api/reservations/{arena.event_id}/{seats[0]}",
                          headers=auth(s["token"]), timeout=5)
    assert rel.status_code == 204, rel.text
    m = requests.get(ticketd.base + "/metrics", timeout=5).text
    assert "ticketd_draining 1" in m
    # draining twice is fine
    assert ctl("drain", *http(ticketd)).returncode == 0

    u = ctl("drain", "--undo", *http(ticketd), "--json")
    assert u.returncode == 0, u.stderr
    assert json.loads(u.stdout)["draining"] is False
    assert json.loads(u.stdout)["udpDoor"] == "socket"
    assert hold(ticketd.base, s["token"], arena.event_id, [seats[2]]).status_code == 201
    assert requests.get(ticketd.base + "/readyz", timeout=5).status_code == 200
    deadline = time.monotonic() + 5
    while udp_hold(s["token"], arena.event_id, seats[0]).returncode != 0:
        assert time.monotonic() < deadline, "the UDP door did not come back"
        time.sleep(0.1)
    assert ctl("status", *http(ticketd)).returncode == 0


def test_drain_wait_lets_an_order_in_flight_finish(ticketd, arena, undrain):
    s = new_session(ticketd.base)
    seats = arena.take(2)
    assert hold(ticketd.base, s["token"], arena.event_id, seats).status_code == 201
    o = requests.post(ticketd.base + "/api/orders", timeout=10,
                      headers={**auth(s["token"]), "Idempotency-Key": str(uuid.uuid4())},
                      json={"eventId": arena.event_id, "seatIds": seats})
    assert o.status_code == 201, o.text
    order_id = o.json()["orderId"]

    # the order is in flight: a short wait times out with exit 3
    r = ctl("drain", "--wait", "--wait-timeout", "1", *http(ticketd), "--json")
    assert r.returncode == 3, r.stdout + r.stderr
    st = json.loads(r.stdout)
    assert st["draining"] and st["timedOut"] and not st["idle"]
    assert st["inFlight"]["orderedSeats"] >= 2
    assert "draining, " in r.stderr  # progress

    # a longer wait ends once the payment has made the order CONFIRMED
    waiter = subprocess.Popen([CTL, "drain", "--wait", "--wait-timeout", "60", *http(ticketd),
                               "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, env=dict(os.environ, TICKET_ADMIN_KEY_FILE=KEY_FILE))
    try:
        pay = requests.post(ticketd.base + "/api/payments/authorize", headers=auth(s["token"]),
                            json={"orderId": order_id, "simulate": "approve"}, timeout=30)
        assert pay.status_code == 200 and pay.json()["status"] == "APPROVED", pay.text
        out, err = waiter.communicate(timeout=70)
    finally:
        if waiter.poll() is None:
            waiter.kill()
            waiter.wait()
    assert waiter.returncode == 0, out + err
    done = json.loads(out)
    assert done["idle"] and not done["timedOut"] and done["inFlight"]["orderedSeats"] == 0
    assert 0 <= done["waitedMs"] < 70000
    got = requests.get(f"{ticketd.base}/api/orders/{order_id}", headers=auth(s["token"]),
                       timeout=5).json()
    assert got["status"] == "CONFIRMED"


@pytest.fixture
def xdp_ticketd(ticketd):
    """The suite's ticketd restarted with the XDP door on a veth pair into
    a namespace of our own (infra/netns.sh), then back as it was."""
    if os.geteuid() != 0:
        pytest.skip("XDP needs root")
    n = os.getpid() % 100
    net = {"TKT_NETNS": f"tctl{n}", "TKT_HOST_IF": f"tctl{n}h", "TKT_NS_IF": f"tctl{n}n",
           "TKT_HOST_ADDR": f"10.77.{150 + n}.1/24", "TKT_NS_ADDR": f"10.77.{150 + n}.2/24",
           "TKT_HOST_ADDR6": f"fd77:{150 + n}::1/64", "TKT_NS_ADDR6": f"fd77:{150 + n}::2/64"}
    env = dict(os.environ, **net)
    netns = os.path.join(ROOT, "infra", "netns.sh")
    if subprocess.run(["bash", netns, "up"], env=env, capture_output=True).returncode:
        pytest.skip("cannot create a network namespace here")
    base_args = ticketd.args[:ticketd.args.index("--log-level") + 2]
    try:
        ticketd.stop()
        ticketd.args = base_args + ["--hold-path", "auto", "--xdp-netns", net["TKT_NETNS"],
                                    "--xdp-iface", net["TKT_NS_IF"], "--xdp-peer-iface",
                                    net["TKT_HOST_IF"]]
        ticketd.start()
        if requests.get(ticketd.base + "/readyz", timeout=5).json()["holdPath"] != "xdp":
            pytest.skip("XDP could not be attached here: ticketd fell back to the socket door")
        yield ticketd, net, f"10.77.{150 + n}.2:{PORTS['udp']}"
    finally:
        ticketd.stop()
        ticketd.args = base_args
        ticketd.start()
        subprocess.run(["bash", netns, "down"], env=env, capture_output=True)


def xdp_attached(net):
    out = subprocess.run(["ip", "netns", "exec", net["TKT_NETNS"], "ip", "link", "show", "dev",
                          net["TKT_NS_IF"]], capture_output=True, text=True).stdout
    return "prog/xdp" in out


def test_drain_detaches_xdp_and_undo_attaches_it_again(xdp_ticketd, arena):
    ticketd, net, door = xdp_ticketd
    s = new_session(ticketd.base)
    seats = arena.take(3)

    def udp_hold_at(seat):
        return ctl("--server", door, "--token", s["token"], "--timeout-ms", "500", "hold",
                   str(arena.event_id), str(seat))

    assert udp_hold_at(seats[0]).returncode == 0 and xdp_attached(net)
    st = ctl("drain", *http(ticketd), "--json")
    assert st.returncode == 0 and json.loads(st.stdout)["udpDoor"] == "closed"
    assert not xdp_attached(net)
    assert udp_hold_at(seats[1]).returncode == 1  # nobody answers on the port now
    assert ctl("status", *http(ticketd)).returncode == 3
    u = ctl("drain", "--undo", *http(ticketd), "--json")
    assert u.returncode == 0 and json.loads(u.stdout)["udpDoor"] == "xdp"
    assert xdp_attached(net)
    assert udp_hold_at(seats[2]).returncode == 0


def test_drain_needs_the_admin_key_and_takes_no_stray_options(ticketd, undrain):
    bad = os.path.join(RUN_DIR, "wrong-drain.key")
    with open(bad, "w") as f:
        f.write("0" * 64 + "\n")
    r = ctl("drain", *http(ticketd), "--admin-key-file", bad)
    assert r.returncode == 1 and "FORBIDDEN" in r.stderr
    assert_error(requests.post(ticketd.base + "/admin/drain", timeout=5), 401, "UNAUTHORIZED")
    assert requests.get(ticketd.base + "/readyz", timeout=5).status_code == 200
    for args in (["--undo", "--show"], ["--undo", "--wait"], ["--wait-timeout", "0"], ["x"]):
        assert ctl("drain", *args).returncode == 2, args
    show = ctl("drain", "--show", *http(ticketd), "--json")
    assert show.returncode == 0 and json.loads(show.stdout)["draining"] is False
