"""The monitoring files against the real ticketd (issue #15,
docs/ops/monitoring.md): every ticketd_/paymentd_ metric that the alert rules
(infra/prometheus/alerts.yml) and the Grafana dashboard
(infra/grafana/ticketing-dashboard.json) name is exported by a running
ticketd or paymentd, after a little traffic that makes the series which only
appear with use (route histograms, a waiting room, orders); and the two
metrics added for the alerts: ticketd_ready follows /readyz, and
ticketd_orders_deadline_missed_total counts orders cancelled at their
payment deadline."""
import glob
import json
import os
import re
import time
import uuid

import pytest
import requests

from conftest import PORTS, ROOT, RUN_DIR, auth, infra, mariadb_sql, new_session

RULES = os.path.join(ROOT, "infra", "prometheus", "alerts.yml")
DASHBOARD = os.path.join(ROOT, "infra", "grafana", "ticketing-dashboard.json")
NAME = re.compile(r"\b(?:ticketd|paymentd)_[a-z0-9_]+")
ROOM_EVENT = "Metrics Room Test"
DEADLINE_SECONDS = 5  # the smallest payment_deadline_seconds ticketd takes

# Series that exist only on the bpf backend (pinned maps); the suite's
# ticketd runs on shm where BPF is unavailable (not root, no bpffs).
BPF_ONLY = {"ticketd_bpf_ringbuf_unread_bytes", "ticketd_bpf_ringbuf_size_bytes"}


def used_names():
    """ticketd_/paymentd_ names in the rules (comments left out) and the
    dashboard (queries, descriptions)."""
    with open(RULES) as f:
        rules = "".join(line for line in f if not line.lstrip().startswith("#"))
    with open(DASHBOARD) as f:
        dash = json.dumps(json.load(f))
    return set(NAME.findall(rules)) | set(NAME.findall(dash))


def exported_names(text):
    """Sample names of one Prometheus text scrape."""
    return {re.split(r"[{ ]", line, 1)[0] for line in text.splitlines()
            if line and not line.startswith("#")}


def sample(text, name):
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(f"{name} not in /metrics")


def scrape(base):
    r = requests.get(base + "/metrics", timeout=5)
    assert r.status_code == 200
    return r.text


def restart(ticketd, *extra):
    """As test_edge_inspect.py: the base arguments, then extra."""
    ticketd.stop()
    ticketd.args = ticketd.args[:ticketd.args.index("--log-level") + 2] + list(extra)
    ticketd.start()


def admin_put(base, event_id, **fields):
    with open(os.path.join(RUN_DIR, "ticketd", "admin.key")) as f:
        key = f.read().strip()
    r = requests.put(f"{base}/admin/events/{event_id}/room", json=fields, timeout=5,
                     headers=auth(key))
    assert r.status_code == 200, r.text


def held_order(base, event_id, seat_ids):
    s = new_session(base)
    r = requests.post(base + "/api/reservations", headers=auth(s["token"]), timeout=10,
                      json={"eventId": event_id, "seatIds": seat_ids})
    assert r.status_code == 201, r.text
    r = requests.post(base + "/api/orders", timeout=10,
                      headers={**auth(s["token"]), "Idempotency-Key": str(uuid.uuid4())},
                      json={"eventId": event_id, "seatIds": seat_ids})
    assert r.status_code == 201, r.text
    return s, r.json()["orderId"]


def wait_final(base, token, order_id, within):
    deadline = time.monotonic() + within
    while True:
        o = requests.get(f"{base}/api/orders/{order_id}", headers=auth(token),
                         timeout=5).json()
        if o["status"] != "PENDING" or time.monotonic() > deadline:
            return o
        time.sleep(0.1)


