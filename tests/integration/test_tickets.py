"""Signed tickets and check-in against a real ticketd, MariaDB, Kafka and
paymentd (docs/tickets.md: GET /api/orders/{id}/tickets, the QR images,
GET /api/tickets/key, POST /api/checkin, POST /api/checkin/batch)."""
import base64
import os
import struct
import threading
import xml.etree.ElementTree as ET

import pytest
import requests

from conftest import RUN_DIR, assert_error, auth, new_session
from test_orders import authorize, held_order, wait_final

ed25519 = pytest.importorskip("cryptography.hazmat.primitives.asymmetric.ed25519")

STATE_DIR = os.path.join(RUN_DIR, "ticketd")


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def scanner_auth():
    with open(os.path.join(STATE_DIR, "scanner.key")) as f:
        return auth(f.read().strip())


def public_key(api):
    r = requests.get(api.base + "/api/tickets/key", timeout=5)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["alg"] == "Ed25519" and body["format"] == "v1"
    return ed25519.Ed25519PublicKey.from_public_bytes(unb64url(body["publicKey"]))


def verify(pk, ticket):
    """The scanner's offline check (docs/tickets.md); raises when forged."""
    signed, sig = ticket.rsplit(".", 1)
    pk.verify(unb64url(sig), signed.encode())


def bought(api, arena, n=2, simulate="approve"):
    s, seats, o = held_order(api, arena, n)
    r = authorize(api.base, s["token"], o["orderId"], simulate)
    assert r.status_code in (200, 202), r.text
    final = wait_final(api.base, s["token"], o["orderId"], within=5)
    assert final["status"] == ("CONFIRMED" if simulate == "approve" else "CANCELLED"), final
    return s, sorted(seats), o["orderId"]


def tickets_of(api, token, order_id):
    return requests.get(f"{api.base}/api/orders/{order_id}/tickets", headers=auth(token),
                        timeout=5)


def checkin(api, ticket, scanner="gate-1", headers=None):
    return requests.post(api.base + "/api/checkin", headers=scanner_auth() if headers is None else headers,
                         json={"ticket": ticket, "scanner": scanner}, timeout=10)


@pytest.fixture
def confirmed(api, arena):
    s, seats, order_id = bought(api, arena)
    r = tickets_of(api, s["token"], order_id)
    assert r.status_code == 200, r.text
    return s, seats, order_id, r.json()


def test_confirmed_order_has_one_signed_ticket_per_seat(api, arena, confirmed):
    s, seats, order_id, body = confirmed
    pk = public_key(api)
    assert body["orderId"] == order_id and body["eventId"] == arena.event_id
    assert [t["seatId"] for t in body["tickets"]] == seats
    for serial, t in enumerate(body["tickets"], 1):
        assert t["serial"] == serial
        assert t["seatLabel"]
        assert t["ticket"].startswith(f"v1.{arena.event_id}.{t['seatId']}.{order_id}.{serial}.")
        assert t["png"] == f"/api/orders/{order_id}/tickets/{t['seatId']}.png"
        assert t["svg"] == f"/api/orders/{order_id}/tickets/{t['seatId']}.svg"
        verify(pk, t["ticket"])
    # derived, not stored: the same text every time
    assert tickets_of(api, s["token"], order_id).json() == body


def test_qr_codes_are_png_and_svg_images(api, confirmed):
    s, seats, order_id, body = confirmed
    t = body["tickets"][0]
    r = requests.get(api.base + t["png"], headers=auth(s["token"]), timeout=5)
    assert r.status_code == 200 and r.headers["Content-Type"] == "image/png"
    assert r.content[:8] == b"\x89PNG\r\n\x1a\n"
    length, kind, width, height, depth = struct.unpack(">I4sIIB", r.content[8:25])
    assert kind == b"IHDR" and width == height and width >= 21 * 6 and depth == 1
    assert r.content.endswith(b"\x00\x00\x00\x00IEND\xaeB`\x82")
    r = requests.get(api.base + t["svg"], headers=auth(s["token"]), timeout=5)
    assert r.status_code == 200 and r.headers["Content-Type"] == "image/svg+xml"
    root = ET.fromstring(r.content)
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert root.find("{http://www.w3.org/2000/svg}path") is not None


