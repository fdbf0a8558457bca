// End-to-end: an event with categories, sections, a wheelchair space, a
// companion seat and a blocked seat, the best-available picker's category,
// section and accessible choices, "not together" and a refusal, and the
// sale window. The new public fields come from another branch (issue 17's
// admin API), so this test serves them with page.route fixtures in the
// agreed shapes (fixtures.mjs); the page and the session come from the real
// ticketd at TICKETD_URL.
import { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { CHROMIUM, CHROMIUM_ARGS as ARGS, steps } from './browser.mjs';
import { apiError, eventSummary, json, seatMap, snapshotStream } from './fixtures.mjs';

const BASE = (process.env.TICKETD_URL || 'http://127.0.0.1:18080').replace(/\/+$/, '');
const SHOTS = join(dirname(fileURLToPath(import.meta.url)), 'screenshots');
const EV = 9001; // the fixture event; 9002 sells later, 9003 has sold out its window

let browser;
let page;
const pageErrors = [];
const sent = { holds: [], best: [] };
let held = []; // GET /api/reservations, as the fixture server would answer
let bestAnswers = [];

mkdirSync(SHOTS, { recursive: true });

const step = steps('categories', () => page);

const seat = (id) => page.locator(`button.seat[data-seat-id="${id}"]`);

before(async () => {
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ARGS });
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: 'en-IE' });
  page = await context.newPage();
  page.on('pageerror', (err) => pageErrors.push(err.message));
  page.on('console', (msg) => {
    if (msg.type() === 'error' && msg.text().includes('Content Security Policy')) pageErrors.push(msg.text());
  });
  const soon = () => new Date(Date.now() + 120_000).toISOString();
  const SALES = {
    9001: {},
    9002: { saleStartsAt: new Date(Date.now() + 3_600_000).toISOString() },
    9003: { saleStartsAt: '2026-01-01T10:00:00.000Z', saleEndsAt: '2026-02-01T10:00:00.000Z' },
  };
  await page.route(/\/api\/events$/, (route) => json(route, 200, [9001, 9002, 9003].map((id) => eventSummary(id, SALES[id]))));
  await page.route(/\/api\/(events\/900\d|reservations)/, async (route) => {
    const req = route.request();
    const path = new URL(req.url()).pathname;
    const m = /^\/api\/events\/(900\d)(\/.*)?$/.exec(path);
    if (m) {
      const id = Number(m[1]);
      const sale = SALES[id];
      switch (m[2] ?? '') {
        case '':
          return json(route, 200, eventSummary(id, sale));
        case '/seats':
          return json(route, 200, seatMap(id));
        case '/seats/stream':
          return snapshotStream(route, seatMap(id));
        case '/room':
          return json(route, 200, { eventId: id, state: 'open' });
      }
      return apiError(route, 404, 'NOT_FOUND', 'no such route');
    }
    if (path === '/api/reservations' && req.method() === 'GET') return json(route, 200, held);
    if (path === '/api/reservations' && req.method() === 'POST') {
      const body = req.postDataJSON();
      sent.holds.push(body);
      if (body.eventId < 9000) return route.continue();
      return json(route, 201, { eventId: body.eventId, seatIds: body.seatIds, expiresAt: soon(), holdSeconds: 120 });
    }
    if (path === '/api/reservations/best') {
      const body = req.postDataJSON();
      sent.best.push(body);
      const answer = bestAnswers.shift();
      if (answer.error) return apiError(route, answer.status, answer.error, answer.message, answer.details);
      const expiresAt = soon();
      held = held.concat(answer.seatIds.map((seatId) => ({ eventId: body.eventId, seatId, expiresAt })));
      return json(route, 201, { eventId: body.eventId, seatIds: answer.seatIds, expiresAt, holdSeconds: 120, together: answer.together });
    }
    return route.continue();
  });
});

after(async () => {
  await browser?.close();
});

step('the_event_list_says_when_a_sale_opens_or_ended', async () => {
  await page.goto(`${BASE}/#/`);
  const card = (id) => page.locator('.card').filter({ has: page.locator(`a[href="#/events/${id}"]`) });
  await card(9003).waitFor({ timeout: 15_000 });
  assert.equal(await card(9001).locator('.card__sale').count(), 0);
  assert.match(await card(9002).locator('.card__sale').innerText(), /^Sale opens .+ UTC$/);
  assert.equal(await card(9003).locator('.card__sale').innerText(), 'Sale ended');
});

step('the_map_shows_categories_with_prices_and_sections', async () => {
  await page.goto(`${BASE}/#/events/${EV}`);
  await seat(0).waitFor({ timeout: 15_000 });
  const legend = page.locator('[data-testid="category-legend"] li');
  assert.equal(await legend.count(), 2);
  assert.match(await legend.nth(0).innerText(), /Premium\s+€150\.00\s+5 left/);
  assert.match(await legend.nth(1).innerText(), /Standard\s+€80\.00\s+16 left/);
  assert.deepEqual(await page.locator('.seatmap__section').allInnerTexts(), ['STALLS', 'BALCONY']);
  // A free Premium seat wears its category's colour, a Standard one its own.
  assert.equal(await seat(2).evaluate((el) => getComputedStyle(el).borderTopColor), 'rgb(176, 58, 46)');
  assert.equal(await seat(14).evaluate((el) => getComputedStyle(el).borderTopColor), 'rgb(31, 97, 141)');
  assert.equal(await seat(2).getAttribute('aria-label'), 'Seat A3, Stalls, Premium, €150.00, available. Press to hold.');
  await page.screenshot({ path: join(SHOTS, 'categories-01-map.png'), fullPage: true });
});

