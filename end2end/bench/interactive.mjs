// How soon the patient's dashboard (/consultations, signed in) is interactive on localhost:
// from the start of the navigation until the WASM bundle has hydrated the page (the frontend
// then marks <html data-hydrated="true">; from that moment every button works). Runs Debian's
// Chromium through Playwright against the built server (`target/site` and `target/debug/tabibu`,
// or what TABIBU_BENCH_BINARY names), which it starts on a free port with a fresh database.
//
//   node end2end/bench/interactive.mjs [runs]        (deploy/dev/bench-interactive.sh wraps it)
//
// Each run is a new page. "cold": the browser cache is disabled, so every run downloads the
// bundle again (a first visit); "warm": the cache is used (a returning patient). The target
// (the patients' app issue): interactive in under 0.5 s; the median of the cold runs is
// compared with it.
import { chromium, request } from '@playwright/test';
import { spawn } from 'child_process';
import { mkdtempSync, rmSync } from 'fs';
import { createServer } from 'net';
import { tmpdir } from 'os';
import path from 'path';
import { fileURLToPath } from 'url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const targetDir = process.env.CARGO_TARGET_DIR ?? path.join(root, 'target');
const binary = process.env.TABIBU_BENCH_BINARY ?? path.join(targetDir, 'debug', 'tabibu');
const runs = Number(process.argv[2] ?? 20);
const TARGET_MS = 500;

const freePort = () =>
  new Promise((resolve) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });

const quantile = (sorted, q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];

async function main() {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const data = mkdtempSync(path.join(tmpdir(), 'tabibu-bench-'));
  const server = spawn(binary, ['serve'], {
    cwd: root,
    stdio: ['ignore', 'ignore', 'inherit'],
    env: {
      PATH: process.env.PATH,
      DATABASE_URL: `sqlite://${data}/tabibu.db`,
      LEPTOS_SITE_ADDR: `127.0.0.1:${port}`,
      LEPTOS_SITE_ROOT: process.env.LEPTOS_SITE_ROOT ?? path.join(root, 'target', 'site'),
      TABIBU_PUBLIC_URL: base,
      TABIBU_LOG: 'warn',
      TABIBU_RATE_LIMIT_PER_SECOND: '100000',
      TABIBU_RATE_LIMIT_API_PER_SECOND: '100000',
    },
  });
  try {
    const api = await request.newContext({ baseURL: base });
    for (let i = 0; ; i++) {
      try {
        if ((await api.get('/health')).ok()) break;
      } catch {}
      if (i > 150) throw new Error('the server did not start');
      await new Promise((r) => setTimeout(r, 200));
    }
    const signUp = await api.post('/api/accounts/sign_up', {
      form: { email: `bench-${Date.now()}@example.com`, password: 'quiet night by the river', name: 'Bench Patient', date_of_birth: '1990-01-01' },
    });
    if (signUp.status() !== 200) throw new Error(`sign-up failed: ${signUp.status()} ${await signUp.text()}`);
    const state = await api.storageState();

    const browser = await chromium.launch({
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
      args: ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
    });
    const context = await browser.newContext({ storageState: state, viewport: { width: 360, height: 740 } });
    // Runs before the page's own scripts, when <html> may not exist yet: watch the document.
    await context.addInitScript(() => {
      new MutationObserver((_, observer) => {
        if (document.documentElement?.getAttribute('data-hydrated') === 'true') {
          window.__tabibuInteractive = performance.now();
          observer.disconnect();
        }
      }).observe(document, { subtree: true, attributes: true, attributeFilter: ['data-hydrated'] });
    });
    const measure = async (cold) => {
      const times = [];
      for (let i = 0; i < runs; i++) {
        const page = await context.newPage();
        const cdp = await context.newCDPSession(page);
        await cdp.send('Network.setCacheDisabled', { cacheDisabled: cold });
        await page.goto(`${base}/consultations`);
        await page.waitForFunction(() => window.__tabibuInteractive !== undefined, null, { timeout: 15_000 });
        times.push(await page.evaluate(() => window.__tabibuInteractive));
        await page.close();
      }
      times.sort((a, b) => a - b);
      return { median: quantile(times, 0.5), p95: quantile(times, 0.95), min: times[0], max: times[times.length - 1] };
    };
    const cold = await measure(true);
    const warm = await measure(false);
    await browser.close();
    const fmt = (r) => `median ${r.median.toFixed(0)} ms, p95 ${r.p95.toFixed(0)} ms (min ${r.min.toFixed(0)}, max ${r.max.toFixed(0)})`;
    console.log(`interactive: /consultations, ${runs} runs each, binary ${path.relative(root, binary)}`);
    console.log(`  cold cache: ${fmt(cold)}`);
    console.log(`  warm cache: ${fmt(warm)}`);
    const pass = cold.median < TARGET_MS;
    console.log(`target: interactive in under ${TARGET_MS} ms (cold median): ${pass ? 'PASS' : 'FAIL'}`);
    process.exitCode = pass ? 0 : 1;
  } finally {
    server.kill('SIGTERM');
    rmSync(data, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 2;
});
