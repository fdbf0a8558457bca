// End-to-end: the waiting-room view of the web page (issue #12) in Debian's
// Chromium through playwright-core.
//
// Two modes:
//   ROOM_E2E_FAKE=1  the built page (web/dist) against fake_room_server.mjs, a
//                    scripted stand-in started here: positions move when the
//                    test says so. What `bash tests/e2e/run.sh --fake-room` runs.
//   otherwise        against the running ticketd at TICKETD_URL: the room of
//                    the last listed event is switched on through the admin
//                    API (key file TICKET_ADMIN_KEY_FILE; run.sh --with-stack
//                    sets it) and off again at the end. It skips itself when
//                    the server has no waiting room (404 on the room route)
//                    or no admin key is readable.
//   CHROMIUM_PATH    the browser (default /usr/bin/chromium)
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { CHROMIUM, CHROMIUM_ARGS as ARGS } from './browser.mjs';
import { startFakeServer } from './fake_room_server.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const FAKE = process.env.ROOM_E2E_FAKE === '1';
const SHOTS = join(HERE, 'screenshots');

let BASE = (process.env.TICKETD_URL || 'http://127.0.0.1:18080').replace(/\/+$/, '');
let fake = null;
let browser;
let skipReason = null;
let broken = null;
const pages = {};
const pageErrors = [];

mkdirSync(SHOTS, { recursive: true });

function step(name, fn) {
  test(name, async (t) => {
    if (skipReason) return t.skip(skipReason);
    if (broken) return t.skip(`after the failure of "${broken}"`);
    try {
      await fn(t);
    } catch (err) {
      broken = name;
      for (const [who, p] of Object.entries(pages)) {
        await p.screenshot({ path: join(SHOTS, `room-failure-${who}.png`), fullPage: true }).catch(() => {});
      }
      throw err;
    }
  });
}

async function shot(p, name) {
  await p.screenshot({ path: join(SHOTS, `room-${name}.png`), fullPage: true });
}

async function newPage(who, path) {
  const ctx = await browser.newContext({ viewport: { width: 1100, height: 820 }, locale: 'en-IE' });
  const p = await ctx.newPage();
  p.on('pageerror', (err) => pageErrors.push(`${who}: ${err.message}`));
  p.on('console', (msg) => {
    if (msg.type() !== 'error') return;
    const text = msg.text();
    // A refused call (403/503) logs a network error in Chromium: expected here.
    if (/Failed to load resource/.test(text)) return;
    console.log(`[${who} console] ${text}`);
    if (text.includes('Content Security Policy')) pageErrors.push(`${who}: ${text}`);
  });
  pages[who] = p;
  if (path) await p.goto(BASE + path);
  return p;
}

const room = (p) => p.locator('[data-testid="waiting-room"]');
const seatMap = (p) => p.locator('button.seat').first();
const storedTicket = (p, eventId) =>
  p.evaluate((id) => JSON.parse(sessionStorage.getItem(`ticketing.room.${id}`) || 'null')?.ticket ?? null, eventId);
const markDocument = (p) => p.evaluate(() => (window.__e2eSameDocument = true));
const sameDocument = (p) => p.evaluate(() => window.__e2eSameDocument === true);

