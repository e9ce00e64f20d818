#!/usr/bin/env bash
# Builds the browser bundle into target/site and the server binary.
#   deploy/build-site.sh            debug build (fast; what the tests use)
#   deploy/build-site.sh --release  size-optimised WASM, release server, precompressed assets
# Needs wasm-bindgen-cli at the Cargo.lock version (deploy/dev/run.sh and test.sh install it).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/dev/lib.sh"

MODE="debug"
[ "${1:-}" = "--release" ] && MODE="release"
SITE="${LEPTOS_SITE_ROOT:-$ROOT/target/site}"
# Cargo's output folder (a shared one when CARGO_TARGET_DIR says so).
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
PKG="$SITE/pkg"
WASM_PROFILE="dev"; WASM_DIR="debug"; SERVER_FLAGS=()
if [ "$MODE" = "release" ]; then
  WASM_PROFILE="wasm-release"; WASM_DIR="wasm-release"; SERVER_FLAGS=(--release)
fi

step "building the browser bundle ($MODE)"
# Both builds get `--cfg erase_components` from .cargo/config.toml, so the browser hydrates
# exactly the tree the server rendered (it panicked when only the browser had the flag).
cargo build -p tabibu-frontend --lib --target wasm32-unknown-unknown --profile "$WASM_PROFILE"
rm -rf "$PKG.new" && mkdir -p "$PKG.new"
wasm-bindgen --target web --no-typescript --out-dir "$PKG.new" --out-name tabibu \
  "$TARGET_DIR/wasm32-unknown-unknown/$WASM_DIR/tabibu_frontend.wasm"
if [ "$MODE" = "release" ]; then
  ensure_wasm_opt
  apt_install brotli
  # --converge repeats -Oz while it still shrinks the file: 5 KB less brotli (MEASUREMENTS.md).
  wasm-opt -Oz --converge --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext \
    --enable-mutable-globals "$PKG.new/tabibu_bg.wasm" -o "$PKG.new/tabibu_bg.wasm"
fi
cp "$ROOT/style/main.css" "$PKG.new/tabibu.css"
mkdir -p "$SITE"
cp -r "$ROOT/public/." "$SITE/"
if [ "$MODE" = "release" ]; then
  # Served as-is to browsers that accept br/gzip (ServeDir picks the .br/.gz twin).
  for f in "$PKG.new"/*.{js,wasm,css}; do
    brotli -f -q 11 -o "$f.br" "$f"
    gzip -f -k -9 "$f"
  done
fi
rm -rf "$PKG" && mv "$PKG.new" "$PKG"

step "building the server ($MODE)"
cargo build -p tabibu-server --bin tabibu "${SERVER_FLAGS[@]}"
echo "site: $SITE"
