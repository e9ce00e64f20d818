# Shared by run.sh and test.sh: installs what the build needs when it is missing, at pinned
# versions, and does nothing when it is already there. Sourced, not run.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
export PATH="$HOME/.cargo/bin:$PATH"
# .cargo/config.toml gives every build `--cfg erase_components`, which the server and the
# browser must share. A RUSTFLAGS (or CARGO_ENCODED_RUSTFLAGS) variable, even an empty one,
# replaces that setting instead of adding to it, so the flag is added to the variable here.
if [ -n "${CARGO_ENCODED_RUSTFLAGS+set}" ]; then
  case "$CARGO_ENCODED_RUSTFLAGS" in
    *erase_components*) ;;
    *) export CARGO_ENCODED_RUSTFLAGS="${CARGO_ENCODED_RUSTFLAGS:+$CARGO_ENCODED_RUSTFLAGS$'\x1f'}--cfg"$'\x1f'"erase_components" ;;
  esac
elif [ -n "${RUSTFLAGS+set}" ]; then
  case "$RUSTFLAGS" in
    *erase_components*) ;;
    *) export RUSTFLAGS="${RUSTFLAGS:+$RUSTFLAGS }--cfg erase_components" ;;
  esac
fi
# The same for the doctests, which rustdoc compiles with RUSTDOCFLAGS.
if [ -n "${RUSTDOCFLAGS+set}" ]; then
  case "$RUSTDOCFLAGS" in
    *erase_components*) ;;
    *) export RUSTDOCFLAGS="${RUSTDOCFLAGS:+$RUSTDOCFLAGS }--cfg erase_components" ;;
  esac
fi

step() { printf '\n==> %s\n' "$*"; }

# Runs apt-get install for the Debian packages that are missing (as root, or through sudo).
apt_install() {
  local missing=()
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  step "installing Debian packages: ${missing[*]}"
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

# The Rust toolchain and the WASM target named in rust-toolchain.toml.
ensure_rust() {
  if ! command -v cargo >/dev/null; then
    echo "cargo not found: install Rust with rustup first (https://rustup.rs)" >&2
    exit 1
  fi
  rustup show active-toolchain >/dev/null 2>&1 || rustup toolchain install
  rustup target list --installed | grep -qx wasm32-unknown-unknown \
    || rustup target add wasm32-unknown-unknown
}

# wasm-bindgen-cli at exactly the version of the wasm-bindgen crate in Cargo.lock: the two
# must match or the generated glue does not fit the WASM.
ensure_wasm_bindgen() {
  local want have=""
  want="$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)"
  command -v wasm-bindgen >/dev/null && have="$(wasm-bindgen --version | awk '{print $2}')"
  if [ "$have" != "$want" ]; then
    step "installing wasm-bindgen-cli $want (once; several minutes)"
    # Not --locked: its own lockfile names a crate version the registry no longer serves.
    cargo install wasm-bindgen-cli --version "$want" --force
  fi
}

# wasm-opt from the npm package binaryen (Debian's older binaryen breaks hydration).
ensure_wasm_opt() {
  if [ ! -x "$ROOT/deploy/dev/node_modules/.bin/wasm-opt" ]; then
    step "installing binaryen (wasm-opt) from npm"
    (cd "$ROOT/deploy/dev" && npm ci --no-audit --no-fund --loglevel=error)
  fi
  export PATH="$ROOT/deploy/dev/node_modules/.bin:$PATH"
}

# moto's S3-compatible server from PyPI, for the S3 document-storage tests
# (server/tests/support/moto.rs). Kept in a virtual environment of its own under the user's
# cache (Debian's python3 refuses system-wide pip installs), unless the python3 on PATH
# already has it. Exports TABIBU_TEST_MOTO_PYTHON for the tests.
MOTO_VERSION=5.2.1
ensure_moto() {
  if python3 -c 'import moto.server' >/dev/null 2>&1; then
    TABIBU_TEST_MOTO_PYTHON="$(command -v python3)"
  else
    local venv="${XDG_CACHE_HOME:-$HOME/.cache}/tabibu/moto-venv"
    if ! "$venv/bin/python3" -c 'import moto.server' >/dev/null 2>&1; then
      step "installing moto[server] $MOTO_VERSION from PyPI into $venv"
      python3 -m venv "$venv"
      "$venv/bin/python3" -m pip install --quiet --disable-pip-version-check \
        "moto[server]==$MOTO_VERSION"
    fi
    TABIBU_TEST_MOTO_PYTHON="$venv/bin/python3"
  fi
  export TABIBU_TEST_MOTO_PYTHON
}
