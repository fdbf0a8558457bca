#!/usr/bin/env python3
"""Oversell audit of the REST hold benchmark (bench/rest_bench.sh), standard
library only. Prints one JSON object; exits 1 when a check fails.

  rest_audit.py idle  --base URL --event E --max-held N
      after the timed runs (every granted hold was released): the seat map
      of event E shows at most N HELD seats (N = holds the load generator
      could not release, plus those held before the run), and every
      event's counts add up.

  rest_audit.py storm --base URL --event E --tokens FILE --grants FILE \
                      [--limit 8]
      after a hold storm without releases (long holds, the table fills up):
        * no seat is in the GET /api/reservations list of two sessions;
        * the lists add up to the number of HELD seats in the seat map and
          to the event's "held" count;
        * every hold the load generator saw granted (201) is in its
          session's list, no seat was granted to two sessions, and no list
          holds a seat the generator did not see granted;
        * no session holds more than --limit seats of the event.

  rest_audit.py release --base URL --event E --tokens FILE
      releases (DELETE) every hold of event E that the sessions in FILE
      list, then checks that the seat map shows no HELD seat: cleans the
      table after the storm (holds survive a daemon restart) and shows
      releases work at that scale.
  All modes also check /healthz and /readyz."""
import argparse
import concurrent.futures
import http.client
import json
import sys
import threading
import urllib.parse

_local = threading.local()


def _conn(base):
    c = getattr(_local, "conn", None)
    if c is None:
        u = urllib.parse.urlparse(base)
        c = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
        _local.conn = c
    return c


def get(base, path, token=None, method="GET"):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    for attempt in range(2):
        c = _conn(base)
        try:
            c.request(method, path, headers=headers)
            r = c.getresponse()
            body = r.read()
            return r.status, body
        except (OSError, http.client.HTTPException):
            c.close()
            _local.conn = None
            if attempt:
                raise
    raise RuntimeError("unreachable")


def seat_map(base, event):
    st, body = get(base, f"/api/events/{event}/seats")
    if st != 200:
        raise RuntimeError(f"GET seats of event {event}: {st}")
    m = json.loads(body)
    held = [s["id"] for s in m["seats"] if s["status"] == "HELD"]
    sold = sum(1 for s in m["seats"] if s["status"] == "SOLD")
    return m, held, sold


def common_checks(base, checks):
    st, _ = get(base, "/healthz")
    checks["healthz_200"] = st == 200
    st, body = get(base, "/readyz")
    checks["readyz_200"] = st == 200
    st, body = get(base, "/api/events")
    events = json.loads(body) if st == 200 else []
    checks["event_counts_add_up"] = bool(events) and all(
        e["available"] + e["held"] + e["sold"] == e["rows"] * e["cols"]
        for e in events)
    return {e["id"]: e for e in events}


def idle(a):
    checks = {}
    events = common_checks(a.base, checks)
    _, held, sold = seat_map(a.base, a.event)
    checks["held_at_most_unreleased"] = len(held) <= a.max_held
    checks["event_held_matches_map"] = events.get(a.event, {}).get("held") == len(held)
    return {"mode": "idle", "held": len(held), "sold": sold,
            "max_held_allowed": a.max_held, "checks": checks}


def storm(a):
    checks = {}
    tokens = [t.strip() for t in open(a.tokens) if len(t.strip()) == 32]
    grants = {}  # seat -> set of token indexes the generator saw granted
    pairs = set()
    for line in open(a.grants):
        parts = line.split()
        if len(parts) != 2:
            continue
        tok, seat = int(parts[0]), int(parts[1])
        grants.setdefault(seat, set()).add(tok)
        pairs.add((tok, seat))

    def fetch(i):
        st, body = get(a.base, "/api/reservations", tokens[i])
        if st != 200:
            return i, None
        return i, [h["seatId"] for h in json.loads(body) if h["eventId"] == a.event]

    lists = {}
    with concurrent.futures.ThreadPoolExecutor(max_workers=16) as ex:
        for i, seats in ex.map(fetch, range(len(tokens))):
            lists[i] = seats
    failed = [i for i, s in lists.items() if s is None]
    checks["every_list_answered_200"] = not failed

    owner = {}
    dup = []
    for i, seats in lists.items():
        for s in seats or []:
            if s in owner:
                dup.append({"seat": s, "sessions": [owner[s], i]})
            owner[s] = i
    listed = sum(len(s or []) for s in lists.values())
    events = common_checks(a.base, checks)
    _, held, _ = seat_map(a.base, a.event)
    double_granted = [s for s, toks in grants.items() if len(toks) > 1]
    missing = sorted((t, s) for (t, s) in pairs if owner.get(s) != t)
    unseen = sorted((i, s) for s, i in owner.items() if (i, s) not in pairs)
    over = [i for i, s in lists.items() if s and len(s) > a.limit]

    checks["no_seat_in_two_lists"] = not dup
    checks["lists_sum_equals_held_in_map"] = listed == len(held)
    checks["event_held_equals_map"] = events.get(a.event, {}).get("held") == len(held)
    checks["no_seat_granted_twice"] = not double_granted
    checks["every_grant_listed"] = not missing
    checks["every_listed_hold_was_granted"] = not unseen
    checks["no_session_over_limit"] = not over
    return {
        "mode": "storm",
        "sessions": len(tokens),
        "grants_seen": len(pairs),
        "seats_granted": len(grants),
        "listed_holds": listed,
        "held_in_map": len(held),
        "sessions_at_limit": sum(1 for s in lists.values() if s and len(s) == a.limit),
        "duplicates": dup[:10],
        "double_granted": double_granted[:10],
        "grants_not_listed": missing[:10],
        "listed_not_granted": unseen[:10],
        "over_limit": over[:10],
        "checks": checks,
    }


def release(a):
    checks = {}
    tokens = [t.strip() for t in open(a.tokens) if len(t.strip()) == 32]

    def one(tok):
        st, body = get(a.base, "/api/reservations", tok)
        if st != 200:
            return {"list_failed": 1}
        out = {}
        for h in json.loads(body):
            if h["eventId"] != a.event:
                continue
            st, _ = get(a.base, f"/api/reservations/{a.event}/{h['seatId']}", tok,
                        method="DELETE")
            out[str(st)] = out.get(str(st), 0) + 1
        return out

    statuses = {}
    with concurrent.futures.ThreadPoolExecutor(max_workers=16) as ex:
        for r in ex.map(one, tokens):
            for k, v in r.items():
                statuses[k] = statuses.get(k, 0) + v
    common_checks(a.base, checks)
    _, held, _ = seat_map(a.base, a.event)
    checks["every_release_204"] = set(statuses) <= {"204"}
    checks["no_seat_held_after"] = not held
    return {"mode": "release", "statuses": statuses, "held_after": len(held),
            "checks": checks}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["idle", "storm", "release"])
    p.add_argument("--base", required=True)
    p.add_argument("--event", type=int, required=True)
    p.add_argument("--max-held", type=int, default=0)
    p.add_argument("--tokens")
    p.add_argument("--grants")
    p.add_argument("--limit", type=int, default=8)
    a = p.parse_args()
    out = {"idle": idle, "storm": storm, "release": release}[a.mode](a)
    out["ok"] = all(out["checks"].values())
    print(json.dumps(out))
    return 0 if out["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
