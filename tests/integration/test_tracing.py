"""Tracing (issue #15, docs/ops/tracing.md): ticketd and paymentd export
spans over OTLP/HTTP JSON to a collector URL. A tiny collector inside the
test (http.server on a free loopback port) keeps every POSTed body; ticketd
and paymentd are restarted pointing at it, a hold, an order and a payment
are made with the caller's traceparent, and the span tree is checked: the
HTTP server spans continue the caller's trace under its span, the saga,
payment and outbox spans are their children, paymentd's span is a child of
ticketd's payment call, and the Kafka message carried the traceparent (the
saga consumer's kafka.consume span is a child of outbox.send). Tracing off
(the default) sends nothing, and a collector that never answers does not
slow requests: spans are dropped and counted instead. Runs against real
MariaDB, Kafka and paymentd."""
import http.server
import json
import socket
import threading
import time
import uuid

import pytest
import requests

from conftest import new_session
from test_orders import authorize, hold, order, wait_final
from test_overload import metric, restart  # noqa: F401 (restart: fixture)

TRACE_ID = uuid.uuid4().hex
CALLER = {  # the caller's client span per request
    "hold": "a1" + uuid.uuid4().hex[:14],
    "order": "a2" + uuid.uuid4().hex[:14],
    "pay": "a3" + uuid.uuid4().hex[:14],
}


def traceparent(parent):
    return f"00-{TRACE_ID}-{parent}-01"


class Collector:
    """OTLP/HTTP JSON receiver: keeps the body of every POST /v1/traces."""

    def __init__(self):
        self.bodies = []
        self.lock = threading.Lock()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                n = int(self.headers.get("Content-Length", 0))
                body = self.rfile.read(n)
                ok = self.path == "/v1/traces" and \
                    self.headers.get("Content-Type", "").startswith("application/json")
                if ok:
                    with outer.lock:
                        outer.bodies.append(json.loads(body))
                self.send_response(200 if ok else 400)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *a):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1/traces"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def spans(self):
        """(service.name, span) for every span received so far."""
        out = []
        with self.lock:
            bodies = list(self.bodies)
        for b in bodies:
            for rs in b["resourceSpans"]:
                attrs = {a["key"]: a["value"] for a in rs["resource"]["attributes"]}
                svc = attrs["service.name"]["stringValue"]
                for ss in rs["scopeSpans"]:
                    out += [(svc, s) for s in ss["spans"]]
        return out

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def collector():
    c = Collector()
    yield c
    c.close()


def attr(span, key):
    for a in span.get("attributes", []):
        if a["key"] == key:
            v = a["value"]
            return v.get("stringValue", v.get("intValue"))
    return None


def wait_spans(c, pred, within=10.0):
    """The spans received once pred(spans) holds (or at the deadline)."""
    deadline = time.monotonic() + within
    while True:
        got = c.spans()
        if pred(got) or time.monotonic() > deadline:
            return got
        time.sleep(0.1)


def tree(spans):
    """The spans as an indented tree (for failure messages and the docs)."""
    ids = {s["spanId"] for _, s in spans}
    kids = {}
    for svc, s in spans:
        kids.setdefault(s.get("parentSpanId") if s.get("parentSpanId") in ids else None,
                        []).append((svc, s))
    lines = []

    def walk(parent, depth):
        for svc, s in sorted(kids.get(parent, []), key=lambda x: int(x[1]["startTimeUnixNano"])):
            lines.append("  " * depth + f"{svc}: {s['name']}")
            walk(s["spanId"], depth + 1)
    walk(None, 0)
    return "\n".join(lines)


def one(spans, **want):
    found = [(svc, s) for svc, s in spans
             if all((svc if k == "service" else s.get(k)) == v for k, v in want.items())]
    assert found, f"no span with {want} among " + \
        json.dumps(sorted({(svc, s['name']) for svc, s in spans}))
    return found


