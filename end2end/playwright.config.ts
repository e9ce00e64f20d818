// Playwright drives Debian's Chromium (/usr/bin/chromium) against the debug build of the
// server, started here on its own port with a fresh SQLite database. If that port is taken the
// run fails instead of testing whatever is listening there.
import { defineConfig } from '@playwright/test';
import * as path from 'path';

const port = Number(process.env.TABIBU_E2E_PORT ?? 3100);
const root = path.resolve(__dirname, '..');
const dataDir = path.join(root, 'target', 'e2e');

export const chromiumArgs = [
  '--headless=new',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-default-apps',
  '--disable-dev-shm-usage',
];

export default defineConfig({
  testDir: './tests',
  timeout: 30_000,
  expect: { timeout: 5_000 },
  fullyParallel: false,
  workers: 1,
  retries: 0,
  forbidOnly: !!process.env.CI,
  reporter: [['list']],
  use: {
    baseURL: `http://127.0.0.1:${port}`,
    browserName: 'chromium',
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
      args: chromiumArgs,
    },
    trace: 'off',
  },
  projects: [
    { name: 'desktop', use: { viewport: { width: 1280, height: 800 } } },
    { name: 'phone', use: { viewport: { width: 360, height: 740 }, hasTouch: true } },
  ],
  webServer: {
    command: `rm -rf "${dataDir}" && "${path.join(root, 'target', 'debug', 'tabibu')}" serve`,
    cwd: root,
    url: `http://127.0.0.1:${port}/health`,
    reuseExistingServer: false,
    timeout: 60_000,
    stdout: 'ignore',
    stderr: 'pipe',
    env: {
      DATABASE_URL: `sqlite://${dataDir}/tabibu.db`,
      LEPTOS_SITE_ADDR: `127.0.0.1:${port}`,
      LEPTOS_SITE_ROOT: path.join(root, 'target', 'site'),
      TABIBU_ENV: 'development',
      TABIBU_LOG: 'warn',
    },
  },
});