// ---------------------------------------------------------------------------
// Real mode: ticketd with the waiting room (after the room branch is merged).
// ---------------------------------------------------------------------------
const real = {
  eventId: null,
  adminKey: null,
  fields: null,
  async api(method, path, body, token) {
    const res = await fetch(BASE + path, {
      method,
      headers: { Accept: 'application/json', ...(body ? { 'Content-Type': 'application/json' } : {}), ...(token ? { Authorization: `Bearer ${token}` } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    const text = await res.text();
    let json = null;
    try {
      json = text ? JSON.parse(text) : null;
    } catch {
      json = null;
    }
    return { status: res.status, body: json };
  },
  /** PUT /admin/events/{id}/room: a partial update in ticketd's names (docs/api.md). */
  async putRoom(want) {
    const names = { enabled: 'enabled', rate: 'ratePerSecond', activeMax: 'activeMax', startsAt: 'startsAt' };
    const body = Object.fromEntries(Object.entries(want).map(([k, v]) => [names[k] ?? k, v]));
    const res = await real.api('PUT', `/admin/events/${real.eventId}/room`, body, real.adminKey);
    assert.equal(res.status, 200, `PUT admin room: ${res.status} ${JSON.stringify(res.body)}`);
  },
};

async function realModeSkipReason() {
  try {
    const events = await real.api('GET', '/api/events');
    if (events.status !== 200 || !Array.isArray(events.body) || events.body.length === 0) return `GET /api/events answered ${events.status}`;
    // The last event: seat_flow.test.mjs uses the first.
    real.eventId = events.body.at(-1).id;
    const session = await real.api('POST', '/api/sessions');
    const probe = await real.api('POST', `/api/events/${real.eventId}/room`, {}, session.body?.token);
    if (probe.status === 404 && probe.body?.code !== 'EVENT_NOT_FOUND')
      return `the server has no waiting room yet (POST /api/events/${real.eventId}/room answered 404 ${probe.body?.code ?? ''}); this test runs once the room branch is merged`;
    const file = process.env.TICKET_ADMIN_KEY_FILE;
    if (!file) return 'TICKET_ADMIN_KEY_FILE is not set (the admin key switches the room on; run.sh --with-stack sets it)';
    try {
      real.adminKey = readFileSync(file, 'utf8').trim();
    } catch (e) {
      return `cannot read the admin key ${file}: ${e.code ?? e.message}`;
    }
    return null;
  } catch (e) {
    return `ticketd at ${BASE} cannot be reached: ${e.message}`;
  }
}

before(async () => {
  if (FAKE) {
    fake = await startFakeServer(join(HERE, '../../web/dist'));
    BASE = fake.url;
  } else {
    skipReason = await realModeSkipReason();
    if (skipReason) {
      console.log(`room_flow: skipped: ${skipReason}`);
      return;
    }
  }
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ARGS });
});

after(async () => {
  if (!FAKE && real.eventId && !skipReason) await real.putRoom({ enabled: false }).catch((e) => console.log(`room_flow: could not switch the room off: ${e.message}`));
  await browser?.close();
  await fake?.close();
});

// ---------------------------------------------------------------------------
// Fake mode: the page against the scripted stand-in.
// ---------------------------------------------------------------------------
if (FAKE) {
  step('before_the_sale_the_room_shows_the_start_time_and_a_place', async () => {
    fake.room.startsAt = new Date(Date.now() + 12 * 60_000).toISOString();
    const a = await newPage('a', '/#/events/1');
    await room(a).and(a.locator('[data-room-state="waiting"]')).waitFor({ timeout: 10_000 });
    assert.equal(await seatMap(a).count(), 0, 'no seat map while waiting');
    assert.match(await a.locator('[data-testid="room-starts"]').innerText(), /^Sale starts .+ \(in 1[12] minutes\)\.$/);
    assert.match(await a.locator('[data-testid="room-announce"]').innerText(), /drawn at random/);
    await shot(a, '01-before-the-sale');
  });

  step('a_reload_rejoins_with_the_same_ticket', async () => {
    const a = pages.a;
    const ticket = await storedTicket(a, 1);
    assert.match(ticket ?? '', /^v1\.1\.\d+\./);
    fake.room.startsAt = null;
    await a.reload();
    await room(a).and(a.locator('[data-room-state="waiting"]')).waitFor({ timeout: 10_000 });
    const joins = fake.log.filter((r) => r.method === 'POST' && r.path === '/api/events/1/room');
    assert.deepEqual(JSON.parse(joins.at(-1).body), { ticket }, 'the reload sent the kept ticket');
    assert.equal(await storedTicket(a, 1), ticket);
    assert.equal(await a.locator('[data-testid="room-starts"]').innerText(), '', 'no start line once the sale is open');
  });

  step('the_place_counts_down_live_with_progress_and_no_layout_jump', async () => {
    const a = pages.a;
    await markDocument(a);
    await a.locator('.live[data-live="live"]').waitFor({ timeout: 5_000 });
    const position = a.locator('[data-testid="room-position"]');
    const first = Number(await position.innerText());
    assert.ok(first >= 2, `a place in line, got ${first}`);
    assert.match(await a.locator('[data-testid="room-wait"]').innerText(), /^(Less than a minute|About \d+ minutes?)$/);
    const box1 = await room(a).boundingBox();
    fake.advance();
    await a.waitForFunction((n) => Number(document.querySelector('[data-testid="room-position"]').textContent) === n, first - 1, { timeout: 3_000 });
    const progress = Number(await a.locator('[data-testid="room-progress"]').getAttribute('value'));
    assert.ok(progress > 0 && progress < 100, `progress moves: ${progress}`);
    const box2 = await room(a).boundingBox();
    assert.deepEqual([box2.x, box2.y, box2.width, box2.height], [box1.x, box1.y, box1.width, box1.height], 'the room did not move or resize');
    assert.equal(await a.locator('[data-testid="room-announce"]').getAttribute('aria-live'), 'polite');
    assert.match(await a.locator('[data-testid="room-link"]').innerText(), /updates live/);
    await shot(a, '02-waiting');
  });

  step('admitted_moves_to_the_seat_map_by_itself', async () => {
    const a = pages.a;
    for (let i = 0; i < 10 && !fake.visitors.values().next().value.admitted; i++) fake.advance();
    await seatMap(a).waitFor({ timeout: 5_000 });
    assert.equal(await sameDocument(a), true, 'no reload on the way to the map');
    await a.locator('[data-testid="room-turn"]').waitFor();
    await a.locator('.live[data-live="live"]').waitFor({ timeout: 5_000 });
    const streams = fake.log.filter((r) => r.path === '/api/events/1/seats/stream');
    // EventSource sends no header: the session rides as ?token=, as ticketd takes it.
    assert.match(streams.at(-1).query, /^\?token=[0-9a-f]{32}$/, 'the seat stream carries the session');
    const maps = fake.log.filter((r) => r.path === '/api/events/1/seats');
    assert.ok(maps.at(-1).auth, 'the seat map call carries the session token');
    await shot(a, '03-admitted-seat-map');
  });

  step('queue_required_from_the_seat_map_goes_back_to_the_room', async () => {
    const a = pages.a;
    fake.revoke(await storedTicket(a, 1));
    await room(a).and(a.locator('[data-room-state="waiting"]')).waitFor({ timeout: 10_000 });
    assert.equal(await seatMap(a).count(), 0);
    assert.equal(await sameDocument(a), true);
    assert.equal(await a.locator('[data-testid="room-position"]').innerText(), '2');
  });

  step('a_failed_stream_falls_back_to_polling_and_still_admits', async () => {
    const a = pages.a;
    fake.room.streamDown = true;
    const before = fake.log.length;
    fake.cutRoomStreams(); // EventSource errors; its reconnects are refused with 503
    await a.locator('[data-testid="room-link"]', { hasText: 'every few seconds' }).waitFor({ timeout: 10_000 });
    const t0 = Date.now();
    // Polls arrive every 2-5 s.
    for (let i = 0; i < 40; i++) {
      if (fake.log.slice(before).filter((r) => r.method === 'GET' && r.path === '/api/events/1/room').length >= 2) break;
      await a.waitForTimeout(250);
    }
    const polls = fake.log.slice(before).filter((r) => r.method === 'GET' && r.path === '/api/events/1/room');
    assert.ok(polls.length >= 2, `polled ${polls.length} times in ${Date.now() - t0} ms`);
    assert.match(polls[0].query, /^\?ticket=v1\./);
    await shot(a, '04-polling');
    fake.advance();
    fake.advance();
    await seatMap(a).waitFor({ timeout: 8_000 });
    fake.room.streamDown = false;
  });

  step('an_event_without_a_room_opens_the_seat_map_at_once', async () => {
    const b = await newPage('b', '/#/events/2');
    await seatMap(b).waitFor({ timeout: 10_000 });
    assert.equal(await room(b).count(), 0);
    assert.equal(await b.locator('[data-testid="room-turn"]').count(), 0);
  });

  step('no_script_errors', async () => {
    assert.deepEqual(pageErrors, []);
  });
}

if (!FAKE) {
  step('with_one_place_the_first_visitor_gets_the_map_and_the_second_waits', async () => {
    await real.putRoom({ enabled: true, rate: 5, activeMax: 1, startsAt: null });
    const a = await newPage('a', `/#/events/${real.eventId}`);
    await seatMap(a).waitFor({ timeout: 15_000 });
    await a.locator('[data-testid="room-turn"]').waitFor();
    // the seat stream of a room event needs the session: it goes live
    await a.locator('.live[data-live="live"]').waitFor({ timeout: 10_000 });
    const b = await newPage('b', `/#/events/${real.eventId}`);
    await room(b).and(b.locator('[data-room-state="waiting"]')).waitFor({ timeout: 10_000 });
    assert.equal(await seatMap(b).count(), 0);
    const pos = await b.locator('[data-testid="room-position"]').innerText();
    assert.match(pos, /^(\d+|Next)$/);
    await b.locator('.live[data-live="live"]').waitFor({ timeout: 10_000 });
    await shot(b, 'real-01-waiting');
  });

  step('a_reload_keeps_the_ticket', async () => {
    const b = pages.b;
    const ticket = await storedTicket(b, real.eventId);
    assert.match(ticket ?? '', /^v1\./);
    const sent = b.waitForRequest((r) => r.method() === 'POST' && r.url().endsWith(`/api/events/${real.eventId}/room`));
    await b.reload();
    assert.deepEqual(JSON.parse((await sent).postData() ?? '{}'), { ticket });
    await room(b).and(b.locator('[data-room-state="waiting"]')).waitFor({ timeout: 10_000 });
    assert.equal(await storedTicket(b, real.eventId), ticket, 'the server gave the same ticket back');
  });

  step('a_free_place_admits_the_waiting_visitor_without_a_reload', async () => {
    const b = pages.b;
    await markDocument(b);
    await real.putRoom({ activeMax: 2 });
    await seatMap(b).waitFor({ timeout: 15_000 });
    assert.equal(await sameDocument(b), true);
    await b.locator('[data-testid="room-turn"]').waitFor();
    await shot(b, 'real-02-admitted');
  });

  step('a_visitor_on_the_map_when_the_room_fills_is_sent_back_to_the_room', async () => {
    await real.putRoom({ enabled: false });
    const c = await newPage('c', `/#/events/${real.eventId}`);
    await seatMap(c).waitFor({ timeout: 10_000 });
    await markDocument(c);
    await real.putRoom({ enabled: true, activeMax: 2 });
    // The map is still on screen: a hold (403 NOT_ADMITTED) or the map call
    // (403 QUEUE_REQUIRED) must send the page back to the room, which it
    // asks again (POST); whether it then waits or is let in is the room's call.
    const rejoin = c.waitForRequest((r) => r.method() === 'POST' && r.url().endsWith(`/api/events/${real.eventId}/room`), { timeout: 15_000 });
    const free = c.locator('button.seat[data-state="available"]').first();
    if (await free.count()) await free.click().catch(() => {});
    await rejoin;
    await c.locator('[data-testid="waiting-room"], button.seat').first().waitFor({ timeout: 10_000 });
    assert.equal(await sameDocument(c), true);
    await shot(c, 'real-03-back-to-the-room');
  });

  step('no_script_errors', async () => {
    assert.deepEqual(pageErrors, []);
  });
}
