// Where the end-to-end server runs and what it is configured with; shared by the Playwright
// config (which starts the server) and tests that run the `tabibu` command line beside it.
import * as path from 'path';

export const port = Number(process.env.TABIBU_E2E_PORT ?? 3100);
export const root = path.resolve(__dirname, '..', '..');
const dataDir = path.join(root, 'target', 'e2e');

export const serverEnv: Record<string, string> = {
  TABIBU_E2E_DATA: dataDir,
  DATABASE_URL: `sqlite://${dataDir}/tabibu.db`,
  LEPTOS_SITE_ADDR: `127.0.0.1:${port}`,
  LEPTOS_SITE_ROOT: path.join(root, 'target', 'site'),
  TABIBU_PUBLIC_URL: `http://127.0.0.1:${port}`,
  TABIBU_ENV: 'development',
  TABIBU_LOG: 'warn',
  // Every test signs in from 127.0.0.1; the limit's own behaviour is tested in Rust.
  TABIBU_SIGN_IN_ATTEMPTS_PER_MINUTE: '100',
  // Several people's browsers share 127.0.0.1 here; the general limit is tested in Rust.
  TABIBU_RATE_LIMIT_PER_SECOND: '1000',
  TABIBU_RATE_LIMIT_API_PER_SECOND: '1000',
};

// A second server that charges a consultation fee through the M-Pesa simulator (the first
// one keeps consultations free, as most tests expect).
export const feePort = port + 1;
const feeDataDir = path.join(root, 'target', 'e2e-fee');
export const feeServerEnv: Record<string, string> = {
  ...serverEnv,
  TABIBU_E2E_DATA: feeDataDir,
  DATABASE_URL: `sqlite://${feeDataDir}/tabibu.db`,
  LEPTOS_SITE_ADDR: `127.0.0.1:${feePort}`,
  TABIBU_PUBLIC_URL: `http://127.0.0.1:${feePort}`,
  TABIBU_CONSULTATION_FEE_KES: '500',
  TABIBU_PAYMENTS_PROVIDER: 'simulator',
  // Long enough to see "check your phone", short enough for a test.
  TABIBU_MPESA_SIMULATOR_DELAY_MS: '1500',
};

// Cargo's output folder: `target/`, or a shared one named by CARGO_TARGET_DIR.
const targetDir = process.env.CARGO_TARGET_DIR ?? path.join(root, 'target');
export const tabibuBinary = path.join(targetDir, 'debug', 'tabibu');
