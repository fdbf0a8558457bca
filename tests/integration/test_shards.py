"""Two ticketd nodes in multi-node mode (issue #16) on loopback, socket
door, one Redis, MariaDB and Kafka: the ticketd-shards group splits the
events between them; a hold on an owned event works, on the other node it
answers WRONG_NODE with the owner's UDP address, and REST answers 307 to the
owner. Then kill -9 of one node: within 10 s the other serves every event,
the dead node's acknowledged (journaled) holds are held by the same sessions
there, and no seat is held by two sessions. Prints the failover time (last
ack by the old owner to first ack by the new one)."""
import os
import shutil
import signal
import socket
import struct
import time

import pytest
import requests

from conftest import (PORTS, RUN_DIR, Ticketd, auth, ensure_test_events, new_session,
                      udp_packet, udp_parse, udp_send)

PARTITIONS = 4
# ports away from the shared ticketd's and the other suites' (+1..+10)
OFFSETS = {"sa": 40, "sb": 41}


def node(name):
    off = OFFSETS[name]
    state = os.path.join(RUN_DIR, f"shards-{name}")
    args = ["--node-id", name, "--shard-partitions", str(PARTITIONS),
            "--http-port", str(PORTS["http"] + off), "--udp-port", str(PORTS["udp"] + off),
            "--state-dir", state, "--log-level", "info"]
    return Ticketd(extra_args=args, name=f"ticketd-shards-{name}"), state


def udp_port(d):
    args = d.args
    return int([args[i + 1] for i, a in enumerate(args[:-1]) if a == "--udp-port"][-1])


def owned(d):
    return requests.get(d.own_url() + "/readyz", timeout=2).json().get("ownedEvents", 0)


def shard_map(d):
    return requests.get(d.own_url() + "/api/shards", timeout=2).json()


def hold(d, token, event, seat, op="HOLD", secs=120, req_id=7):
    reply = udp_send(udp_packet(op, event, seat, token, secs, req_id), port=udp_port(d))
    assert reply is not None, "no UDP reply"
    return reply


def free_seats(d, token, event, n, start):
    """n seats of event that the owner d says are free (QUERY OK)."""
    out = []
    for seat in range(start, start + 400):
        if udp_parse(hold(d, token, event, seat, op="QUERY"))["status"] == "OK":
            out.append(seat)
            if len(out) == n:
                return out
    raise AssertionError(f"no {n} free seats in event {event}")


@pytest.fixture
def two_nodes():
    ensure_test_events()  # the catalogue is read at start: before the nodes
    a, state_a = node("sa")
    b, state_b = node("sb")
    for state in (state_a, state_b):
        shutil.rmtree(state, ignore_errors=True)
    a.start()
    # one token key for both: a session of either node is valid on both
    os.makedirs(state_b, mode=0o700)
    shutil.copy(os.path.join(state_a, "token.key"), os.path.join(state_b, "token.key"))
    os.chmod(os.path.join(state_b, "token.key"), 0o600)
    b.start()
    n_events = len(requests.get(a.own_url() + "/api/events", timeout=5).json())
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        na, nb = owned(a), owned(b)
        if (na + nb == n_events and na and nb and
                all(len(shard_map(d)["events"]) == n_events for d in (a, b))):
            break
        time.sleep(0.2)
    else:
        pytest.fail(f"events not split: {owned(a)} + {owned(b)} of {n_events}\n"
                    f"{a.log_tail()}\n{b.log_tail()}")
    yield a, b, n_events
    for d in (a, b):
        if d.proc and d.proc.poll() is None:
            d.stop()


