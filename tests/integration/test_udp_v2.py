"""UDP protocol v2 on the socket door (docs/protocol.md, "Version 2"): a MAC
over the whole request keyed by the token, and a replay window on the
request id. The XDP door runs the same code (tests/bpf)."""
import requests

from conftest import (new_session, udp, udp_packet_v2, udp_parse, udp_send,
                      udp_v2)


def test_v2_holds_queries_and_releases(ticketd, arena):
    s = new_session(ticketd.base)
    seat = arena.take(1)[0]
    r = udp_v2("HOLD", arena.event_id, seat, s["token"], req_id=1, secs=60)
    assert r["status"] == "OK" and r["reqId"] == 1 and r["expiryMs"] > 0
    # the hold is the session's, for REST too
    held = requests.get(ticketd.base + "/api/reservations", timeout=5,
                        headers={"Authorization": f"Bearer {s['token']}"}).json()
    assert {"eventId": arena.event_id, "seatId": seat} in [
        {"eventId": h["eventId"], "seatId": h["seatId"]} for h in held]
    assert udp_v2("QUERY", arena.event_id, seat, s["token"], req_id=2)["status"] == "TAKEN"
    assert udp_v2("RELEASE", arena.event_id, seat, s["token"], req_id=3)["status"] == "OK"
    # v1 still works beside it (udp_v1 defaults to true)
    assert udp("QUERY", arena.event_id, seat, s["token"])["status"] == "OK"


def test_v2_tampered_fields_are_bad_credential_and_change_nothing(ticketd, arena):
    s = new_session(ticketd.base)
    seat, other = arena.take(2)
    assert udp_v2("HOLD", arena.event_id, seat, s["token"], req_id=10)["status"] == "OK"
    genuine = udp_packet_v2("QUERY", arena.event_id, seat, s["token"], req_id=11)
    for off, xor in ((3, 4 ^ 2),            # QUERY turned into RELEASE
                     (11, 1),               # another event
                     (15, (seat ^ other) & 0xff or 1),  # another seat
                     (25, 30),              # other hold seconds
                     (20, 1),               # another session id
                     (39, 0x80)):           # the MAC itself
        bad = bytearray(genuine)
        bad[off] ^= xor
        reply = udp_send(bytes(bad))
        assert reply is not None, f"offset {off}: no reply"
        assert udp_parse(reply, version=2)["status"] == "BAD_CREDENTIAL", off
    # the seat is still held by the session: nothing above released it, and
    # the forged requests did not use up request id 11
    assert udp_v2("QUERY", arena.event_id, seat, s["token"], req_id=11)["status"] == "TAKEN"


def test_v2_replayed_datagram_gets_no_reply(ticketd, arena):
    s = new_session(ticketd.base)
    seat = arena.take(1)[0]
    pkt = udp_packet_v2("HOLD", arena.event_id, seat, s["token"], req_id=5)
    assert udp_parse(udp_send(pkt), version=2)["status"] == "OK"
    assert udp_send(pkt, timeout=0.5) is None
    release = udp_packet_v2("RELEASE", arena.event_id, seat, s["token"], req_id=6)
    assert udp_parse(udp_send(release), version=2)["status"] == "OK"
    # an observer replaying the old HOLD cannot take the seat back for it
    assert udp_send(pkt, timeout=0.5) is None
    assert udp("QUERY", arena.event_id, seat, s["token"])["status"] == "OK"


def test_v2_window_keeps_32_ids_below_the_highest(ticketd, arena):
    s = new_session(ticketd.base)
    seat = arena.take(1)[0]

    def ask(rid):
        reply = udp_send(udp_packet_v2("QUERY", arena.event_id, seat, s["token"],
                                       req_id=rid), timeout=0.5)
        return reply is not None

    assert ask(100)
    assert ask(68)          # 32 below: the oldest the window keeps
    assert not ask(67)      # 33 below: too old
    assert ask(99)          # reordered, unseen
    assert not ask(99)
    assert ask(200)         # jump: the window slides
    assert not ask(100)
    assert ask(170)


def test_ticketctl_speaks_v2(ticketd, arena):
    import json
    import os
    import subprocess

    from conftest import PORTS, ROOT

    s = new_session(ticketd.base)
    seat = arena.take(1)[0]
    base = [os.path.join(ROOT, "build", "ticketctl"), "--v2", "--json",
            "--server", f"127.0.0.1:{PORTS['udp']}", "--token", s["token"]]
    hold = subprocess.run(base + ["hold", str(arena.event_id), str(seat), "60"],
                          capture_output=True, text=True, timeout=10)
    assert hold.returncode == 0, hold.stdout + hold.stderr
    assert json.loads(hold.stdout)["status"] == "OK"
    # the next call's clock-based request id is larger: not a replay
    q = subprocess.run(base + ["query", str(arena.event_id), str(seat)],
                       capture_output=True, text=True, timeout=10)
    assert json.loads(q.stdout)["status"] == "TAKEN", q.stdout + q.stderr
