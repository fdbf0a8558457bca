import { describe, expect, it } from 'vitest';
import { reduceSeatMap, seatLook, type SeatMapBody, type SeatMapState, type SeatStatus } from './seatMapState';

function body(version: number, statuses: SeatStatus[] = ['AVAILABLE', 'AVAILABLE', 'AVAILABLE', 'AVAILABLE']): SeatMapBody {
  return {
    eventId: 7,
    rows: 2,
    cols: 2,
    version,
    seats: statuses.map((status, id) => ({ id, r: Math.floor(id / 2), c: id % 2, label: `A${id + 1}`, price: 1000 + id, status })),
  };
}

const statusOf = (s: SeatMapState | null, id: number) => s?.seats.get(id)?.status;

describe('seat map reducer', () => {
  it('snapshot_builds_the_map_at_its_version', () => {
    const s = reduceSeatMap(null, { type: 'snapshot', from: 'stream', body: body(10, ['AVAILABLE', 'HELD', 'SOLD', 'AVAILABLE']) });
    expect(s?.version).toBe(10);
    expect(s?.rows).toBe(2);
    expect([0, 1, 2, 3].map((i) => statusOf(s, i))).toEqual(['AVAILABLE', 'HELD', 'SOLD', 'AVAILABLE']);
    expect(s?.seatVersions.get(3)).toBe(10);
  });

  it('seat_event_with_a_newer_version_is_applied', () => {
    let s = reduceSeatMap(null, { type: 'snapshot', from: 'stream', body: body(10) });
    s = reduceSeatMap(s, { type: 'seat', change: { seatId: 2, status: 'HELD', version: 11 } });
    expect(statusOf(s, 2)).toBe('HELD');
    expect(s?.version).toBe(11);
    expect(s?.seatVersions.get(2)).toBe(11);
  });

  it('seat_events_are_applied_in_order', () => {
    let s = reduceSeatMap(null, { type: 'snapshot', from: 'stream', body: body(1) });
    s = reduceSeatMap(s, { type: 'seat', change: { seatId: 0, status: 'HELD', version: 2 } });
    s = reduceSeatMap(s, { type: 'seat', change: { seatId: 0, status: 'AVAILABLE', version: 5 } });
    s = reduceSeatMap(s, { type: 'seat', change: { seatId: 0, status: 'HELD', version: 9 } });
    s = reduceSeatMap(s, { type: 'seat', change: { seatId: 0, status: 'SOLD', version: 12 } });
    expect(statusOf(s, 0)).toBe('SOLD');
    expect(s?.version).toBe(12);
  });

  it('seat_event_at_or_below_the_applied_version_is_ignored', () => {
    const s0 = reduceSeatMap(null, { type: 'snapshot', from: 'stream', body: body(10, ['HELD', 'AVAILABLE', 'AVAILABLE', 'AVAILABLE']) });
    // Replayed or late change from before the snapshot.
    const s1 = reduceSeatMap(s0, { type: 'seat', change: { seatId: 0, status: 'AVAILABLE', version: 9 } });
    expect(s1).toBe(s0);
    const s2 = reduceSeatMap(s0, { type: 'seat', change: { seatId: 0, status: 'AVAILABLE', version: 10 } });
    expect(s2).toBe(s0);
    expect(statusOf(s2, 0)).toBe('HELD');
  });

  it('old_change_after_a_newer_one_does_not_undo_it', () => {
    let s = reduceSeatMap(null, { type: 'snapshot', from: 'stream', body: body(1) });
    s = reduceSeatMap(s, { type: 'seat', change: { seatId: 1, status: 'SOLD', version: 4 } });
    s = reduceSeatMap(s, { type: 'seat', change: { seatId: 1, status: 'HELD', version: 3 } });
    expect(statusOf(s, 1)).toBe('SOLD');
    expect(s?.version).toBe(4);
  });

  it('fetched_snapshot_older_than_the_applied_version_is_ignored', () => {
    let s = reduceSeatMap(null, { type: 'snapshot', from: 'stream', body: body(20, ['SOLD', 'AVAILABLE', 'AVAILABLE', 'AVAILABLE']) });
    const stale = reduceSeatMap(s, { type: 'snapshot', from: 'fetch', body: body(15) });
    expect(stale).toBe(s);
    s = reduceSeatMap(s, { type: 'snapshot', from: 'fetch', body: body(30, ['AVAILABLE', 'HELD', 'AVAILABLE', 'AVAILABLE']) });
    expect(statusOf(s, 0)).toBe('AVAILABLE');
    expect(statusOf(s, 1)).toBe('HELD');
    expect(s?.version).toBe(30);
  });

  it('fetched_snapshot_applies_when_there_is_no_map_yet', () => {
    const s = reduceSeatMap(null, { type: 'snapshot', from: 'fetch', body: body(0, ['HELD', 'AVAILABLE', 'AVAILABLE', 'AVAILABLE']) });
    expect(statusOf(s, 0)).toBe('HELD');
  });

  it('stream_snapshot_always_replaces_so_changes_after_it_apply', () => {
    // The server's counter started again (e.g. a restart): the stream's
    // snapshot is the truth and what follows it continues from there.
    let s = reduceSeatMap(null, { type: 'snapshot', from: 'stream', body: body(500) });
    s = reduceSeatMap(s, { type: 'snapshot', from: 'stream', body: body(3, ['SOLD', 'AVAILABLE', 'AVAILABLE', 'AVAILABLE']) });
    expect(s?.version).toBe(3);
    expect(statusOf(s, 0)).toBe('SOLD');
    s = reduceSeatMap(s, { type: 'seat', change: { seatId: 1, status: 'HELD', version: 4 } });
    expect(statusOf(s, 1)).toBe('HELD');
  });

  it('fetched_map_then_stream_changes_at_or_below_it_are_ignored', () => {
    let s = reduceSeatMap(null, { type: 'snapshot', from: 'fetch', body: body(8, ['HELD', 'AVAILABLE', 'AVAILABLE', 'AVAILABLE']) });
    s = reduceSeatMap(s, { type: 'seat', change: { seatId: 0, status: 'HELD', version: 7 } });
    s = reduceSeatMap(s, { type: 'seat', change: { seatId: 0, status: 'AVAILABLE', version: 9 } });
    expect(statusOf(s, 0)).toBe('AVAILABLE');
  });

  it('seat_event_before_any_snapshot_is_ignored', () => {
    expect(reduceSeatMap(null, { type: 'seat', change: { seatId: 0, status: 'HELD', version: 1 } })).toBeNull();
  });

  it('unknown_status_is_ignored', () => {
    const s0 = reduceSeatMap(null, { type: 'snapshot', from: 'stream', body: body(1) });
    const s1 = reduceSeatMap(s0, { type: 'seat', change: { seatId: 0, status: 'BOGUS' as SeatStatus, version: 2 } });
    expect(s1).toBe(s0);
  });

  it('unknown_seat_advances_the_version_only', () => {
    const s0 = reduceSeatMap(null, { type: 'snapshot', from: 'stream', body: body(1) });
    const s1 = reduceSeatMap(s0, { type: 'seat', change: { seatId: 99, status: 'HELD', version: 2 } });
    expect(s1?.version).toBe(2);
    expect(s1?.seats).toBe(s0?.seats);
  });

  it('does_not_mutate_the_previous_state', () => {
    const s0 = reduceSeatMap(null, { type: 'snapshot', from: 'stream', body: body(1) });
    reduceSeatMap(s0, { type: 'seat', change: { seatId: 0, status: 'HELD', version: 2 } });
    expect(statusOf(s0, 0)).toBe('AVAILABLE');
    expect(s0?.version).toBe(1);
  });
});

describe('seat look', () => {
  it('sold_wins_over_everything', () => {
    expect(seatLook('SOLD', true, true)).toBe('sold');
  });
  it('a_hold_the_server_granted_us_is_mine', () => {
    expect(seatLook('HELD', true, false)).toBe('mine');
    // The server answered before the stream caught up.
    expect(seatLook('AVAILABLE', true, false)).toBe('mine');
  });
  it('held_by_someone_else', () => {
    expect(seatLook('HELD', false, false)).toBe('held');
  });
  it('held_while_our_request_is_in_flight_is_undecided', () => {
    expect(seatLook('HELD', false, true)).toBe('pending');
    expect(seatLook('AVAILABLE', false, true)).toBe('available');
  });
});
