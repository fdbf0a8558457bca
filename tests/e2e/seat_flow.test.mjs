// End-to-end: the built page, served by a running ticketd (--dev-mode), in
// Debian's Chromium driven by playwright-core. Two browser contexts are two
// sessions: A holds a seat and buys it, B watches the same event and must see
// the seat go "held by others" and then "sold" live, through the SSE stream,
// without reloading.
//   TICKETD_URL   ticketd base URL (default http://127.0.0.1:18080)
//   CHROMIUM_PATH the browser (default /usr/bin/chromium)
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { CHROMIUM, CHROMIUM_ARGS as ARGS } from './browser.mjs';

const BASE = (process.env.TICKETD_URL || 'http://127.0.0.1:18080').replace(/\/+$/, '');
const SHOTS = join(dirname(fileURLToPath(import.meta.url)), 'screenshots');
const LIVE_MS = 5_000; // the contract: a change reaches subscribers within 1 s

let browser;
const ctx = {};
const page = {};
const pageErrors = [];
let eventId;
let seatId;
let seatLabel;
let broken = null; // the first failed step; later steps are skipped

mkdirSync(SHOTS, { recursive: true });

/** Runs a step unless an earlier one failed; on failure keeps a screenshot of each page. */
function step(name, fn) {
  test(name, async (t) => {
    if (broken) {
      t.skip(`after the failure of "${broken}"`);
      return;
    }
    try {
      await fn(t);
    } catch (err) {
      broken = name;
      for (const [who, p] of Object.entries(page)) {
        await p.screenshot({ path: join(SHOTS, `failure-${who}.png`), fullPage: true }).catch(() => {});
      }
      throw err;
    }
  });
}

async function shot(p, name) {
  await p.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
}

function seat(p, id) {
  return p.locator(`button.seat[data-seat-id="${id}"]`);
}

/** Waits for the live badge; says what to look at when the stream never connects. */
async function waitLive(p) {
  try {
    await p.locator('.live[data-live="live"]').waitFor({ timeout: 10_000 });
  } catch {
    const badge = await p.locator('.live').innerText().catch(() => '(none)');
    const m = /#\/events\/(\d+)/.exec(p.url());
    throw new Error(`the seat stream never connected (badge: "${badge.trim()}"); is GET /api/events/${m?.[1]}/seats/stream served?`);
  }
}

async function newSessionPage(who, path) {
  ctx[who] = await browser.newContext({ viewport: { width: 1280, height: 860 }, locale: 'en-IE' });
  const p = await ctx[who].newPage();
  p.on('pageerror', (err) => pageErrors.push(`${who}: ${err.message}`));
  p.on('console', (msg) => {
    if (msg.type() !== 'error') return;
    console.log(`[${who} console] ${msg.text()}`);
    // What the page's Content-Security-Policy blocked is a page bug.
    if (msg.text().includes('Content Security Policy')) pageErrors.push(`${who}: ${msg.text()}`);
  });
  page[who] = p;
  await p.goto(BASE + path);
  return p;
}

before(async () => {
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ARGS });
});

after(async () => {
  await browser?.close();
});

