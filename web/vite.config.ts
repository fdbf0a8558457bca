// ticketd serves the build itself: GET / -> dist/index.html and
// GET /assets/<file> -> dist/assets/<file> (one path segment), so every built
// file must land flat in dist/assets and nothing may come from public/.
import { defineConfig } from 'vitest/config';

// Node's process, without pulling in @types/node for one line.
declare const process: { env: Record<string, string | undefined> };

const backend = process.env.TICKETD_URL ?? 'http://127.0.0.1:8080';

export default defineConfig({
  base: '/',
  publicDir: false,
  build: {
    outDir: 'dist',
    assetsDir: 'assets',
    emptyOutDir: true,
    target: 'es2020',
    sourcemap: false,
    // Small images and fonts are inlined, larger ones still go flat into assets/.
    assetsInlineLimit: 8192,
  },
  server: {
    // `npm run dev` talks to a running ticketd (REST and SSE on one origin).
    proxy: { '/api': { target: backend, changeOrigin: false }, '/admin': { target: backend, changeOrigin: false } },
  },
  test: {
    include: ['src/**/*.test.ts'],
    environment: 'node',
  },
});
