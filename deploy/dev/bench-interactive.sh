#!/usr/bin/env bash
# Measures how soon the patient's dashboard is interactive in Chromium on localhost (see
# end2end/bench/interactive.mjs), against the build it makes first:
#   deploy/dev/bench-interactive.sh            the debug build (what the tests use)
#   deploy/dev/bench-interactive.sh --release  the release build (what production serves)
# Prints the cold- and warm-cache medians and p95s and PASS/FAIL against 0.5 s.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ensure_rust
ensure_wasm_bindgen
apt_install chromium
if [ ! -d "$ROOT/end2end/node_modules/@playwright/test" ]; then
  (cd "$ROOT/end2end" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error)
fi
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
if [ "${1:-}" = "--release" ]; then
  "$ROOT/deploy/build-site.sh" --release
  export TABIBU_BENCH_BINARY="$TARGET_DIR/release/tabibu"
else
  "$ROOT/deploy/build-site.sh"
fi
step "benchmark: time to interactive"
(cd "$ROOT/end2end" && node bench/interactive.mjs "${RUNS:-20}")