def test_a_purchase_is_one_span_tree_from_the_callers_traceparent(
        api, arena, restart, collector):
    restart(("--otlp-traces-url", collector.url),
            ("--otlp-traces-url", collector.url))
    s = new_session(api.base)
    tok, seats = s["token"], arena.take(1)
    h = {"Authorization": f"Bearer {tok}"}

    r = requests.post(api.base + "/api/reservations", timeout=10,
                      headers={**h, "traceparent": traceparent(CALLER["hold"])},
                      json={"eventId": arena.event_id, "seatIds": seats})
    assert r.status_code == 201, r.text
    assert r.headers["Trace-Id"] == TRACE_ID
    r = requests.post(api.base + "/api/orders", timeout=10,
                      headers={**h, "traceparent": traceparent(CALLER["order"]),
                               "Idempotency-Key": str(uuid.uuid4())},
                      json={"eventId": arena.event_id, "seatIds": seats})
    assert r.status_code == 201, r.text
    oid = r.json()["orderId"]
    r = requests.post(api.base + "/api/payments/authorize", timeout=30,
                      headers={**h, "traceparent": traceparent(CALLER["pay"])},
                      json={"orderId": oid, "simulate": "approve"})
    assert r.status_code == 200, r.text
    assert wait_final(api.base, tok, oid)["status"] == "CONFIRMED"

    def complete(spans):
        names = [s["name"] for _, s in spans if s["traceId"] == TRACE_ID]
        return "kafka.consume" in names and "saga.confirm" in names and \
            names.count("outbox.send") >= 2 and any(n.startswith("POST /v1/authorize")
                                                   for n in names)
    spans = [(svc, s) for svc, s in wait_spans(collector, complete)
             if s["traceId"] == TRACE_ID]
    by_id = {s["spanId"]: (svc, s) for svc, s in spans}
    print(tree(spans))

    # The server spans continue the caller's trace, under its spans.
    servers = {}
    for key, route in (("hold", "POST /api/reservations"), ("order", "POST /api/orders"),
                       ("pay", "POST /api/payments/authorize")):
        [(svc, sp)] = one(spans, name=route, service="ticketd")
        assert sp["parentSpanId"] == CALLER[key]
        assert sp["kind"] == 2  # SERVER
        assert attr(sp, "http.route") == route.split(" ", 1)[1]
        assert int(attr(sp, "http.response.status_code")) in (200, 201)
        assert int(sp["endTimeUnixNano"]) >= int(sp["startTimeUnixNano"])
        servers[key] = sp

    # The order is created under its request.
    [(_, create)] = one(spans, name="order.create")
    assert create["parentSpanId"] == servers["order"]["spanId"]
    # The gateway call is a child of the authorize request (made on a saga
    # worker) and paymentd's server span a child of the call.
    [(_, call)] = one(spans, name="payment.authorize", service="ticketd")
    assert call["parentSpanId"] == servers["pay"]["spanId"]
    assert call["kind"] == 3 and attr(call, "payment.outcome") == "APPROVED"
    [(_, gw)] = one(spans, name="POST /v1/authorize", service="paymentd")
    assert gw["parentSpanId"] == call["spanId"]
    # The decision is applied under the call.
    confirms = one(spans, name="saga.confirm")
    assert any(c["parentSpanId"] == call["spanId"] for _, c in confirms), tree(spans)
    assert attr(confirms[0][1], "order.id") == oid
    # Every outbox send continues the work that wrote its row.
    sends = one(spans, name="outbox.send")
    topics = set()
    for _, snd in sends:
        parent = by_id[snd["parentSpanId"]][1]["name"]
        assert parent in ("order.create", "saga.confirm"), parent
        topics.add(attr(snd, "messaging.destination.name"))
    assert "ticketing.payments" in topics
    # The Kafka message carried the send's traceparent: the saga's consumer
    # span is its child.
    consumed = one(spans, name="kafka.consume")
    assert all(by_id[c["parentSpanId"]][1]["name"] == "outbox.send" for _, c in consumed)
    assert any(attr(c, "messaging.destination.name") == "ticketing.payments"
               for _, c in consumed)
    assert metric(api.base, "ticketd_trace_spans_exported_total") >= len(by_id) - 1
    assert metric(api.base, "ticketd_trace_spans_dropped_total") == 0


def test_tracing_off_sends_nothing(api, arena, restart, collector):
    restart()  # the defaults: no otlp_traces_url
    s = new_session(api.base)
    seats = arena.take(1)
    hold(api.base, s["token"], arena.event_id, seats)
    r = order(api.base, s["token"], arena.event_id, seats)
    assert r.status_code == 201, r.text
    authorize(api.base, s["token"], r.json()["orderId"], "approve")
    time.sleep(1.5)  # more than the export interval (0.5 s)
    assert collector.spans() == []
    assert metric(api.base, "ticketd_trace_spans_started_total") == 0


def test_a_collector_that_never_answers_does_not_slow_requests(api, restart):
    # Accepts connections (the backlog) and never reads or answers: every
    # export waits out its timeout.
    dead = socket.socket()
    dead.bind(("127.0.0.1", 0))
    dead.listen(64)
    url = f"http://127.0.0.1:{dead.getsockname()[1]}/v1/traces"
    try:
        restart(("--otlp-traces-url", url, "--otlp-queue-spans", "32",
                 "--otlp-timeout-ms", "3000"))
        sess = requests.Session()
        worst = 0.0
        t0 = time.monotonic()
        for _ in range(300):
            t = time.monotonic()
            assert sess.get(api.base + "/api/events", timeout=5).status_code == 200
            worst = max(worst, time.monotonic() - t)
        took = time.monotonic() - t0
        assert worst < 0.5, f"slowest request {worst:.3f} s"
        assert took < 10, f"300 requests took {took:.1f} s"
        # The exporter is stuck in its first POST: past the 32 queued
        # spans, the rest were dropped and counted.
        assert metric(api.base, "ticketd_trace_spans_dropped_total") >= 200
        assert metric(api.base, "ticketd_trace_spans_exported_total") == 0
    finally:
        restart()  # before the socket closes: the stop waits one timeout
        dead.close()