@pytest.fixture(scope="module")
def traffic(ticketd, paymentd, arena):
    """ticketd restarted on the bpf backend where it can be (--hold-path auto,
    as test_edge_inspect.py) with a 5 s payment deadline and an event of its
    own for a waiting room; then holds, an approved order, an order left
    unpaid past its deadline and a room switched on. Yields the scrapes of
    ticketd and paymentd and the deadline counters before and after."""
    have = int(mariadb_sql(f"SELECT COUNT(*) FROM events WHERE name = '{ROOM_EVENT}'"))
    if not have:  # the catalogue is loaded at start: before the restart
        mariadb_sql(
            f"INSERT INTO events (name, venue, starts_at, seat_rows, seat_cols) "
            f"VALUES ('{ROOM_EVENT}', 'Test Hall', '2030-01-01 20:00:00', 2, 2); "
            f"INSERT INTO seats (event_id, seat_id, r, c, label, price) "
            f"SELECT LAST_INSERT_ID(), seq, seq DIV 2, seq MOD 2, CONCAT('M', seq), 1000 "
            f"FROM seq_0_to_3")
    restart(ticketd, "--hold-path", "auto",
            "--payment-deadline-seconds", str(DEADLINE_SECONDS))
    base = ticketd.base
    room_event = [e["id"] for e in requests.get(base + "/api/events", timeout=5).json()
                  if e["name"] == ROOM_EVENT][0]
    try:
        missed_before = sample(scrape(base), "ticketd_orders_deadline_missed_total")
        seats = arena.take(3)
        # an order paid at once: CONFIRMED, a gateway decision, a Kafka trip
        s, paid = held_order(base, arena.event_id, seats[:2])
        r = requests.post(base + "/api/payments/authorize", headers=auth(s["token"]),
                          json={"orderId": paid, "simulate": "approve"}, timeout=30)
        assert r.status_code in (200, 202), r.text
        # an order nobody pays: cancelled at its deadline
        u, unpaid = held_order(base, arena.event_id, seats[2:])
        admin_put(base, room_event, enabled=True, ratePerSecond=1000, activeMax=1000,
                  startsAt=None)
        try:
            v = new_session(base)
            r = requests.post(f"{base}/api/events/{room_event}/room",
                              headers=auth(v["token"]), timeout=5)
            assert r.status_code == 200, r.text
            assert wait_final(base, s["token"], paid, 10)["status"] == "CONFIRMED"
            final = wait_final(base, u["token"], unpaid, DEADLINE_SECONDS + 5)
            assert final["status"] == "CANCELLED", final
            assert final["reason"] == "PAYMENT_DEADLINE", final
            text = scrape(base)
        finally:
            admin_put(base, room_event, enabled=False)
        pay = requests.get(f"http://127.0.0.1:{PORTS['paymentd']}/metrics", timeout=5).text
        yield {"ticketd": text, "paymentd": pay, "missed_before": missed_before,
               "missed_after": sample(text, "ticketd_orders_deadline_missed_total")}
    finally:
        restart(ticketd)


def test_the_files_name_metrics_at_all():
    names = used_names()
    assert len(names) > 40, sorted(names)
    assert "ticketd_bpf_map_entries" in names and "ticketd_journal_lag_seconds" in names


def test_every_metric_the_rules_and_dashboard_use_is_exported(traffic):
    exported = exported_names(traffic["ticketd"]) | exported_names(traffic["paymentd"])
    on_bpf = 'ticketd_edge_backend{backend="bpf"} 1' in traffic["ticketd"]
    # a histogram's family name (in a description) stands for its _bucket
    missing = {n for n in used_names() - exported if n + "_bucket" not in exported}
    if not on_bpf:
        # shm backend: the ring buffer has no series; they must still be
        # written by the bpf branch of the source
        src = open(os.path.join(ROOT, "userspace", "ticketd", "rest",
                                "routes_health.c")).read()
        for name in BPF_ONLY:
            assert f'"{name} ' in src, name
        missing -= BPF_ONLY
    assert not missing, f"named in alerts.yml or the dashboard, not exported: {sorted(missing)}"


def test_histograms_the_quantiles_use_have_buckets(traffic):
    text = traffic["ticketd"]
    assert 'ticketd_http_request_duration_seconds_bucket{route="/api/reservations",le="+Inf"}' in text
    assert 'ticketd_http_request_duration_seconds_bucket{route="/api/orders",le="+Inf"}' in text
    assert "ticketd_outbox_publish_delay_seconds_bucket{" in text
    assert "ticketd_sse_fanout_delay_seconds_bucket{" in text


def test_the_routes_the_queries_filter_on_exist(traffic):
    """The dashboard and the rules filter on route="..." labels: each is a
    route ticketd reports."""
    with open(DASHBOARD) as f:
        dash = json.dumps(json.load(f))
    with open(RULES) as f:
        rules = f.read()
    wanted = set(re.findall(r'route=\\?"(/[^"\\]*)\\?"', dash + rules))
    have = set(re.findall(r'route="([^"]*)"', traffic["ticketd"]))
    assert wanted and wanted <= have, sorted(wanted - have)


def test_deadline_cancellation_is_counted_as_missed(traffic):
    # other tests' unpaid orders may reach their deadline meanwhile: at least one
    assert traffic["missed_after"] >= traffic["missed_before"] + 1


def test_ready_gauge_follows_readyz(ticketd):
    base = ticketd.base
    assert requests.get(base + "/readyz", timeout=5).status_code == 200
    assert sample(scrape(base), "ticketd_ready") == 1
    infra("redis.sh", "stop")
    try:
        deadline = time.monotonic() + 10
        while requests.get(base + "/readyz", timeout=5).status_code != 503:
            assert time.monotonic() < deadline, "/readyz still 200 with Redis stopped"
            time.sleep(0.2)
        text = scrape(base)
        assert sample(text, "ticketd_ready") == 0
        assert 'ticketd_dependency_up{part="redis"} 0' in text
    finally:
        infra("redis.sh", "start")
    deadline = time.monotonic() + 10
    while requests.get(base + "/readyz", timeout=5).status_code != 200:
        assert time.monotonic() < deadline, "/readyz not 200 after Redis came back"
        time.sleep(0.2)
    assert sample(scrape(base), "ticketd_ready") == 1