step('accessible_companion_and_blocked_seats_are_marked_and_blocked_is_not_selectable', async () => {
  assert.match(await seat(0).getAttribute('aria-label'), /wheelchair space/);
  assert.equal((await seat(0).locator('.seat__mark').innerText()).trim(), '\u267F');
  assert.match(await seat(1).getAttribute('aria-label'), /companion seat/);
  assert.equal(await seat(5).getAttribute('data-state'), 'blocked');
  assert.equal(await seat(5).getAttribute('aria-disabled'), 'true');
  assert.match(await seat(5).getAttribute('aria-label'), /not on sale/);
  await seat(5).click({ force: true }); // force: Playwright itself refuses aria-disabled targets
  await page.waitForTimeout(300);
  assert.equal(sent.holds.length, 0, 'a click on a blocked seat asks for no hold');
  const legendText = await page.locator('.legend').first().innerText();
  assert.match(legendText, /Not on sale/);
  assert.match(legendText, /Wheelchair space/);
  assert.match(legendText, /Companion seat/);
});

step('the_picker_sends_the_chosen_category_section_and_accessible_and_says_not_together', async () => {
  bestAnswers = [{ seatIds: [0, 13], together: false }, { error: 'NOT_ENOUGH_SEATS', status: 409, message: 'not enough free seats', details: { count: 2 } }];
  const picker = page.locator('[data-testid="best-picker"]');
  assert.deepEqual(await picker.locator('[data-testid="picker-category"] option').allInnerTexts(), ['Any category', 'Premium (€150.00)', 'Standard (€80.00)']);
  assert.deepEqual(await picker.locator('[data-testid="picker-section"] option').allInnerTexts(), ['Any section', 'Stalls', 'Balcony']);
  await picker.getByLabel('Seats', { exact: true }).selectOption('2');
  await picker.getByLabel('Category').selectOption({ label: 'Premium (€150.00)' });
  await picker.getByLabel('Section').selectOption({ label: 'Stalls' });
  await picker.getByLabel('Accessible seats').check();
  await picker.locator('[data-testid="picker-submit"]').click();
  await picker.locator('[data-testid="picker-apart"]').waitFor({ timeout: 5_000 });
  assert.deepEqual(sent.best[0], { eventId: EV, count: 2, categories: [1], sections: [1], accessible: true });
  assert.match(await picker.locator('[data-testid="picker-status"]').innerText(), /Held 2 seats: A1, C2\./);
  assert.match(await picker.locator('[data-testid="picker-apart"]').innerText(), /^Not together\./);
  await page.locator('.cart__item[data-seat-id="13"]').waitFor();
  await seat(0).and(page.locator('[data-state="mine"]')).waitFor();
  await page.screenshot({ path: join(SHOTS, 'categories-02-picker-apart.png'), fullPage: true });

  await picker.locator('[data-testid="picker-submit"]').click();
  const alert = picker.locator('[data-testid="picker-error"] [role="alert"]');
  await alert.waitFor({ timeout: 5_000 });
  assert.equal(await alert.getAttribute('data-code'), 'NOT_ENOUGH_SEATS');
  assert.match(await alert.innerText(), /Not enough free seats: there are not 2 wheelchair spaces in Premium, Stalls free right now\./);
  assert.match(await alert.innerText(), /Trace id 0123456789abcdef/);
});

step('before_the_sale_opens_the_page_counts_down_and_nothing_is_selectable', async () => {
  await page.goto(`${BASE}/#/events/9002`);
  const notice = page.locator('[data-testid="sale-notice"]');
  await notice.waitFor({ timeout: 10_000 });
  await seat(2).waitFor();
  assert.match(await notice.innerText(), /^Sale opens at .+ UTC, in (59:\d\d|1:00:00)\.$/);
  assert.equal(await seat(2).getAttribute('aria-disabled'), 'true');
  assert.equal(await page.locator('[data-testid="picker-submit"]').isDisabled(), true);
  const before = sent.holds.length;
  await seat(2).click({ force: true });
  await page.waitForTimeout(300);
  assert.equal(sent.holds.length, before);
  await page.screenshot({ path: join(SHOTS, 'categories-03-sale-opens.png'), fullPage: true });
});

step('after_the_sale_ended_the_page_says_so', async () => {
  await page.goto(`${BASE}/#/events/9003`);
  const notice = page.locator('[data-testid="sale-notice"][data-sale="ended"]');
  await notice.waitFor({ timeout: 10_000 });
  assert.match(await notice.innerText(), /^Sale ended at Sun 1 Feb 2026, 10:00 UTC\.$/);
  assert.equal(await page.locator('[data-testid="picker-submit"]').isDisabled(), true);
});

step('no_script_errors', async () => {
  assert.deepEqual(pageErrors, []);
});
