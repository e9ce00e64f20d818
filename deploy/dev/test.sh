#!/usr/bin/env bash
# Runs every test Tabibu has, installing what they need first (the WASM target,
# wasm-bindgen-cli at the Cargo.lock version, Debian's chromium, curl, shellcheck,
# python3-aiosmtpd and testssl.sh, the PostgreSQL client tools, moto's S3 server from PyPI,
# the npm packages of end2end/ without any browser download). Safe to run again. Exits
# non-zero on the first failure.
#
#   gates: rustfmt, shellcheck on the deploy scripts, clippy -D warnings (server build and
#          browser build)
#   tests: unit and integration tests on SQLite and PostgreSQL, testssl.sh against the HTTPS
#          listener, the deploy test (deploy/test-deploy.sh), then Playwright in Chromium
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
started=$SECONDS

ensure_rust
ensure_wasm_bindgen
# python3-aiosmtpd: the real SMTP server the email tests send to (run as /usr/bin/python3,
# since a python3 earlier on PATH may lack it); openssl makes its test certificate.
apt_install chromium ca-certificates curl shellcheck python3-aiosmtpd openssl testssl.sh jq \
  python3-venv
# moto: the S3-compatible server the S3 document-storage tests run against.
ensure_moto
# pg_dump and pg_restore for the backup tests; the server's own packages usually bring them.
command -v pg_dump >/dev/null || apt_install postgresql-client
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

step "shellcheck: the deploy scripts"
shellcheck -x deploy/deploy.sh deploy/backup.sh deploy/restore.sh deploy/ops-lib.sh \
  deploy/tabibu-cli.sh deploy/certbot-renew-hook.sh \
  deploy/test-deploy.sh deploy/test-deploy-chroot.sh
shellcheck -x --source-path=SCRIPTDIR deploy/dev/tls-check.sh

step "clippy: server build (ssr)"
cargo clippy -p tabibu-server -p tabibu-app -p tabibu-ai --all-targets --features tabibu-app/ssr -- -D warnings

step "clippy: browser build (hydrate, wasm32)"
cargo clippy -p tabibu-frontend -p tabibu-app --target wasm32-unknown-unknown --features tabibu-app/hydrate -- -D warnings

step "unit and integration tests (SQLite and PostgreSQL)"
cargo test -p tabibu-server -p tabibu-app -p tabibu-ai --features tabibu-app/ssr

step "building the site and the server (debug)"
"$ROOT/deploy/build-site.sh"

step "TLS check (testssl.sh against the HTTPS listener)"
"$ROOT/deploy/dev/tls-check.sh"

step "deploy test (deploy.sh twice on a temporary prefix, a rollback)"
bash "$ROOT/deploy/test-deploy.sh"

step "browser tests (Playwright in Debian's Chromium)"
(cd end2end && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npx playwright test)

step "all tests passed in $((SECONDS - started)) s"