def test_two_nodes_split_events_redirect_and_fail_over(two_nodes):
    a, b, n_events = two_nodes
    nodes = {"sa": a, "sb": b}
    m = shard_map(a)
    assert m["partitions"] == PARTITIONS
    assert set(m["nodes"]) >= {"sa", "sb"}, m
    owner_of = {int(e): v["node"] for e, v in m["events"].items()}
    events = [e["id"] for e in requests.get(a.own_url() + "/api/events", timeout=5).json()]
    assert requests.get(b.own_url() + "/api/events", timeout=5).json()[0]["id"] == events[0]
    assert sorted(owner_of) == sorted(events), m
    for e in events:
        assert m["events"][str(e)]["epoch"] >= 1
        assert m["events"][str(e)]["udp"].endswith(":" + str(udp_port(nodes[owner_of[e]])))

    sessions = [new_session(a.own_url())["token"] for _ in range(3)]
    held = []  # (event, seat, token) acknowledged by the owner
    start = 30
    for e in events:
        owner = nodes[owner_of[e]]
        other = b if owner is a else a
        seats = free_seats(owner, sessions[0], e, len(sessions), start)
        for seat, tok in zip(seats, sessions):
            rep = udp_parse(hold(owner, tok, e, seat))
            assert rep["status"] == "OK", (e, seat, rep)
            held.append((e, seat, tok))
        # the other node: WRONG_NODE naming the owner (127.0.0.1:port)
        raw = hold(other, sessions[0], e, seats[0])
        rep = udp_parse(raw)
        assert rep["status"] == "WRONG_NODE" and rep["counter"] == 0, rep
        assert raw[24:28] == socket.inet_aton("127.0.0.1"), raw.hex()
        assert struct.unpack(">H", raw[28:30])[0] == udp_port(owner), raw.hex()
        assert raw[30:32] == b"\0\0"
        # REST: 307 to the owner, same path and query
        r = requests.get(other.own_url() + f"/api/events/{e}/seats?x=1",
                         allow_redirects=False, timeout=5)
        assert r.status_code == 307, r.text
        assert r.headers["Location"] == f"{owner.own_url()}/api/events/{e}/seats?x=1"
        body = r.json()
        assert body["code"] == "WRONG_NODE" and body["details"]["node"] == owner_of[e], body
        assert requests.get(other.own_url() + f"/api/events/{e}/seats",
                            timeout=5).status_code == 200  # followed
        r = requests.post(other.own_url() + "/api/reservations", headers=auth(sessions[1]),
                          json={"eventId": e, "seatIds": [seats[0]]},
                          allow_redirects=False, timeout=5)
        assert r.status_code == 307 and r.json()["code"] == "WRONG_NODE", r.text
        r = requests.get(owner.own_url() + f"/api/events/{e}/seats", timeout=5)
        assert r.status_code == 200
    time.sleep(0.5)  # the journal writes every few ms: acknowledged is journaled

    # kill -9 the node with the most held seats; the survivor takes over
    victim_name = max(nodes, key=lambda n: sum(owner_of[e] == n for e, _, _ in held))
    victim, survivor = nodes[victim_name], (b if nodes[victim_name] is a else a)
    moved = [(e, s, t) for e, s, t in held if owner_of[e] == victim_name]
    probe = moved[0]
    rep = udp_parse(hold(victim, probe[2], probe[0], probe[1]))
    assert rep["status"] == "OK"
    t_last_ack = time.monotonic()
    victim.proc.send_signal(signal.SIGKILL)
    victim.proc.wait(5)
    t_first_ack = None
    deadline = t_last_ack + 10
    while time.monotonic() < deadline:
        raw = udp_send(udp_packet("HOLD", probe[0], probe[1], probe[2], 120, 9),
                       port=udp_port(survivor), timeout=0.2)
        if raw and udp_parse(raw)["status"] == "OK":
            t_first_ack = time.monotonic()
            break
        time.sleep(0.02)
    assert t_first_ack is not None, "no ack from the survivor within 10 s:\n" + survivor.log_tail()
    while time.monotonic() < deadline and owned(survivor) != n_events:
        time.sleep(0.1)
    assert owned(survivor) == n_events, survivor.log_tail()
    print(f"\nshards failover: last ack by {victim_name} to first ack by the survivor: "
          f"{t_first_ack - t_last_ack:.3f} s")

    # every acknowledged hold of the dead node: still held, by its session
    holders = {}
    for e, seat, tok in moved:
        assert udp_parse(hold(survivor, tok, e, seat, op="QUERY"))["status"] == "TAKEN"
        stranger = sessions[(sessions.index(tok) + 1) % len(sessions)]
        assert udp_parse(hold(survivor, stranger, e, seat))["status"] == "TAKEN", (e, seat)
        assert udp_parse(hold(survivor, tok, e, seat))["status"] == "OK", (e, seat)
    # no seat held by two sessions
    for tok in sessions:
        r = requests.get(survivor.own_url() + "/api/reservations", headers=auth(tok),
                         timeout=5)
        assert r.status_code == 200, r.text
        for h in r.json():
            key = (h["eventId"], h["seatId"])
            assert key not in holders, f"seat {key} held by two sessions"
            holders[key] = tok
    for e, seat, tok in held:
        assert holders.get((e, seat)) == tok, (e, seat)
    m = shard_map(survivor)
    assert {v["node"] for v in m["events"].values()} == {survivor.args[survivor.args.index("--node-id") + 1]}
