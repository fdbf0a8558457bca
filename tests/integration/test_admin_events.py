"""The admin API of the live catalogue (#17, docs/api.md "Admin: events")
against a real ticketd, MariaDB and Redis: an event created, published,
sold through both doors, its seats blocked, cancelled, audited, and seen by
a second ticketd on the same database, all without a restart."""
import copy
import os
import time

import pytest
import requests

from conftest import (PORTS, RUN_DIR, Ticketd, assert_error, auth, mariadb_sql,
                      new_session, udp)

ADMIN_KEY_PATH = os.path.join(RUN_DIR, "ticketd", "admin.key")

GALA = {
    "name": "Admin Gala", "venue": "Test Hall", "startsAt": "2030-05-01T19:00:00Z",
    "holdLimit": 4, "holdSeconds": 60,
    "categories": [{"id": 1, "name": "Premium", "price": 15000, "color": "#b03a2e"},
                   {"id": 2, "name": "Standard", "price": 8000, "color": "#2e86c1"}],
    "sections": [
        {"id": 1, "name": "Stalls", "rows": [
            {"label": "A", "seats": 6, "category": 1, "accessible": [1], "companions": [2],
             "blocked": [6]},
            {"label": "B", "seats": 4, "category": 2}]},
        {"id": 2, "name": "Balcony", "rows": [{"label": "C", "seats": 5, "category": 2}]}],
}


def admin_key():
    with open(ADMIN_KEY_PATH) as f:
        return f.read().strip()


def admin(method, path, body=None, key=None, base=None):
    return requests.request(method, (base or BASE[0]) + path, json=body,
                            headers=auth(key or admin_key()), timeout=10)


BASE = [None]


def own_address():
    """A non-loopback IPv4 address of this machine, or None."""
    import socket
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(("192.0.2.1", 9))  # no packet is sent: picks the route's source
            addr = s.getsockname()[0]
    except OSError:
        return None
    return None if addr.startswith("127.") else addr


@pytest.fixture(scope="module")
def gala(api):
    BASE[0] = api.base
    r = admin("POST", "/admin/events", GALA)
    assert r.status_code == 201, r.text
    ev = r.json()
    assert ev["state"] == "DRAFT" and (ev["rows"], ev["cols"]) == (3, 6)
    assert ev["seats"] == 15 and ev["blockedSeats"] == 1
    return ev


def test_a_draft_is_admin_only_then_published_without_a_restart(api, gala):
    eid = gala["id"]
    assert_error(requests.get(f"{api.base}/api/events/{eid}", timeout=5), 404,
                 "EVENT_NOT_FOUND")
    assert eid in [e["id"] for e in admin("GET", "/admin/events").json()]
    r = admin("POST", f"/admin/events/{eid}/publish")
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "PUBLISHED"
    assert_error(admin("POST", f"/admin/events/{eid}/publish"), 409, "EVENT_NOT_DRAFT")
    ev = requests.get(f"{api.base}/api/events/{eid}", timeout=5).json()
    assert ev["categories"] == GALA["categories"]
    assert ev["sections"] == [{"id": 1, "name": "Stalls"}, {"id": 2, "name": "Balcony"}]
    assert ev["saleStartsAt"] is None and ev["saleEndsAt"] is None
    # gaps (3) and the blocked seat count as sold: the contract's sum holds
    assert ev["available"] + ev["held"] + ev["sold"] == 18 and ev["available"] == 14
    m = requests.get(f"{api.base}/api/events/{eid}/seats", timeout=5).json()
    assert m["categories"] == GALA["categories"] and len(m["sections"]) == 2
    by_id = {s["id"]: s for s in m["seats"]}
    assert len(by_id) == 15 and 6 not in by_id  # B is centred: cell 6 is a gap
    assert by_id[0] == {"id": 0, "r": 0, "c": 0, "label": "A1", "price": 15000,
                        "section": 1, "category": 1, "accessible": True,
                        "status": "AVAILABLE"}
    assert by_id[1]["companion"] is True and "accessible" not in by_id[1]
    assert by_id[5]["status"] == "BLOCKED"
    assert by_id[7]["label"] == "B1" and by_id[7]["price"] == 8000
    assert by_id[12]["section"] == 2


