import { describe, expect, it } from 'vitest';
import { ApiError } from '../../shared/http';
import { buildBestRequest, describeRequest, grantedText, pickerErrorText } from './pickerModel';

const form = (over: Partial<Parameters<typeof buildBestRequest>[1]> = {}) => ({ count: '2', category: '', section: '', accessible: false, ...over });

describe('best-available request', () => {
  it('sends_only_event_and_count_when_nothing_else_is_chosen', () => {
    expect(buildBestRequest(1, form())).toEqual({ ok: true, body: { eventId: 1, count: 2 } });
  });

  it('adds_the_chosen_category_section_and_accessible_flag', () => {
    expect(buildBestRequest(4, form({ count: '3', category: '1', section: '2', accessible: true }))).toEqual({
      ok: true,
      body: { eventId: 4, count: 3, categories: [1], sections: [2], accessible: true },
    });
  });

  it('refuses_counts_outside_1_to_8_before_asking_the_server', () => {
    for (const count of ['0', '9', '', 'two', '2.5', -1]) {
      const r = buildBestRequest(1, form({ count }));
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.field).toBe('count');
    }
    expect(buildBestRequest(1, form({ count: 8 })).ok).toBe(true);
  });

  it('refuses_a_category_that_is_not_an_id', () => {
    const r = buildBestRequest(1, form({ category: 'x' }));
    expect(r).toEqual({ ok: false, field: 'category', message: 'Choose a category from the list.' });
  });
});

describe('best-available answers', () => {
  const names = { categories: new Map([[1, 'Premium']]), sections: new Map([[2, 'Balcony']]) };

  it('describes_what_was_asked', () => {
    expect(describeRequest({ eventId: 1, count: 1 }, names)).toBe('1 seat');
    expect(describeRequest({ eventId: 1, count: 3, categories: [1], sections: [2] }, names)).toBe('3 seats in Premium, Balcony');
    expect(describeRequest({ eventId: 1, count: 2, accessible: true }, names)).toBe('2 wheelchair spaces');
  });

  it('says_not_together_only_when_the_server_says_so', () => {
    expect(grantedText(['A4', 'A5'], true)).toEqual({ held: 'Held 2 seats: A4, A5. They are in your cart.', apart: null });
    expect(grantedText(['A4', 'C7'], false).apart).toMatch(/^No row has that many free seats side by side/);
    expect(grantedText(['A4'], false).apart).toBeNull();
  });

  it('turns_the_servers_refusals_into_what_to_do', () => {
    const e = (status: number, code: string, details?: Record<string, unknown>) => new ApiError(status, code, `server says ${code}`, 't', details);
    expect(pickerErrorText(e(409, 'NOT_ENOUGH_SEATS', { count: 3 }), '3 seats in Premium')).toBe(
      'Not enough free seats: there are not 3 seats in Premium free right now. Try fewer seats or another choice.',
    );
    expect(pickerErrorText(e(409, 'CONFLICT_RETRY', { attempts: 8 }), '2 seats')).toMatch(/^Other buyers took those seats first/);
    expect(pickerErrorText(e(422, 'HOLD_LIMIT_EXCEEDED', { limit: 8 }), '2 seats')).toMatch(/^That would be more than the 8 seats you may hold/);
    expect(pickerErrorText(e(422, 'VALIDATION_FAILED', { field: 'categories' }), '2 seats')).toBe(
      'The server did not accept the categories: server says VALIDATION_FAILED',
    );
    expect(pickerErrorText(e(503, 'UNAVAILABLE'), '2 seats')).toBe('server says UNAVAILABLE');
    expect(pickerErrorText(new TypeError('Failed to fetch'), '2 seats')).toBe('Could not reach the server: Failed to fetch');
  });
});
