import { describe, expect, it } from 'vitest';
import { frameAction, offerLabels, reduceWaitlist, soldOut, type WaitlistState } from './waitlistModel';
import type { SeatMapState } from '../seatmap/seatMapState';

const map = (statuses: string[]): SeatMapState =>
  ({
    eventId: 1,
    rows: 1,
    cols: statuses.length,
    version: 1,
    seats: new Map(statuses.map((status, id) => [id, { id, r: 0, c: id, label: `A${id + 1}`, price: 100, status }])),
    seatVersions: new Map(),
  }) as unknown as SeatMapState;

const entry = { eventId: 1, position: 2, count: 1, joinedAt: '2030-01-01T00:00:00.000Z', offer: null };

describe('soldOut', () => {
  it('is true only when the map has seats and none is available', () => {
    expect(soldOut(null)).toBe(false);
    expect(soldOut(map([]))).toBe(false);
    expect(soldOut(map(['HELD', 'AVAILABLE']))).toBe(false);
    expect(soldOut(map(['HELD', 'SOLD']))).toBe(true);
  });
});

describe('reduceWaitlist', () => {
  it('follows an entry through position, offer and gone', () => {
    let s: WaitlistState = { kind: 'none' };
    s = reduceWaitlist(s, { type: 'entry', entry });
    expect(s).toEqual({ kind: 'waiting', position: 2, count: 1, offer: null });
    s = reduceWaitlist(s, { type: 'position', position: 1 });
    expect(s.kind === 'waiting' && s.position).toBe(1);
    const offer = { seatIds: [3], expiresAt: '2030-01-01T00:02:00.000Z' };
    s = reduceWaitlist(s, { type: 'offer', offer });
    expect(s.kind === 'waiting' && s.offer).toEqual(offer);
    expect(reduceWaitlist(s, { type: 'gone' })).toEqual({ kind: 'gone', hadOffer: true });
  });

  it('ignores frames when not on the list', () => {
    const none: WaitlistState = { kind: 'none' };
    expect(reduceWaitlist(none, { type: 'position', position: 3 })).toBe(none);
    expect(reduceWaitlist(none, { type: 'gone' })).toBe(none);
    expect(reduceWaitlist(none, { type: 'notOnList' })).toEqual({ kind: 'none' });
  });

  it('leaving forgets the entry', () => {
    const s = reduceWaitlist({ kind: 'none' }, { type: 'entry', entry });
    expect(reduceWaitlist(s, { type: 'left' })).toEqual({ kind: 'none' });
  });
});

describe('frameAction', () => {
  it('reads the stream frames', () => {
    expect(frameAction('position', '{"position":4}')).toEqual({ type: 'position', position: 4 });
    expect(frameAction('position', '{"position":null}')).toEqual({ type: 'position', position: null });
    expect(frameAction('offer', '{"seatIds":[1,2],"expiresAt":"2030-01-01T00:00:00Z"}')).toEqual({
      type: 'offer',
      offer: { seatIds: [1, 2], expiresAt: '2030-01-01T00:00:00Z' },
    });
    expect(frameAction('gone', '{}')).toEqual({ type: 'gone' });
  });

  it('drops what it does not understand', () => {
    expect(frameAction('position', 'nope')).toBeNull();
    expect(frameAction('position', '{"position":-1}')).toBeNull();
    expect(frameAction('offer', '{"seatIds":["a"],"expiresAt":"x"}')).toBeNull();
    expect(frameAction('other', '{}')).toBeNull();
  });
});

describe('offerLabels', () => {
  it('names seats from the map, ids otherwise', () => {
    expect(offerLabels({ seatIds: [1, 9], expiresAt: '' }, map(['SOLD', 'HELD']))).toEqual(['A2', '#9']);
  });
});
