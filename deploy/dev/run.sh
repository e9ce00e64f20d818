#!/usr/bin/env bash
# Runs Tabibu at http://127.0.0.1:3000 on the embedded SQLite database (./data/tabibu.db),
# installing what the build needs first. Safe to run again; Ctrl-C stops the server.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ensure_rust
ensure_wasm_bindgen
"$ROOT/deploy/build-site.sh"
step "starting Tabibu on http://${LEPTOS_SITE_ADDR:-127.0.0.1:3000}"
exec "${CARGO_TARGET_DIR:-$ROOT/target}/debug/tabibu" serve
