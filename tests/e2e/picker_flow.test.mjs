// End-to-end, against the real ticketd at TICKETD_URL: the best-available
// picker on a demo event (no categories: the picker offers only the count).
// Three seats come back together, in one row, side by side, are shown as
// mine and land in the cart; asking for eight more is refused by the
// server's hold limit and the picker says so. The held seats are given back
// at the end.
import { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { CHROMIUM, CHROMIUM_ARGS as ARGS, steps } from './browser.mjs';

const BASE = (process.env.TICKETD_URL || 'http://127.0.0.1:18080').replace(/\/+$/, '');
const SHOTS = join(dirname(fileURLToPath(import.meta.url)), 'screenshots');

let browser;
let page;
let eventId;
let mine = [];
const pageErrors = [];

mkdirSync(SHOTS, { recursive: true });

const step = steps('picker', () => page);

before(async () => {
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ARGS });
});

after(async () => {
  await browser?.close();
});

step('the_picker_on_a_demo_event_offers_only_the_count', async () => {
  const events = await (await fetch(`${BASE}/api/events`)).json();
  // The second event, like tickets_flow: seat_flow buys in the first, room_flow puts a room on the last.
  eventId = events[Math.min(1, events.length - 1)].id;
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: 'en-IE' });
  page = await context.newPage();
  page.on('pageerror', (err) => pageErrors.push(err.message));
  await page.goto(`${BASE}/#/events/${eventId}`);
  await page.locator('button.seat').first().waitFor({ timeout: 15_000 });
  const picker = page.locator('[data-testid="best-picker"]');
  await picker.waitFor();
  assert.equal(await picker.locator('[data-testid="picker-category"]').isVisible(), false);
  assert.equal(await picker.locator('[data-testid="picker-section"]').isVisible(), false);
  assert.equal(await picker.locator('[data-testid="picker-accessible"]').isVisible(), false);
  assert.equal(await page.locator('[data-testid="category-legend"]').isVisible(), false);
  assert.equal(await page.locator('[data-testid="sale-notice"]').isVisible(), false);
});

step('three_seats_come_back_together_side_by_side_in_the_cart', async () => {
  const picker = page.locator('[data-testid="best-picker"]');
  // By keyboard: choose the count, then Enter on the button submits the form.
  await picker.getByLabel('Seats', { exact: true }).selectOption('3');
  await picker.locator('[data-testid="picker-submit"]').focus();
  await page.keyboard.press('Enter');
  const status = picker.locator('[data-testid="picker-status"]');
  await status.locator('.picker__held').waitFor({ timeout: 10_000 });
  assert.match(await status.innerText(), /^Held 3 seats: \w+, \w+, \w+\. They are in your cart\./);
  assert.equal(await picker.locator('[data-testid="picker-apart"]').count(), 0, 'no "not together" on a together answer');
  await page.locator('.cart__item').nth(2).waitFor({ timeout: 5_000 });
  mine = (await page.locator('.cart__item').evaluateAll((els) => els.map((e) => Number(e.dataset.seatId)))).sort((a, b) => a - b);
  assert.equal(mine.length, 3);
  for (const id of mine) await page.locator(`button.seat[data-seat-id="${id}"][data-state="mine"]`).waitFor({ timeout: 5_000 });
  const map = await (await fetch(`${BASE}/api/events/${eventId}/seats`)).json();
  const seats = mine.map((id) => map.seats.find((s) => s.id === id));
  assert.ok(seats.every((s) => s.r === seats[0].r), `one row: ${JSON.stringify(seats)}`);
  assert.deepEqual(seats.map((s) => s.c - seats[0].c), [0, 1, 2], 'side by side');
  assert.ok(seats.every((s) => s.status === 'HELD'), 'held on the server');
  await page.screenshot({ path: join(SHOTS, 'picker-01-together.png'), fullPage: true });
});

step('more_than_the_hold_limit_is_refused_and_the_picker_says_so', async () => {
  const picker = page.locator('[data-testid="best-picker"]');
  await picker.getByLabel('Seats', { exact: true }).selectOption('8');
  await picker.locator('[data-testid="picker-submit"]').click();
  const alert = picker.locator('[data-testid="picker-error"] [role="alert"]');
  await alert.waitFor({ timeout: 10_000 });
  assert.equal(await alert.getAttribute('data-code'), 'HOLD_LIMIT_EXCEEDED');
  assert.match(await alert.innerText(), /more than the \d+ seats you may hold for this event/);
  assert.match(await alert.innerText(), /Trace id [0-9a-f]{32}/);
  assert.equal(await page.locator('.cart__item').count(), 3, 'nothing more was held');
  await page.screenshot({ path: join(SHOTS, 'picker-02-refused.png'), fullPage: true });
});

step('the_seats_are_given_back', async () => {
  for (const id of mine) {
    await page.locator(`.cart__item[data-seat-id="${id}"] [data-action="remove"]`).click();
    await page.locator(`.cart__item[data-seat-id="${id}"]`).waitFor({ state: 'detached', timeout: 5_000 });
  }
  await page.locator('.cart__empty').waitFor();
});

step('no_script_errors', async () => {
  assert.deepEqual(pageErrors, []);
});
