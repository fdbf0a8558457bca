"""How the UDP door takes datagrams in (docs/protocol.md, "Intake"): sources
it must not answer, sizes it must not answer, and a door that survives
them. Raw sockets need root, as the rest of the suite does."""
import os
import re
import socket
import struct

import pytest
import requests

from conftest import PORTS, new_session, udp, udp_packet, udp_send


def _csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff


def raw_udp4(payload, sport, src="127.0.0.1", dst="127.0.0.1", dport=None):
    """Sends one IPv4/UDP datagram built by hand (IP_HDRINCL), so the source
    port and address can be ones a normal socket cannot use."""
    dport = dport or PORTS["udp"]
    ulen = 8 + len(payload)
    s_ip, d_ip = socket.inet_aton(src), socket.inet_aton(dst)
    pseudo = s_ip + d_ip + struct.pack("!BBH", 0, socket.IPPROTO_UDP, ulen)
    udp_hdr = struct.pack("!HHHH", sport, dport, ulen, 0)
    c = _csum(pseudo + udp_hdr + payload) or 0xffff
    udp_hdr = struct.pack("!HHHH", sport, dport, ulen, c)
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + ulen, 0x1234, 0, 64,
                     socket.IPPROTO_UDP, 0, s_ip, d_ip)
    with socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW) as s:
        s.setsockopt(socket.IPPROTO_IP, socket.IP_HDRINCL, 1)
        s.sendto(ip + udp_hdr + payload, (dst, 0))


def outcome(base, name):
    text = requests.get(base + "/metrics", timeout=5).text
    m = re.search(r'ticketd_udp_outcomes_total\{door="userspace",outcome="%s"\} (\d+)'
                  % name, text)
    return int(m.group(1)) if m else 0


needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="raw sockets need root")


@needs_root
def test_source_port_zero_does_not_stop_the_socket_door(ticketd, arena):
    s = new_session(ticketd.base)
    seat = arena.take(1)[0]
    before = outcome(ticketd.base, "source_dropped")
    # more datagrams than there are workers: each used to kill the one
    # worker that read it
    for i in range(3 * (os.cpu_count() or 1) + 4):
        raw_udp4(udp_packet("QUERY", arena.event_id, seat, s["token"], req_id=i),
                 sport=0)
    assert udp("HOLD", arena.event_id, seat, s["token"])["status"] == "OK"
    r = requests.get(ticketd.base + "/readyz", timeout=5)
    assert r.status_code == 200, r.text
    assert r.json()["checks"]["udpDoor"] == "UP"
    assert outcome(ticketd.base, "source_dropped") >= before + 4


def test_short_long_and_wrong_magic_datagrams_get_no_reply(ticketd, arena):
    s = new_session(ticketd.base)
    seat = arena.take(1)[0]
    full = udp_packet("QUERY", arena.event_id, seat, s["token"])
    before = outcome(ticketd.base, "malformed_dropped")
    for data in (full[:16], full[:31], full[:39], full + b"\0",
                 b"\x54\x59" + full[2:]):
        assert udp_send(data, timeout=0.3) is None
    assert outcome(ticketd.base, "malformed_dropped") == before + 5
    # a full-length request with a bad field is still answered
    bad = bytearray(full)
    bad[39] = 1
    assert udp_send(bytes(bad)) is not None
