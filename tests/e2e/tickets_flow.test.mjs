// End-to-end: a buyer pays for two seats and, once the order is CONFIRMED,
// the confirmation lists one ticket per seat with its QR code (fetched with
// the session token and shown through a blob: URL, which the page's CSP
// must allow) and its signed text; "Print tickets" calls window.print(), and
// in print media only the tickets show, one block per ticket.
//   TICKETD_URL   ticketd base URL (default http://127.0.0.1:18080), --dev-mode
//   CHROMIUM_PATH the browser (default /usr/bin/chromium)
import { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { CHROMIUM, CHROMIUM_ARGS as ARGS, steps } from './browser.mjs';

const BASE = (process.env.TICKETD_URL || 'http://127.0.0.1:18080').replace(/\/+$/, '');
const SHOTS = join(dirname(fileURLToPath(import.meta.url)), 'screenshots');
const SEATS = 2;

let browser;
let context;
let page;
const pageErrors = [];
let seatIds = [];

mkdirSync(SHOTS, { recursive: true });

const step = steps('tickets', () => page);

before(async () => {
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ARGS });
});

after(async () => {
  await browser?.close();
});

step('buying_two_seats_ends_confirmed', async () => {
  const events = await (await fetch(`${BASE}/api/events`)).json();
  const list = Array.isArray(events) ? events : events.events;
  // The second event: seat_flow buys in the first, room_flow puts a room on the last.
  const eventId = list[Math.min(1, list.length - 1)].id;
  context = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: 'en-IE' });
  page = await context.newPage();
  page.on('pageerror', (err) => pageErrors.push(err.message));
  page.on('console', (msg) => {
    if (msg.type() === 'error' && msg.text().includes('Content Security Policy')) pageErrors.push(msg.text());
  });
  // ?dev=approve: the payment is forced to approve (ticketd --dev-mode).
  await page.goto(`${BASE}/?dev=approve#/events/${eventId}`);
  const free = page.locator('button.seat[data-state="available"]');
  await free.first().waitFor({ timeout: 15_000 });
  for (let i = 0; i < SEATS; i++) {
    const id = Number(await free.nth(i).getAttribute('data-seat-id'));
    seatIds.push(id);
  }
  for (const id of seatIds) {
    const seat = page.locator(`button.seat[data-seat-id="${id}"]`);
    await seat.click();
    await seat.and(page.locator('[data-state="mine"]')).waitFor({ timeout: 5_000 });
  }
  await page.locator('.cart__checkout').click();
  await page.locator('[data-testid="pay"]').click();
  await page.locator('[data-testid="order-status"][data-status="CONFIRMED"]').waitFor({ timeout: 20_000 });
});

step('the_confirmation_lists_one_ticket_per_seat_with_a_loaded_qr_code', async () => {
  const tickets = page.locator('[data-testid="tickets"][data-state="ready"]');
  await tickets.waitFor({ timeout: 15_000 });
  const blocks = page.locator('.ticket');
  assert.equal(await blocks.count(), SEATS);
  const shown = (await blocks.evaluateAll((els) => els.map((e) => Number(e.dataset.seatId)))).sort((a, b) => a - b);
  assert.deepEqual(shown, [...seatIds].sort((a, b) => a - b));
  await page.locator('.ticket__qr[data-qr="ready"] img').nth(SEATS - 1).waitFor({ timeout: 10_000 });
  await page.waitForFunction(
    (n) => {
      const imgs = [...document.querySelectorAll('.ticket__qrimg')];
      return imgs.length === n && imgs.every((i) => i.complete && i.naturalWidth > 0);
    },
    SEATS,
    { timeout: 10_000 },
  );
  const imgs = await page.locator('.ticket__qrimg').evaluateAll((els) => els.map((i) => ({ src: i.src, w: i.naturalWidth, h: i.naturalHeight })));
  for (const i of imgs) {
    assert.match(i.src, /^blob:/);
    assert.ok(i.w >= 100 && i.w === i.h, `a square QR code, got ${i.w}x${i.h}`);
  }
  const texts = await page.locator('.ticket__text').evaluateAll((els) => els.map((e) => e.value));
  for (const t of texts) assert.match(t, /^v1\.\d+\.\d+\.[A-Za-z0-9_-]+\.\d+\.[A-Za-z0-9_-]{86}$/);
  const text = await page.locator('[data-testid="tickets"]').innerText();
  assert.match(text, /Seat \S+/);
  await page.screenshot({ path: join(SHOTS, '11-tickets.png'), fullPage: true });
});

step('print_tickets_prints_one_block_per_ticket_without_page_chrome', async () => {
  await page.evaluate(() => {
    window.__printed = 0;
    window.print = () => {
      window.__printed++;
    };
  });
  await page.locator('[data-testid="print-tickets"]').click();
  assert.equal(await page.evaluate(() => window.__printed), 1);

  await page.emulateMedia({ media: 'print' });
  const blocks = page.locator('.ticket');
  assert.equal(await blocks.count(), SEATS);
  for (let i = 0; i < SEATS; i++) assert.ok(await blocks.nth(i).isVisible(), `ticket ${i + 1} prints`);
  for (const chrome of ['.topbar', '[data-testid="order-status"]', '.checkout__summary', '[data-testid="print-tickets"]', '.ticket__copy']) {
    assert.equal(await page.locator(chrome).first().isVisible(), false, `${chrome} is not printed`);
  }
  const layout = await blocks.evaluateAll((els) =>
    els.map((e) => ({ breakAfter: getComputedStyle(e).breakAfter, qr: e.querySelector('.ticket__qrimg').getBoundingClientRect().width })),
  );
  assert.equal(layout[0].breakAfter, 'page', 'each ticket on its own page');
  for (const l of layout) assert.ok(l.qr >= 300, `the QR code prints large, got ${l.qr}px`);
  await page.screenshot({ path: join(SHOTS, '12-tickets-print.png'), fullPage: true });
  await page.emulateMedia({ media: 'screen' });
});

step('no_script_or_csp_errors', async () => {
  assert.deepEqual(pageErrors, []);
});
