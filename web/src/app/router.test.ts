import { describe, expect, it } from 'vitest';
import { parseRoute } from './router';

describe('router', () => {
  it('parses_the_pages', () => {
    expect(parseRoute('')).toEqual({ page: 'events' });
    expect(parseRoute('#/')).toEqual({ page: 'events' });
    expect(parseRoute('#/events/3')).toEqual({ page: 'event', eventId: 3 });
    expect(parseRoute('#/events/3/checkout')).toEqual({ page: 'checkout', eventId: 3 });
    expect(parseRoute('#/events/x')).toEqual({ page: 'not-found' });
    expect(parseRoute('#/admin')).toEqual({ page: 'admin' });
    expect(parseRoute('#/admin/x')).toEqual({ page: 'not-found' });
  });
});
