"""Error model, trace ids, sessions, health, readiness and metrics."""
import re
import time

import requests

from conftest import assert_error, auth, infra, new_session

HEX32 = re.compile(r"[0-9a-f]{32}")


def test_every_response_has_a_trace_id(api):
    for path in ("/api/events", "/healthz", "/no/such/route", "/api/events/x"):
        r = requests.get(api.base + path, timeout=5)
        assert HEX32.fullmatch(r.headers["Trace-Id"]), path


def test_traceparent_trace_id_is_honoured(api):
    tp = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    r = requests.get(api.base + "/api/events/nope", headers={"traceparent": tp},
                     timeout=5)
    assert r.headers["Trace-Id"] == "0af7651916cd43dd8448eb211c80319c"
    assert r.json()["traceId"] == "0af7651916cd43dd8448eb211c80319c"


def test_malformed_traceparent_gets_a_fresh_trace_id(api):
    r = requests.get(api.base + "/healthz", headers={"traceparent": "00-zz-yy-01"},
                     timeout=5)
    assert HEX32.fullmatch(r.headers["Trace-Id"])


def test_unknown_route_is_404_not_found(api):
    assert_error(requests.get(api.base + "/api/nothing", timeout=5), 404, "NOT_FOUND")


def test_wrong_method_is_405(api):
    assert_error(requests.delete(api.base + "/api/events", timeout=5), 405,
                 "METHOD_NOT_ALLOWED")


def test_create_session_returns_token_of_id_and_tag(api):
    r = requests.post(api.base + "/api/sessions", timeout=5)
    assert r.status_code == 201, r.text
    body = r.json()
    assert re.fullmatch(r"[0-9a-f]{16}", body["sessionId"])
    assert HEX32.fullmatch(body["token"])
    assert body["token"].startswith(body["sessionId"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", body["expiresAt"])


def test_sessions_are_distinct(api):
    ids = {requests.post(api.base + "/api/sessions", timeout=5).json()["sessionId"]
           for _ in range(20)}
    assert len(ids) == 20


def test_session_with_malformed_json_body_is_400(api):
    r = requests.post(api.base + "/api/sessions", data="{not json",
                      headers={"Content-Type": "application/json"}, timeout=5)
    assert_error(r, 400, "MALFORMED_JSON")


def test_session_with_non_object_body_is_422(api):
    r = requests.post(api.base + "/api/sessions", data="[1,2]", timeout=5)
    assert_error(r, 422, "VALIDATION_FAILED")


def test_huge_body_is_413_and_server_keeps_serving(api):
    r = requests.post(api.base + "/api/sessions", data=b"{" + b" " * (2 << 20) + b"}",
                      timeout=10)
    assert_error(r, 413, "PAYLOAD_TOO_LARGE")
    assert requests.get(api.base + "/healthz", timeout=5).status_code == 200


def test_healthz_is_up(api):
    r = requests.get(api.base + "/healthz", timeout=5)
    assert r.status_code == 200 and r.json() == {"status": "UP"}


def test_readyz_reports_every_part_and_the_hold_path(api):
    r = requests.get(api.base + "/readyz", timeout=5)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "UP"
    assert body["holdPath"] in ("xdp", "socket")
    assert set(body["checks"]) == {"redis", "database", "kafka", "seatTable", "udpDoor"}


def test_metrics_count_requests_by_route_and_status(api):
    requests.get(api.base + "/api/events/424242", timeout=5)
    text = requests.get(api.base + "/metrics", timeout=5).text
    assert "# TYPE ticketd_http_requests_total counter" in text
    assert re.search(r'ticketd_http_requests_total\{route="/api/events/\{id\}",'
                     r'method="GET",status="404"\} [1-9]', text)
    assert re.search(r'ticketd_http_request_duration_seconds_bucket\{route="/api/events",'
                     r'le="\+Inf"\} [1-9]', text)
    assert 'ticketd_hold_path{path="' in text
    samples = [l.rsplit(" ", 1)[0] for l in text.splitlines() if l and not l.startswith("#")]
    dups = {x for x in samples if samples.count(x) > 1}
    assert not dups, f"series rendered twice: {sorted(dups)[:5]}"


def test_metrics_count_seat_changes_by_status(api, arena):
    def count(status):
        text = requests.get(api.base + "/metrics", timeout=5).text
        m = re.search(rf'^ticketd_seat_changes_total{{status="{status}"}} (\d+)$', text, re.M)
        assert m, text[-2000:]
        return int(m.group(1))

    held, available = count("HELD"), count("AVAILABLE")
    token = new_session(api.base)["token"]
    seat = arena.take(1)[0]
    r = requests.post(api.base + "/api/reservations", headers=auth(token), timeout=10,
                      json={"eventId": arena.event_id, "seatIds": [seat]})
    assert r.status_code == 201, r.text
    requests.delete(f"{api.base}/api/reservations/{arena.event_id}/{seat}",
                    headers=auth(token), timeout=10)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and (count("HELD") <= held or count("AVAILABLE") <= available):
        time.sleep(0.05)
    assert count("HELD") > held and count("AVAILABLE") > available


def test_logs_are_json_lines_with_trace_ids(ticketd, api):
    tp = "00-11111111111111111111111111111111-2222222222222222-01"
    requests.get(api.base + "/api/events", headers={"traceparent": tp}, timeout=5)
    time.sleep(0.2)
    lines = ticketd.log_lines()
    assert lines and all("ts" in l and "level" in l and "msg" in l for l in lines)
    assert any(l.get("traceId") == "1" * 32 and l.get("route") == "/api/events"
               for l in lines)


def test_readyz_names_redis_when_it_is_down_and_recovers(api):
    infra("redis.sh", "stop")
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            r = requests.get(api.base + "/readyz", timeout=5)
            if r.status_code == 503:
                break
            time.sleep(0.2)
        assert r.status_code == 503
        assert r.json()["down"] == ["redis"]
        assert r.json()["checks"]["redis"]["status"] == "DOWN"
        # the process still serves while a dependency is down
        assert requests.get(api.base + "/api/events", timeout=5).status_code == 200
    finally:
        infra("redis.sh", "start")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if requests.get(api.base + "/readyz", timeout=5).status_code == 200:
            break
        time.sleep(0.2)
    assert requests.get(api.base + "/readyz", timeout=5).status_code == 200


def test_every_response_says_nosniff(api):
    for method, path in (("GET", "/api/events"), ("GET", "/healthz"),
                         ("GET", "/metrics"), ("GET", "/no/such/route"),
                         ("POST", "/api/sessions"), ("GET", "/")):
        r = requests.request(method, api.base + path, timeout=5)
        assert r.headers["X-Content-Type-Options"] == "nosniff", path


def test_web_page_and_its_files_carry_csp_and_referrer_policy(api):
    page = requests.get(api.base + "/", timeout=5)
    assert page.status_code == 200
    asset = re.search(r'src="(/assets/[^"]+\.js)"', page.text).group(1)
    for r in (page, requests.get(api.base + asset, timeout=5),
              requests.get(api.base + "/assets/missing.js", timeout=5)):
        csp = r.headers["Content-Security-Policy"]
        for directive in ("default-src 'self'", "connect-src 'self'",
                          "object-src 'none'", "base-uri 'none'",
                          "frame-ancestors 'none'"):
            assert directive in csp, (r.url, csp)
        assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
        assert r.headers["Referrer-Policy"] == "no-referrer"
    # the API's JSON does not need a page policy
    assert "Content-Security-Policy" not in requests.get(
        api.base + "/api/events", timeout=5).headers
