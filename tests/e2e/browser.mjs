import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

// What the browser tests share: Debian's Chromium (never a download) and
// the flags this machine needs: no sandbox as root, no GPU, and no
// background connections to hosts the closed network refuses.
export const SHOTS = join(dirname(fileURLToPath(import.meta.url)), 'screenshots');
export const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

// A flow of node:test steps over one page: once a step fails, the later
// ones are skipped (each builds on the one before) and the page is saved as
// screenshots/failure-<label>.png. getPage() returns the page at that time.
export function steps(label, getPage) {
  let broken = null;
  return function step(name, fn) {
    test(name, async (t) => {
      if (broken) {
        t.skip(`after the failure of "${broken}"`);
        return;
      }
      try {
        await fn(t);
      } catch (err) {
        broken = name;
        mkdirSync(SHOTS, { recursive: true });
        await getPage()
          ?.screenshot({ path: join(SHOTS, `failure-${label}.png`), fullPage: true })
          .catch(() => {});
        throw err;
      }
    });
  };
}
