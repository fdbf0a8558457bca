#!/usr/bin/env python3
"""Writes the hand-made seeds of fuzz/corpus/<target>/ (committed; rerun
after changing a layout). Each seed is a valid input or an edge case the
fuzzer should start from; file names say which. Files named regress-* are
crash inputs of fixed bugs, kept by hand (this script leaves them alone)."""
import json
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
MAGIC = 0x5458
HOLD, RELEASE, EXTEND, QUERY = 1, 2, 3, 4


def put(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def req_v1(op, req_id=7, event=1, seat=3, token=bytes(16), secs=0, pad=bytes(6), version=1):
    return struct.pack(">HBBIII", MAGIC, version, op, req_id, event, seat) + token + struct.pack(">H", secs) + pad


def req_v2(op, req_id=7, event=1, seat=3, session=bytes(8), secs=120, mac=bytes(8)):
    # v2 (the "wire" helper's layout): 40 bytes, version 2, session id at
    # 16..24, hold seconds at 24, MAC at 32..40.
    return struct.pack(">HBBIII", MAGIC, 2, op, req_id, event, seat) + session + struct.pack(">H", secs) + bytes(6) + mac


def reply(op=HOLD, status=0, req_id=7, event=1, seat=3, counter=2, expiry=1733400000000):
    return struct.pack(">HBBIIIB3xIQ", MAGIC, 1, op | 0x80, req_id, event, seat, status, counter, expiry)


# ---- fuzz_udp_request: one datagram (or text) ----
T = "fuzz_udp_request"
put(T, "v1-hold", req_v1(HOLD, token=bytes(range(16))))
put(T, "v1-release", req_v1(RELEASE))
put(T, "v1-query", req_v1(QUERY))
put(T, "v1-extend-600", req_v1(EXTEND, secs=600))
put(T, "v1-hold-secs-4", req_v1(HOLD, secs=4))
put(T, "v1-op-5-daemon-only", req_v1(5))
put(T, "v1-pad-nonzero", req_v1(HOLD, pad=b"\0\0\0\0\0\1"))
put(T, "v1-short-16", req_v1(HOLD)[:16])
put(T, "v1-short-15", req_v1(HOLD)[:15])
put(T, "v1-long-41", req_v1(HOLD) + b"\0")
put(T, "bad-magic", b"XT" + req_v1(HOLD)[2:])
put(T, "v2-hold", req_v2(HOLD, session=bytes([0, 0, 0, 1, 0x7f, 0xff, 0xff, 0xff]), mac=bytes(range(8))))
put(T, "reply-ok", reply())
put(T, "reply-taken", reply(status=1))
put(T, "text-endpoint", "[::1]:7000")
put(T, "text-token", "00000001ffffffff0011223344556677")

# ---- fuzz_door: config byte, then records of ctrl[4] + datagram[40] ----
T = "fuzz_door"
TIDY, MINT, EXPIRED = 0x10, 0x04, 0x08


def rec(op, peer=0, slot=0, ev=1, seat=3, flags=TIDY | MINT, adv=0, length=0x80, secs=0, dgram=None):
    ctrl = bytes([(adv << 5) | flags | peer, slot, length, ((seat & 63) << 2) | ((ev - 1) & 3)])
    return ctrl + (dgram if dgram is not None else req_v1(op, secs=secs))


LIMIT8 = bytes([7])
put(T, "hold-release", LIMIT8 + rec(HOLD) + rec(QUERY) + rec(RELEASE))
put(T, "hold-taken-by-other", LIMIT8 + rec(HOLD, slot=0) + rec(HOLD, slot=1, peer=1) + rec(RELEASE, slot=1, peer=1))
put(T, "hold-extend-lapse-retake", LIMIT8 + rec(HOLD, secs=5) + rec(EXTEND, secs=10) + rec(QUERY, adv=6) + rec(HOLD, slot=1, adv=0))
put(T, "hold-limit-2", bytes([1]) + b"".join(rec(HOLD, seat=s) for s in range(4)))
put(T, "hold-limit-8-two-events", LIMIT8 + b"".join(rec(HOLD, seat=s) for s in range(9)) + b"".join(rec(HOLD, ev=2, seat=s) for s in range(3)))
put(T, "expired-token", LIMIT8 + rec(HOLD, flags=TIDY | MINT | EXPIRED))
put(T, "invalid-slots", LIMIT8 + rec(HOLD, slot=6) + rec(HOLD, slot=7) + rec(HOLD, slot=4))
put(T, "not-owned-absent-out-of-range", LIMIT8 + rec(HOLD, ev=3) + rec(HOLD, ev=4) + rec(HOLD, seat=40) + rec(HOLD, ev=2, seat=8))
put(T, "rate-limited", bytes([0x10]) + b"".join(rec(HOLD, seat=s, peer=3) for s in range(4)))
put(T, "short-and-long", LIMIT8 + rec(HOLD, length=15) + rec(HOLD, length=16) + rec(HOLD, length=39) + rec(HOLD, length=41))
put(T, "forged-token", LIMIT8 + rec(HOLD, flags=TIDY, dgram=req_v1(HOLD, token=bytes(range(16)))))
put(T, "v2-hold", LIMIT8 + rec(HOLD, flags=0, dgram=req_v2(HOLD)))

# ---- fuzz_http: selector byte, then the input ----
T = "fuzz_http"
BODY, PATH, IDEM, LAST, BEARER, GENUINE, TRACE = range(7)


def http(sel, text):
    return bytes([sel]) + (text.encode() if isinstance(text, str) else text)


put(T, "body-reserve", http(BODY, json.dumps({"eventId": 1, "seatIds": [1, 2, 3], "holdSeconds": 60})))
put(T, "body-reserve-one", http(BODY, '{"eventId":1,"seatId":5}'))
put(T, "body-both", http(BODY, '{"eventId":1,"seatId":5,"seatIds":[5]}'))
put(T, "body-nine-seats", http(BODY, json.dumps({"eventId": 1, "seatIds": list(range(9))})))
put(T, "body-duplicate-seats", http(BODY, '{"eventId":1,"seatIds":[4,4]}'))
put(T, "body-big-ints", http(BODY, '{"eventId":4294967296,"seatIds":[-1,9223372036854775807],"holdSeconds":1e3}'))
put(T, "body-duplicate-key", http(BODY, '{"eventId":1,"eventId":2}'))
put(T, "body-extend", http(BODY, '{"seconds":120}'))
put(T, "body-pay", http(BODY, '{"orderId":"0123456789abcdef0123456789abcdef01234567","simulate":"approve"}'))
put(T, "body-pay-bad-simulate", http(BODY, '{"orderId":"o1","simulate":true}'))
put(T, "body-not-object", http(BODY, "[1,2,3]"))
put(T, "body-nul", http(BODY, b'{"eventId":1\x00}'))
put(T, "body-deep", http(BODY, "[" * 200 + "]" * 200))
put(T, "path-extend", http(PATH, "/api/reservations/1/2/extend"))
put(T, "path-delete-overflow", http(PATH, "/api/reservations/4294967296/01"))
put(T, "path-stream", http(PATH, "/api/events/7/seats/stream"))
put(T, "path-order", http(PATH, "/api/orders/abc"))
put(T, "idempotency", http(IDEM, "order-2024-0001"))
put(T, "idempotency-65", http(IDEM, "k" * 65))
put(T, "last-event-id-max", http(LAST, "18446744073709551615"))
put(T, "last-event-id-over", http(LAST, "18446744073709551616"))
put(T, "bearer", http(BEARER, "Bearer 00000001ffffffff0011223344556677"))
put(T, "bearer-genuine", http(GENUINE, b"\x00\x05bearer   "))
put(T, "traceparent", http(TRACE, "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"))
put(T, "traceparent-future", http(TRACE, "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra"))

# ---- fuzz_room_ticket: a queue ticket string ----
T = "fuzz_room_ticket"
put(T, "valid-shape", "v1.5.17.1764967000123." + "0" * 64)
put(T, "prequeue", "v1.5.0.1764967000123." + "a" * 64)
put(T, "max-fields", "v1.4294967295.18446744073709551615.9223372036854775807." + "f" * 64)
put(T, "leading-zero", "v1.05.1.1." + "0" * 64)
put(T, "uppercase-mac", "v1.5.1.1." + "A" * 64)
put(T, "short-mac", "v1.5.1.1." + "0" * 63)

# ---- fuzz_ticket: a signed ticket (docs/tickets.md) ----
# Signed with the harness's fixed key (seed of 32 bytes 7) when Python's
# cryptography package is there, so the fuzzer starts from tickets that
# verify; otherwise only the unsigned shapes are written.
T = "fuzz_ticket"
SIG0 = "A" * 86
put(T, "shape-zero-sig", "v1.1.5.ord_0123456789abcdef01234567.1." + SIG0)
put(T, "max-fields", "v1.4294967295.4294967295." + "o" * 40 + ".4294967295." + SIG0)
put(T, "leading-zero", "v1.01.5.ord_a.1." + SIG0)
put(T, "padded-sig", "v1.1.5.ord_a.1." + SIG0 + "==")
put(T, "serial-zero", "v1.1.5.ord_a.0." + SIG0)
try:
    import base64
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    _key = Ed25519PrivateKey.from_private_bytes(bytes([7]) * 32)
    for name, text in [("signed", "v1.3.42.ord_0123456789abcdef01234567.2"),
                       ("signed-min", "v1.0.0.o.1")]:
        sig = base64.urlsafe_b64encode(_key.sign(text.encode())).rstrip(b"=").decode()
        put(T, name, text + "." + sig)
except ImportError:
    pass


# ---- fuzz_best: rows, cols, count, then one bit per seat (1 = taken) ----
T = "fuzz_best"
put(T, "10x10-empty-2", bytes([9, 9, 2]) + bytes(13))
put(T, "10x10-full-1", bytes([9, 9, 1]) + b"\xff" * 13)
put(T, "10x10-checker-3", bytes([9, 9, 3]) + b"\x55" * 13)
put(T, "1x1-free-1", bytes([0, 0, 1, 0]))
put(T, "1x8-count-8", bytes([0, 7, 8, 0]))
put(T, "40x40-sparse-8", bytes([39, 39, 8]) + b"\xf7" * 200)
put(T, "3x10-orphan-3", bytes([2, 9, 3]) + bytes([0x03, 0x03, 0x0c, 0x0c]))
put(T, "count-0", bytes([4, 4, 0]))
put(T, "count-9", bytes([4, 4, 9]))


# ---- fuzz_waitlist: 3 bytes an operation: op % 6 (0 join, 1 leave, 2 seat
# freed, 3 time passes, 4 an offered seat ordered, 5 refuse a slot), a, b ----
T = "fuzz_waitlist"
put(T, "join-two-free-one", bytes([0, 1, 1, 0, 2, 0, 2, 5, 120]))
put(T, "offer-lapses-to-next", bytes([0, 1, 0, 0, 2, 0, 2, 5, 3, 3, 0, 5, 2, 5, 3]))
put(T, "partial-offer-grows", bytes([0, 1, 3, 0, 2, 0, 2, 1, 60, 3, 0, 10, 2, 2, 60, 2, 3, 60]))
put(T, "ordered-offer-leaves", bytes([0, 1, 1, 2, 4, 30, 4, 4, 0]))
put(T, "leave-with-offer", bytes([0, 1, 2, 2, 4, 30, 1, 1, 0, 2, 4, 30]))
put(T, "expired-session-skipped", bytes([0, 1, 0x80, 0, 2, 0, 3, 0, 5, 2, 6, 30]))
put(T, "refused-then-next", bytes([5, 1, 1, 0, 1, 0, 0, 2, 0, 2, 7, 30]))
put(T, "fill-and-churn", b"".join(bytes([0, i, 1]) for i in range(40)) +
    b"".join(bytes([1, i, 0]) for i in range(0, 40, 2)) + b"".join(bytes([0, 40 + i, 2]) for i in range(8)))
