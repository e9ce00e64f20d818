#!/usr/bin/env bash
# Runs every test Tabibu has, installing what they need first (the WASM target,
# wasm-bindgen-cli at the Cargo.lock version, Debian's chromium and python3-aiosmtpd, the npm
# packages of end2end/ without any browser download). Safe to run again. Exits non-zero on the
# first failure.
#
#   gates: rustfmt, clippy -D warnings (server build and browser build)
#   tests: unit and integration tests on SQLite and PostgreSQL, testssl.sh against the HTTPS
#          listener, then Playwright in Chromium
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
started=$SECONDS

ensure_rust
ensure_wasm_bindgen
# python3-aiosmtpd: the real SMTP server the email tests send to (run as /usr/bin/python3,
# since a python3 earlier on PATH may lack it); openssl makes its test certificate.
apt_install chromium ca-certificates python3-aiosmtpd openssl
ensure_postgres() {
  # These machines run PostgreSQL already; start the cluster if it is installed but stopped.
  if command -v pg_isready >/dev/null && ! pg_isready -q -h 127.0.0.1 -p 5432; then
    if command -v pg_ctlcluster >/dev/null; then
      pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
    fi
  fi
}
ensure_postgres
if [ ! -d end2end/node_modules/@playwright/test ] || [ end2end/package-lock.json -nt end2end/node_modules ]; then
  step "installing the end2end npm packages (no browser download)"
  (cd end2end && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error)
fi

step "rustfmt"
cargo fmt --all --check

step "clippy: server build (ssr)"
cargo clippy -p tabibu-server -p tabibu-app -p tabibu-ai --all-targets --features tabibu-app/ssr -- -D warnings

step "clippy: browser build (hydrate, wasm32)"
cargo clippy -p tabibu-frontend -p tabibu-app --target wasm32-unknown-unknown --features tabibu-app/hydrate -- -D warnings

step "unit and integration tests (SQLite and PostgreSQL)"
cargo test -p tabibu-server -p tabibu-app -p tabibu-ai --features tabibu-app/ssr

step "browser tests (Playwright in Debian's Chromium)"
"$ROOT/deploy/build-site.sh"
"$ROOT/deploy/dev/tls-check.sh"
(cd end2end && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npx playwright test)

step "all tests passed in $((SECONDS - started)) s"
