#!/usr/bin/env bash
# Measures what the browser downloads to run the app: the release build's WASM and its JS
# glue, each as the brotli twin (quality 11) that the server sends a browser accepting br.
#   deploy/dev/bench-bundle.sh             builds the release site first, then measures
#   deploy/dev/bench-bundle.sh --no-build  measures the site already in target/site
# Prints raw, brotli and gzip sizes per file and PASS/FAIL against the patients' app target
# (WASM + JS under 250 KB brotli). Exits 1 on FAIL, so it can gate a build when it passes.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SITE="${LEPTOS_SITE_ROOT:-$ROOT/target/site}"
PKG="$SITE/pkg"
TARGET_BYTES=$((250 * 1024))

if [ "${1:-}" != "--no-build" ]; then
  ensure_rust
  ensure_wasm_bindgen
  "$ROOT/deploy/build-site.sh" --release
fi
for f in tabibu_bg.wasm tabibu.js; do
  if [ ! -f "$PKG/$f.br" ] || [ ! -f "$PKG/$f.gz" ]; then
    echo "$PKG/$f.br or .gz is missing: the site there is not a release build" >&2
    echo "(run deploy/dev/bench-bundle.sh without --no-build)" >&2
    exit 2
  fi
done

step "benchmark: browser bundle size"
size() { stat -c %s "$1"; }
kb() { awk -v b="$1" 'BEGIN { printf "%.1f KB", b / 1024 }'; }
printf '%-16s %12s %14s %12s\n' file raw brotli gzip
raw_total=0; br_total=0; gz_total=0
for f in tabibu_bg.wasm tabibu.js; do
  raw=$(size "$PKG/$f"); br=$(size "$PKG/$f.br"); gz=$(size "$PKG/$f.gz")
  printf '%-16s %10s B %12s B %10s B\n' "$f" "$raw" "$br" "$gz"
  raw_total=$((raw_total + raw)); br_total=$((br_total + br)); gz_total=$((gz_total + gz))
done
printf '%-16s %10s B %12s B %10s B\n' "WASM + JS" "$raw_total" "$br_total" "$gz_total"
if [ "$br_total" -lt "$TARGET_BYTES" ]; then
  echo "PASS: WASM + JS $(kb "$br_total") brotli; target under $(kb "$TARGET_BYTES")"
else
  echo "FAIL: WASM + JS $(kb "$br_total") brotli; target under $(kb "$TARGET_BYTES")"
  exit 1
fi