def test_holds_in_both_doors_follow_the_event_s_policy(api, gala):
    eid = gala["id"]
    s = new_session(api.base)
    r = requests.post(f"{api.base}/api/reservations", headers=auth(s["token"]),
                      json={"eventId": eid, "seatIds": [0, 1]}, timeout=5)
    assert r.status_code == 201, r.text
    assert r.json()["holdSeconds"] == 60  # the event's default hold
    rep = udp("HOLD", eid, 2, s["token"])
    assert rep["status"] == "OK"
    left = rep["expiryMs"] - time.time() * 1000
    assert 50_000 < left <= 61_000  # the event's default in the UDP door too
    assert udp("HOLD", eid, 3, s["token"])["status"] == "OK"
    assert udp("HOLD", eid, 4, s["token"])["status"] == "LIMIT_EXCEEDED"  # holdLimit 4
    r = requests.post(f"{api.base}/api/reservations", headers=auth(s["token"]),
                      json={"eventId": eid, "seatIds": [7]}, timeout=5)
    assert_error(r, 422, "HOLD_LIMIT_EXCEEDED")
    assert r.json()["details"]["limit"] == 4
    # a blocked seat or a gap: neither door holds it
    t = new_session(api.base)
    assert udp("HOLD", eid, 5, t["token"])["status"] == "SOLD"
    assert udp("HOLD", eid, 6, t["token"])["status"] == "SOLD"


def test_a_blocked_seat_is_refused_by_both_doors_and_unblocked_again(api, gala):
    eid = gala["id"]
    r = admin("PUT", f"/admin/events/{eid}/blocked", {"seatIds": [8, 9], "blocked": True})
    assert r.status_code == 200, r.text
    s = new_session(api.base)
    assert udp("HOLD", eid, 8, s["token"])["status"] == "SOLD"
    assert_error(requests.post(f"{api.base}/api/reservations", headers=auth(s["token"]),
                               json={"eventId": eid, "seatIds": [9]}, timeout=5),
                 422, "SEAT_SOLD")
    m = requests.get(f"{api.base}/api/events/{eid}/seats", timeout=5).json()
    assert {x["id"]: x["status"] for x in m["seats"]}[8] == "BLOCKED"
    # a held seat cannot be blocked: nothing changes
    assert udp("HOLD", eid, 10, s["token"])["status"] == "OK"
    assert_error(admin("PUT", f"/admin/events/{eid}/blocked",
                       {"seatIds": [13, 10], "blocked": True}), 409, "SEAT_UNAVAILABLE")
    assert udp("QUERY", eid, 13, s["token"])["status"] == "OK"  # 13 stayed free
    r = admin("PUT", f"/admin/events/{eid}/blocked", {"seatIds": [9], "blocked": False})
    assert r.status_code == 200, r.text
    assert udp("HOLD", eid, 9, s["token"])["status"] == "OK"
    assert_error(admin("PUT", f"/admin/events/{eid}/blocked", {"seatIds": [6], "blocked": True}),
                 422, "VALIDATION_FAILED")  # a gap is no seat


def test_the_layout_changes_only_while_a_draft_and_bad_bodies_name_the_field(api, gala):
    eid = gala["id"]
    r = admin("PATCH", f"/admin/events/{eid}", {"name": "Admin Gala (late show)"})
    assert r.status_code == 200 and r.json()["name"] == "Admin Gala (late show)"
    # a published event's policy reaches both doors at once
    r = admin("PATCH", f"/admin/events/{eid}", {"holdLimit": 1})
    assert r.status_code == 200 and r.json()["holdLimit"] == 1
    s = new_session(api.base)
    assert udp("HOLD", eid, 15, s["token"])["status"] == "OK"
    assert udp("HOLD", eid, 13, s["token"])["status"] == "LIMIT_EXCEEDED"
    assert udp("RELEASE", eid, 15, s["token"])["status"] == "OK"
    assert admin("PATCH", f"/admin/events/{eid}", {"holdLimit": 4}).status_code == 200
    assert_error(admin("PATCH", f"/admin/events/{eid}", {"categories": GALA["categories"],
                                                        "sections": GALA["sections"]}),
                 409, "EVENT_NOT_DRAFT")
    bad = copy.deepcopy(GALA)
    bad["sections"][0]["rows"][0]["seats"] = 0
    body = assert_error(admin("POST", "/admin/events", bad), 422, "VALIDATION_FAILED")
    assert body["details"]["field"] == "sections[0].rows[0].seats"
    assert_error(admin("PATCH", "/admin/events/999999", {"name": "x"}), 404,
                 "EVENT_NOT_FOUND")