step('event_list_shows_the_events_and_opens_the_first', async () => {
  // ?dev=approve: the page's hidden toggle that forces the simulated payment to approve.
  const a = await newSessionPage('a', '/?dev=approve#/');
  const first = a.locator('a.event-link').first();
  await first.waitFor({ timeout: 15_000 });
  assert.ok((await a.locator('a.event-link').count()) >= 1);
  await shot(a, '01-event-list');
  await first.click();
  await a.waitForURL(/#\/events\/\d+$/);
  eventId = Number(/#\/events\/(\d+)/.exec(a.url())[1]);
  await a.locator('button.seat').first().waitFor();
  await waitLive(a);
});

step('a_second_session_watches_the_same_event_live', async () => {
  const b = await newSessionPage('b', `/#/events/${eventId}`);
  await b.locator('button.seat').first().waitFor();
  await waitLive(b);
  // Marks this document: if B reloaded, the mark would be gone.
  await b.evaluate(() => {
    window.__e2eSameDocument = true;
  });
});

step('clicking_a_seat_holds_it_as_mine_with_a_countdown_in_the_cart', async () => {
  const a = page.a;
  const free = a.locator('button.seat[data-state="available"]').first();
  await free.waitFor();
  seatId = Number(await free.getAttribute('data-seat-id'));
  seatLabel = (await free.innerText()).trim();
  await free.click();
  await seat(a, seatId).and(a.locator('[data-state="mine"]')).waitFor({ timeout: 5_000 });
  assert.equal(await seat(a, seatId).getAttribute('aria-pressed'), 'true');

  const item = a.locator(`.cart__item[data-seat-id="${seatId}"]`);
  await item.waitFor();
  assert.match(await item.innerText(), new RegExp(`\\b${seatLabel}\\b`));
  const countdown = item.locator('.countdown');
  const t1 = (await countdown.innerText()).trim();
  assert.match(t1, /^\d+:\d{2}$/, `countdown "${t1}"`);
  const secs = (s) => s.split(':').reduce((acc, x) => acc * 60 + Number(x), 0);
  assert.ok(secs(t1) >= 10 && secs(t1) <= 600, `a fresh hold shows its time left, got ${t1}`);
  await a.waitForTimeout(2_100);
  const t2 = (await countdown.innerText()).trim();
  assert.ok(secs(t2) < secs(t1), `countdown goes down: ${t1} then ${t2}`);
  assert.notEqual((await a.locator('[data-testid="cart-total"]').innerText()).trim(), '€0.00');
  await shot(a, '02-a-holds-a-seat');
});

step('the_other_session_sees_the_hold_as_held_by_others_live', async () => {
  const b = page.b;
  await seat(b, seatId).and(b.locator('[data-state="held"]')).waitFor({ timeout: LIVE_MS });
  assert.equal(await b.evaluate(() => window.__e2eSameDocument === true), true, 'B did not reload');
  assert.equal(await b.locator('.cart__item').count(), 0, "A's hold is not in B's cart");
  await shot(b, '03-b-sees-held');
});

step('checkout_creates_the_order_and_ends_confirmed', async () => {
  const a = page.a;
  await a.locator('.cart__checkout').click();
  await a.waitForURL(/#\/events\/\d+\/checkout$/);
  const pay = a.locator('[data-testid="pay"]');
  await pay.waitFor({ timeout: 10_000 });
  await shot(a, '04-a-checkout-review');
  // Record every status the page shows, to see PENDING on the way.
  await a.evaluate(() => {
    const el = document.querySelector('[data-testid="order-status"]');
    window.__statuses = [];
    new MutationObserver(() => {
      const s = el.dataset.status;
      if (s && window.__statuses.at(-1) !== s) window.__statuses.push(s);
    }).observe(el, { attributes: true, attributeFilter: ['data-status'] });
  });
  await pay.click();
  await a.locator('[data-testid="order-status"][data-status="CONFIRMED"]').waitFor({ timeout: 20_000 });
  const statuses = await a.evaluate(() => window.__statuses);
  assert.ok(statuses.includes('PENDING'), `statuses shown: ${statuses.join(' -> ')}`);
  assert.equal(statuses.at(-1), 'CONFIRMED');
  assert.match(await a.locator('.checkout__seats').innerText(), new RegExp(`\\b${seatLabel}\\b`));
  await shot(a, '05-a-confirmed');
});

step('the_other_session_sees_the_seat_sold_live', async () => {
  const b = page.b;
  await seat(b, seatId).and(b.locator('[data-state="sold"]')).waitFor({ timeout: LIVE_MS });
  assert.equal(await b.evaluate(() => window.__e2eSameDocument === true), true, 'B did not reload');
  const res = await fetch(`${BASE}/api/events/${eventId}/seats`);
  const map = await res.json();
  assert.equal(map.seats.find((s) => s.id === seatId).status, 'SOLD');
  await shot(b, '06-b-sees-sold');
});

step('back_on_the_map_the_buyer_sees_the_seat_sold_and_an_empty_cart', async () => {
  const a = page.a;
  await a.locator('a', { hasText: 'Back to the seat map' }).first().click();
  await seat(a, seatId).and(a.locator('[data-state="sold"]')).waitFor({ timeout: LIVE_MS });
  await a.locator('.cart__empty').waitFor();
  await shot(a, '07-a-back-on-map');
});

step('remove_gives_a_seat_back_and_a_declined_payment_ends_cancelled_with_a_reason', async () => {
  const a = page.a;
  const b = page.b;
  // A fresh load with the other hidden toggle: the payment is forced to decline.
  await a.goto(`${BASE}/?dev=decline#/events/${eventId}`);
  await waitLive(a);
  const free = a.locator('button.seat[data-state="available"]');
  const keep = Number(await free.nth(0).getAttribute('data-seat-id'));
  const drop = Number(await free.nth(1).getAttribute('data-seat-id'));
  for (const id of [keep, drop]) {
    await seat(a, id).click();
    await seat(a, id).and(a.locator('[data-state="mine"]')).waitFor({ timeout: 5_000 });
  }
  await seat(b, drop).and(b.locator('[data-state="held"]')).waitFor({ timeout: LIVE_MS });
  await a.locator(`.cart__item[data-seat-id="${drop}"] [data-action="remove"]`).click();
  await a.locator(`.cart__item[data-seat-id="${drop}"]`).waitFor({ state: 'detached' });
  await seat(a, drop).and(a.locator('[data-state="available"]')).waitFor({ timeout: LIVE_MS });
  await seat(b, drop).and(b.locator('[data-state="available"]')).waitFor({ timeout: LIVE_MS });

  await a.locator('.cart__checkout').click();
  await a.locator('[data-testid="pay"]').click();
  await a.locator('[data-testid="order-status"][data-status="CANCELLED"]').waitFor({ timeout: 20_000 });
  assert.match(await a.locator('[data-testid="order-reason"]').innerText(), /^Reason: \S+/);
  await shot(a, '08-a-cancelled');
  // The declined order's seat goes back on sale, and B sees it.
  await seat(b, keep).and(b.locator('[data-state="available"]')).waitFor({ timeout: LIVE_MS });
});

step('no_script_errors_in_either_page', async () => {
  assert.deepEqual(pageErrors, []);
});
