"""The Redis journal loses nothing silently and stream versions never
repeat (docs/operations.md, "The journal's invariant"): holds whose journal
entries did not fit the queue while Redis was away, or died with a kill -9,
are rewritten from the seat table, so a later fresh node still restores
them; an SSE client whose Last-Event-ID is from before a kill -9 gets a
snapshot, never a silent gap."""
import signal
import subprocess

from conftest import PORTS, infra, new_session
from test_recovery import back_to_default, hold, holds_of, restart, same_holds  # noqa: F401
from test_sse import Stream, metric, open_stream, seat_ev, udp_churn, wait_until


def redis_get(key):
    return subprocess.run(["redis-cli", "-p", str(PORTS["redis"]), "GET", key],
                          capture_output=True, text=True).stdout.strip()


def journal_caught_up(base):
    return (metric(base, "ticketd_journal_queued") == 0
            and metric(base, "ticketd_journal_seats_to_repair") == 0)


def test_holds_that_did_not_fit_the_queue_while_redis_was_down_reach_the_journal(
        ticketd, api, arena, back_to_default):
    restart(ticketd, "--journal-queue", "16", sig=signal.SIGTERM)
    s = new_session(api.base)
    [churn], keep = arena.take(1), arena.take(2)
    dropped = metric(api.base, "ticketd_journal_dropped_total")
    infra("redis.sh", "stop")
    try:
        udp_churn(arena.event_id, churn, s["token"], 40)  # fills the queue of 16
        assert hold(api.base, s["token"], arena.event_id, keep).status_code == 201
        before = holds_of(api.base, s["token"])
        assert metric(api.base, "ticketd_journal_dropped_total") >= dropped + 24
        assert metric(api.base, "ticketd_journal_seats_to_repair") >= 2
    finally:
        infra("redis.sh", "start")
    assert wait_until(lambda: journal_caught_up(api.base), 20), "journal did not catch up"
    assert metric(api.base, "ticketd_journal_repaired_total") >= 2
    for sid in keep:
        assert redis_get(f"tkt:hold:{arena.event_id}:{sid}"), sid
    restart(ticketd, "--journal-queue", "16", wipe=True)  # kill -9, fresh node
    assert same_holds(holds_of(api.base, s["token"]), before)


def test_holds_unwritten_at_a_kill_9_are_rewritten_at_the_next_start(
        ticketd, api, arena, back_to_default):
    s = new_session(api.base)
    keep = arena.take(2)
    infra("redis.sh", "stop")
    try:
        assert hold(api.base, s["token"], arena.event_id, keep).status_code == 201
        before = holds_of(api.base, s["token"])
        ticketd.stop(signal.SIGKILL)  # the queued entries die with it
    finally:
        infra("redis.sh", "start")
    ticketd.start()  # over the same seat table
    assert wait_until(lambda: journal_caught_up(api.base), 20), "journal did not catch up"
    for sid in keep:
        assert redis_get(f"tkt:hold:{arena.event_id}:{sid}"), sid
    restart(ticketd, wipe=True)  # kill -9 again, fresh node from Redis
    assert same_holds(holds_of(api.base, s["token"]), before)


def test_last_event_id_from_before_a_kill_9_never_misses_a_later_change(
        ticketd, api, arena, back_to_default):
    """Redis away, so the journal is behind what clients saw; after kill -9
    the new run must not hand the client's last version out again."""
    s = new_session(api.base)
    a, b = arena.take(1)[0], arena.take(1)[0]
    watcher, snap = open_stream(arena.event_id)
    v0 = snap["json"]["version"]
    infra("redis.sh", "stop")
    try:
        udp_churn(arena.event_id, a, s["token"], 3)
        seen = watcher.seat_events_until(lambda e: seat_ev(e)[0] >= v0 + 3)
        last = seat_ev(seen[-1])[0]
        watcher.close()
        ticketd.stop(signal.SIGKILL)
    finally:
        infra("redis.sh", "start")
    ticketd.start()
    udp_churn(arena.event_id, b, s["token"], 3)  # b ends HELD
    r = Stream(PORTS["http"], arena.event_id, last_event_id=str(last))
    try:
        first = r.next(timeout=3)  # the old code sent nothing: cur == last
        assert first["event"] == "snapshot", first
        assert int(first["id"]) > last
        status = {x["id"]: x["status"] for x in first["json"]["seats"]}
        while status[b] != "HELD":  # the stream may publish b's changes later
            v, sid, st = seat_ev(r.next(timeout=3))
            status[sid] = st
    finally:
        r.close()
    assert status[a] == "HELD"
