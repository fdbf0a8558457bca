"""Events and seat maps over REST, read from MariaDB and the seat table."""
import re

import requests

from conftest import assert_error


def test_demo_data_has_three_events_of_ten_by_ten(api):
    r = requests.get(api.base + "/api/events", timeout=5)
    assert r.status_code == 200
    events = [e for e in r.json() if e["venue"] != "Test Hall"]
    assert len(events) == 3
    for e in r.json():
        assert set(e) == {"id", "name", "venue", "startsAt", "rows", "cols",
                          "available", "held", "sold",
                          # #17, a contract addition (docs/api.md)
                          "saleStartsAt", "saleEndsAt", "categories", "sections"}
        assert isinstance(e["id"], int)
        assert e["available"] + e["held"] + e["sold"] == e["rows"] * e["cols"]
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", e["startsAt"])
    assert all((e["rows"], e["cols"]) == (10, 10) for e in events)


def test_one_event_equals_its_list_entry(api):
    first = requests.get(api.base + "/api/events", timeout=5).json()[0]
    r = requests.get(f"{api.base}/api/events/{first['id']}", timeout=5)
    assert r.status_code == 200
    assert r.json() == first


def test_seat_map_lists_every_seat_with_price_varying_by_row(api):
    eid = requests.get(api.base + "/api/events", timeout=5).json()[0]["id"]
    r = requests.get(f"{api.base}/api/events/{eid}/seats", timeout=5)
    assert r.status_code == 200
    body = r.json()
    assert body["eventId"] == eid and body["rows"] == 10 and body["cols"] == 10
    assert isinstance(body["version"], int)
    seats = body["seats"]
    assert [s["id"] for s in seats] == list(range(100))
    for s in seats:
        assert s["id"] == s["r"] * 10 + s["c"]
        assert s["status"] in ("AVAILABLE", "HELD", "SOLD")
        assert isinstance(s["price"], int) and s["price"] > 0
        assert s["label"]
    row_prices = {s["r"]: s["price"] for s in seats}
    assert len(set(row_prices.values())) > 1
    assert all(s["price"] == row_prices[s["r"]] for s in seats)


def test_unknown_event_is_404(api):
    for path in ("/api/events/999999", "/api/events/999999/seats"):
        assert_error(requests.get(api.base + path, timeout=5), 404, "EVENT_NOT_FOUND")


def test_non_numeric_event_id_is_400(api):
    for bad in ("abc", "-1", "1.5", "99999999999", "1e3"):
        for path in (f"/api/events/{bad}", f"/api/events/{bad}/seats"):
            assert_error(requests.get(api.base + path, timeout=5), 400,
                         "VALIDATION_FAILED")
