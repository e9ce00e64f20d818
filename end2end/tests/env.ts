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
};

// Cargo's output folder: `target/`, or a shared one named by CARGO_TARGET_DIR.
const targetDir = process.env.CARGO_TARGET_DIR ?? path.join(root, 'target');
export const tabibuBinary = path.join(targetDir, 'debug', 'tabibu');