def test_tickets_are_the_buyers_and_only_for_confirmed_orders(api, arena, confirmed):
    s, seats, order_id, body = confirmed
    other = new_session(api.base)
    assert_error(tickets_of(api, other["token"], order_id), 404, "ORDER_NOT_FOUND")
    r = requests.get(api.base + body["tickets"][0]["png"], headers=auth(other["token"]),
                     timeout=5)
    assert_error(r, 404, "ORDER_NOT_FOUND")
    assert_error(requests.get(f"{api.base}/api/orders/{order_id}/tickets", timeout=5),
                 401, "UNAUTHORIZED")
    assert_error(tickets_of(api, s["token"], "ord_nosuchorder"), 404, "ORDER_NOT_FOUND")
    free_seat = arena.take(1)[0]
    r = requests.get(f"{api.base}/api/orders/{order_id}/tickets/{free_seat}.png",
                     headers=auth(s["token"]), timeout=5)
    assert_error(r, 404, "TICKET_NOT_FOUND")
    r = requests.get(f"{api.base}/api/orders/{order_id}/tickets/{seats[0]}.gif",
                     headers=auth(s["token"]), timeout=5)
    assert_error(r, 404, "NOT_FOUND")
    r = requests.get(f"{api.base}/api/orders/{order_id}/tickets/{seats[0]}.gif", timeout=5)
    assert_error(r, 401, "UNAUTHORIZED")
    ps, pseats, pending = held_order(api, arena, 1)
    body = assert_error(tickets_of(api, ps["token"], pending["orderId"]), 409,
                        "ORDER_NOT_CONFIRMED")
    assert body["details"]["status"] == "PENDING"


def test_a_ticket_checks_in_once(api, confirmed):
    s, seats, order_id, body = confirmed
    ticket = body["tickets"][0]["ticket"]
    assert_error(checkin(api, ticket, headers={}), 401, "UNAUTHORIZED")
    assert_error(checkin(api, ticket, headers=auth(s["token"])), 403, "FORBIDDEN")
    r = checkin(api, ticket, "gate-1")
    assert r.status_code == 200, r.text
    first = r.json()
    assert first["result"] == "accepted" and first["seatId"] == seats[0]
    assert first["orderId"] == order_id and first["scanner"] == "gate-1"
    again = assert_error(checkin(api, ticket, "gate-2"), 409, "ALREADY_USED")
    assert again["details"]["scanner"] == "gate-1"
    assert again["details"]["scannedAt"] == first["scannedAt"]
    # the other seat's ticket is its own
    assert checkin(api, body["tickets"][1]["ticket"]).status_code == 200