def test_admin_routes_refuse_without_the_key(api, gala):
    assert_error(requests.get(api.base + "/admin/events", timeout=5), 401, "UNAUTHORIZED")
    wrong = "0" * 64
    assert_error(requests.get(api.base + "/admin/events", headers=auth(wrong), timeout=5),
                 403, "FORBIDDEN")
    assert_error(requests.post(api.base + "/admin/events", json=GALA, headers=auth(wrong),
                               timeout=5), 403, "FORBIDDEN")
    assert_error(requests.get(api.base + "/admin/audit", timeout=5), 401, "UNAUTHORIZED")
    s = new_session(api.base)  # a buyer's token is no admin key
    assert_error(requests.post(f"{api.base}/admin/events/{gala['id']}/cancel",
                               headers=auth(s["token"]), timeout=5), 403, "FORBIDDEN")


def test_a_second_node_on_the_same_database_sees_a_new_event(api, gala):
    http_port, udp_port = PORTS["http"] + 30, PORTS["udp"] + 30
    d = Ticketd(name="ticketd-admin-b", extra_args=[
        "--http-addr", "0.0.0.0",  # so a non-loopback client can be refused
        "--http-port", str(http_port), "--udp-port", str(udp_port),
        "--state-dir", os.path.join(RUN_DIR, "ticketd-admin-b"), "--redis-port", "1",
        "--catalog-refresh-ms", "500"])
    d.start(wait_ready=False)
    try:
        other = f"http://127.0.0.1:{http_port}"
        body = dict(copy.deepcopy(GALA), name="Admin Encore")
        r = admin("POST", "/admin/events", body)
        assert r.status_code == 201, r.text
        eid = r.json()["id"]
        assert admin("POST", f"/admin/events/{eid}/publish").status_code == 200
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            got = requests.get(f"{other}/api/events/{eid}", timeout=5)
            if got.status_code == 200:
                break
            time.sleep(0.2)
        assert got.status_code == 200, got.text
        assert got.json()["name"] == "Admin Encore"
        s = new_session(other)
        assert udp("HOLD", eid, 0, s["token"], port=udp_port)["status"] == "OK"
        assert udp("HOLD", eid, 5, s["token"], port=udp_port)["status"] == "SOLD"  # blocked
        # the admin routes answer loopback clients only, even with the key
        addr = own_address()
        if addr:
            r = requests.get(f"http://{addr}:{http_port}/admin/events",
                             headers=auth(admin_key()), timeout=5)
            assert_error(r, 403, "FORBIDDEN")
            assert "loopback" in r.json()["message"]
    finally:
        d.stop()


def test_cancel_releases_holds_refuses_new_ones_and_is_audited(api, gala):
    import uuid
    eid = gala["id"]
    s = new_session(api.base)
    assert udp("HOLD", eid, 14, s["token"])["status"] == "OK"
    # a pending order of the event ends with it
    buyer = new_session(api.base)
    assert udp("HOLD", eid, 16, buyer["token"])["status"] == "OK"
    r = requests.post(f"{api.base}/api/orders", json={"eventId": eid, "seatIds": [16]},
                      headers={**auth(buyer["token"]), "Idempotency-Key": str(uuid.uuid4())},
                      timeout=10)
    assert r.status_code == 201, r.text
    oid = r.json()["orderId"]
    r = admin("POST", f"/admin/events/{eid}/cancel")
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "CANCELLED" and r.json()["ordersCancelled"] == 1
    o = requests.get(f"{api.base}/api/orders/{oid}", headers=auth(buyer["token"]), timeout=5)
    assert o.json()["status"] == "CANCELLED" and o.json()["reason"] == "EVENT_CANCELLED"
    assert udp("QUERY", eid, 16, s["token"])["status"] == "OK"  # the order's seat is free
    assert udp("QUERY", eid, 14, s["token"])["status"] == "OK"  # released
    assert udp("HOLD", eid, 14, s["token"])["status"] == "NOT_ADMITTED"
    body = assert_error(requests.post(f"{api.base}/api/reservations", headers=auth(s["token"]),
                                      json={"eventId": eid, "seatIds": [13]}, timeout=5),
                        403, "SALE_NOT_OPEN")
    assert body["details"]["state"] == "CANCELLED"
    assert_error(admin("POST", f"/admin/events/{eid}/cancel"), 409, "EVENT_CANCELLED")
    rows = admin("GET", f"/admin/audit?eventId={eid}&limit=50").json()
    actions = [a["action"] for a in rows]
    assert actions[0] == "cancel" and actions[-1] == "create"
    assert {"publish", "block", "unblock", "update"} <= set(actions)
    for a in rows:
        assert a["eventId"] == eid and a["client"] == "127.0.0.1"
        assert len(a["actor"]) == 16 and a["result"]
    assert rows[-1]["request"]["name"] == "Admin Gala"
    n = mariadb_sql(f"SELECT COUNT(*) FROM admin_audit WHERE event_id = {eid}")
    assert int(n.strip()) == len(rows)


