// Playwright drives Debian's Chromium (/usr/bin/chromium) against the debug build of the
// server, started here on its own port with a fresh SQLite database. If that port is taken the
// run fails instead of testing whatever is listening there.
import { defineConfig } from '@playwright/test';

import { feePort, feeServerEnv, port, root, serverEnv, tabibuBinary } from './tests/env';

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
  webServer: [
    {
      command: `rm -rf "${serverEnv.TABIBU_E2E_DATA}" && "${tabibuBinary}" serve`,
      cwd: root,
      url: `http://127.0.0.1:${port}/health`,
      reuseExistingServer: false,
      timeout: 60_000,
      stdout: 'ignore',
      stderr: 'pipe',
      env: serverEnv,
    },
    {
      // The same build, charging a consultation fee (payments.spec.ts).
      command: `rm -rf "${feeServerEnv.TABIBU_E2E_DATA}" && "${tabibuBinary}" serve`,
      cwd: root,
      url: `http://127.0.0.1:${feePort}/health`,
      reuseExistingServer: false,
      timeout: 60_000,
      stdout: 'ignore',
      stderr: 'pipe',
      env: feeServerEnv,
    },
  ],
});
