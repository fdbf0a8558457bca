// What both browser tests share: Debian's Chromium (never a download) and
// the flags this machine needs: no sandbox as root, no GPU, and no
// background connections to hosts the closed network refuses.
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