def test_racing_scanners_let_a_ticket_in_exactly_once(api, confirmed):
    ticket = confirmed[3]["tickets"][0]["ticket"]
    n = 8
    barrier = threading.Barrier(n)
    results = [None] * n
    headers = scanner_auth()

    def scan(i):
        barrier.wait(timeout=10)
        # two scanner names, so scans of one name race each other too
        results[i] = checkin(api, ticket, f"gate-{i % 2}", headers)

    threads = [threading.Thread(target=scan, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    codes = sorted(r.status_code for r in results)
    assert codes == [200] + [409] * (n - 1), [r.text for r in results]
    winner = [r.json()["scanner"] for r in results if r.status_code == 200][0]
    for r in results:
        if r.status_code == 409:
            assert r.json()["code"] == "ALREADY_USED"
            assert r.json()["details"]["scanner"] == winner


def test_forged_and_garbled_tickets_are_invalid(api, confirmed):
    ticket = confirmed[3]["tickets"][0]["ticket"]
    v, ev, seat, order_id, serial, sig = ticket.split(".")
    forged = ".".join([v, ev, str(int(seat) + 1), order_id, serial, sig])
    assert_error(checkin(api, forged), 422, "TICKET_INVALID")
    assert_error(checkin(api, "hello"), 422, "TICKET_INVALID")
    assert_error(checkin(api, ticket + "A"), 422, "TICKET_INVALID")
    r = requests.post(api.base + "/api/checkin", headers=scanner_auth(), json={}, timeout=5)
    assert_error(r, 422, "VALIDATION_FAILED")
    # another key's signature over a real ticket's fields
    other = ed25519.Ed25519PrivateKey.generate()
    signed = ticket.rsplit(".", 1)[0]
    assert_error(checkin(api, signed + "." + b64url(other.sign(signed.encode()))), 422,
                 "TICKET_INVALID")


def test_ticket_of_a_cancelled_order_is_void(api, arena):
    s, seats, order_id = bought(api, arena, 1, simulate="decline")
    assert_error(tickets_of(api, s["token"], order_id), 409, "ORDER_NOT_CONFIRMED")
    # a ticket the node signed before the order ended (signed here with its key)
    with open(os.path.join(STATE_DIR, "ticket_sign.key")) as f:
        key = ed25519.Ed25519PrivateKey.from_private_bytes(bytes.fromhex(f.read().strip()))
    signed = f"v1.{arena.event_id}.{seats[0]}.{order_id}.1"
    ticket = signed + "." + b64url(key.sign(signed.encode()))
    verify(public_key(api), ticket)
    body = assert_error(checkin(api, ticket), 409, "TICKET_VOID")
    assert body["details"]["orderStatus"] == "CANCELLED"


def test_offline_batch_reports_duplicates_with_the_winning_scan(api, confirmed):
    tickets = [t["ticket"] for t in confirmed[3]["tickets"]]
    scans = [
        {"ticket": tickets[0], "scannedAt": "2026-12-06T18:00:00.100Z", "scanner": "door-a"},
        {"ticket": tickets[0], "scannedAt": "2026-12-06T18:00:05.000Z", "scanner": "door-b"},
        {"ticket": "v1.1.2.x.1.nope", "scannedAt": "2026-12-06T18:00:06Z", "scanner": "door-b"},
        {"ticket": tickets[1], "scannedAt": "yesterday", "scanner": "door-b"},
        {"ticket": tickets[1], "scannedAt": "2026-12-06T18:01:00Z", "scanner": "door-b"},
    ]
    r = requests.post(api.base + "/api/checkin/batch", headers=scanner_auth(),
                      json={"scans": scans}, timeout=30)
    assert r.status_code == 200, r.text
    body = r.json()
    assert [x["result"] for x in body["results"]] == [
        "accepted", "duplicate", "invalid", "invalid", "accepted"]
    assert [x["index"] for x in body["results"]] == list(range(5))
    assert (body["accepted"], body["duplicate"], body["invalid"]) == (2, 1, 2)
    dup = body["results"][1]["firstScan"]
    assert dup == {"scanner": "door-a", "scannedAt": "2026-12-06T18:00:00.100Z"}
    # the same upload again (a scanner retrying after a lost answer)
    again = requests.post(api.base + "/api/checkin/batch", headers=scanner_auth(),
                          json={"scans": scans[:1]}, timeout=30).json()
    assert again["results"][0]["result"] == "accepted"
    assert again["results"][0]["replayed"] is True
    # online check-in after the offline upload: already used
    body = assert_error(checkin(api, tickets[1]), 409, "ALREADY_USED")
    assert body["details"]["scanner"] == "door-b"
    r = requests.post(api.base + "/api/checkin/batch", headers=scanner_auth(),
                      json={"scans": []}, timeout=5)
    assert_error(r, 422, "VALIDATION_FAILED")


# ---- ticketctl checkin (docs/ops/ticketctl.md#checkin) ----
import json  # noqa: E402
import subprocess  # noqa: E402

from conftest import ROOT  # noqa: E402

CTL = os.path.join(ROOT, "build", "ticketctl")


def ctl(*args):
    env = dict(os.environ, TICKET_SCANNER_KEY_FILE=os.path.join(STATE_DIR, "scanner.key"))
    return subprocess.run([CTL, "checkin", *args], capture_output=True, text=True, timeout=60,
                          env=env)


def test_ticketctl_checkin_exit_codes(api, confirmed):
    ticket = confirmed[3]["tickets"][0]["ticket"]
    url = ["--url", api.base]
    r = ctl(ticket, "--scanner", "ctl-1", *url)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("OK: seat ") and "ctl-1" in r.stdout
    r = ctl(ticket, "--json", *url)
    assert r.returncode == 3, r.stdout + r.stderr
    assert json.loads(r.stdout)["details"]["scanner"] == "ctl-1"
    r = ctl(ticket[:-2] + "AA", *url)
    assert r.returncode == 3 and "TICKET_INVALID" in r.stdout
    assert ctl(*url).returncode == 2
    assert ctl(ticket, "--bogus", *url).returncode == 2
    r = ctl(ticket, "--scanner-key-file", "/nonexistent", *url)
    assert r.returncode == 1
    r = ctl(ticket, "--url", "http://127.0.0.1:1")
    assert r.returncode == 1


def test_ticketctl_checkin_batch(api, confirmed, tmp_path):
    tickets = [t["ticket"] for t in confirmed[3]["tickets"]]
    url = ["--url", api.base]
    lines = tmp_path / "scans.jsonl"
    lines.write_text("\n".join(json.dumps(s) for s in [
        {"ticket": tickets[0], "scannedAt": "2026-12-06T19:00:00Z", "scanner": "door-x"},
        {"ticket": tickets[1], "scannedAt": "2026-12-06T19:00:01Z", "scanner": "door-x"},
    ]) + "\n")
    r = ctl("--batch", str(lines), *url)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "2 accepted, 0 duplicate" in r.stdout
    arr = tmp_path / "scans.json"
    arr.write_text(json.dumps([
        {"ticket": tickets[0], "scannedAt": "2026-12-06T19:05:00Z", "scanner": "door-y"}]))
    r = ctl("--batch", str(arr), "--json", *url)
    assert r.returncode == 3, r.stdout + r.stderr
    body = json.loads(r.stdout)
    assert body["duplicate"] == 1
    assert body["results"][0]["firstScan"]["scanner"] == "door-x"
    bad = tmp_path / "bad.jsonl"
    bad.write_text("not json\n")
    assert ctl("--batch", str(bad), *url).returncode == 1