def test_the_sale_window_closes_both_doors(api):
    body = dict(copy.deepcopy(GALA), name="Admin Later",
                saleStartsAt="2030-01-01T00:00:00Z")
    eid = admin("POST", "/admin/events", body).json()["id"]
    assert admin("POST", f"/admin/events/{eid}/publish").status_code == 200
    s = new_session(api.base)
    body = assert_error(requests.post(f"{api.base}/api/reservations", headers=auth(s["token"]),
                                      json={"eventId": eid, "seatIds": [0]}, timeout=5),
                        403, "SALE_NOT_OPEN")
    assert body["details"]["saleStartsAt"] == "2030-01-01T00:00:00.000Z"
    assert udp("HOLD", eid, 0, s["token"])["status"] == "NOT_ADMITTED"
    assert udp("QUERY", eid, 0, s["token"])["status"] == "OK"
    ev = requests.get(f"{api.base}/api/events/{eid}", timeout=5).json()
    assert ev["saleStartsAt"] == "2030-01-01T00:00:00.000Z"


def test_ticketctl_drives_the_admin_api(api, tmp_path):
    import json
    import subprocess
    from conftest import ROOT
    env = dict(os.environ, TICKET_URL=api.base, TICKET_ADMIN_KEY_FILE=ADMIN_KEY_PATH)
    ctl = os.path.join(ROOT, "build", "ticketctl")
    spec = tmp_path / "ev.json"
    spec.write_text(json.dumps(dict(GALA, name="Admin CLI")))

    def run(*args):
        return subprocess.run([ctl, "events", *args], env=env, capture_output=True,
                              text=True, timeout=30)
    out = run("create", str(spec), "--json")
    assert out.returncode == 0, out.stderr
    eid = json.loads(out.stdout)["id"]
    out = run("publish", str(eid))
    assert out.returncode == 0 and "PUBLISHED" in out.stdout, out.stderr
    out = run("block", str(eid), "8")
    assert out.returncode == 0 and "2 blocked" in out.stdout, out.stdout
    assert run("cancel", str(eid)).returncode == 0
    out = run("cancel", str(eid))
    assert out.returncode == 1 and "EVENT_CANCELLED" in out.stderr
    out = run("audit", str(eid), "--json")
    assert [a["action"] for a in json.loads(out.stdout)] == ["cancel", "block", "publish",
                                                             "create"]


def test_an_event_published_after_start_has_a_waiting_list(api):
    """The waiting lists follow the live catalogue: a sold-out event
    published while ticketd runs takes joins and makes offers."""
    BASE[0] = api.base
    body = {"name": "Admin Waitlist", "venue": "Test Hall", "startsAt": "2030-05-02T19:00:00Z",
            "categories": [{"id": 1, "name": "All", "price": 5000, "color": "#2e86c1"}],
            "sections": [{"id": 1, "name": "Hall", "rows": [{"label": "A", "seats": 2,
                                                             "category": 1}]}]}
    r = admin("POST", "/admin/events", body)
    assert r.status_code == 201, r.text
    eid = r.json()["id"]
    assert admin("POST", f"/admin/events/{eid}/publish").status_code == 200
    holder, waiter = new_session(api.base), new_session(api.base)
    r = requests.post(f"{api.base}/api/reservations", headers=auth(holder["token"]),
                      json={"eventId": eid, "seatIds": [0, 1]}, timeout=5)
    assert r.status_code == 201, r.text
    url = f"{api.base}/api/events/{eid}/waitlist"
    r = requests.post(url, headers=auth(waiter["token"]), json={"count": 1}, timeout=5)
    assert r.status_code == 201, r.text
    assert r.json()["position"] == 1
    r = requests.delete(f"{api.base}/api/reservations/{eid}/1",
                        headers=auth(holder["token"]), timeout=5)
    assert r.status_code == 204, r.text
    deadline = time.time() + 5
    while time.time() < deadline:
        offer = requests.get(url, headers=auth(waiter["token"]), timeout=5).json().get("offer")
        if offer:
            break
        time.sleep(0.05)
    assert offer and offer["seatIds"] == [1], offer
    assert requests.delete(url, headers=auth(waiter["token"]), timeout=5).status_code == 204
