#!/usr/bin/env bash
# Runs testssl.sh (Debian's package) against Tabibu's own HTTPS listener and fails on any
# finding rated MEDIUM or worse. The server is the debug build, with a certificate from a
# throw-away test CA that testssl.sh is told to trust; it runs on a free port with a temporary
# SQLite database and is stopped afterwards. Called by deploy/dev/test.sh; safe to run alone
# after `deploy/build-site.sh`.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

apt_install testssl.sh openssl curl jq

TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
BINARY="$TARGET_DIR/debug/tabibu"
[ -x "$BINARY" ] || { echo "build the server first (deploy/build-site.sh)" >&2; exit 1; }

WORK="$(mktemp -d)"
SERVER_PID=""
cleanup() {
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT

step "TLS check: a test CA and a certificate for localhost"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 730 \
  -keyout "$WORK/ca.key" -out "$WORK/ca.crt" -subj "/CN=Tabibu TLS check CA" 2>/dev/null
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
  -keyout "$WORK/server.key" -out "$WORK/server.csr" -subj "/CN=localhost" 2>/dev/null
# Like a public CA's certificate: a year long, with a revocation list named (the check looks
# for one; nothing fetches it here).
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\ncrlDistributionPoints=URI:http://localhost/tabibu-check.crl\n' > "$WORK/server.ext"
openssl x509 -req -in "$WORK/server.csr" -CA "$WORK/ca.crt" -CAkey "$WORK/ca.key" \
  -CAcreateserial -days 365 -extfile "$WORK/server.ext" -out "$WORK/server.crt" 2>/dev/null
cat "$WORK/server.crt" "$WORK/ca.crt" > "$WORK/chain.crt"

PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
step "TLS check: starting the server with HTTPS on port $PORT"
env -i PATH="$PATH" HOME="$WORK" \
  DATABASE_URL="sqlite://$WORK/data/tabibu.db" \
  LEPTOS_SITE_ADDR="127.0.0.1:$PORT" \
  LEPTOS_SITE_ROOT="$ROOT/target/site" \
  TABIBU_PUBLIC_URL="https://localhost:$PORT" \
  TABIBU_TLS_CERT="$WORK/chain.crt" \
  TABIBU_TLS_KEY="$WORK/server.key" \
  TABIBU_LOG=warn \
  TABIBU_RATE_LIMIT_PER_SECOND=100000 \
  TABIBU_RATE_LIMIT_API_PER_SECOND=100000 \
  "$BINARY" serve > "$WORK/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 100); do
  curl -fsS --cacert "$WORK/ca.crt" "https://localhost:$PORT/health" >/dev/null 2>&1 && break
  sleep 0.2
done
curl -fsS --cacert "$WORK/ca.crt" "https://localhost:$PORT/health" >/dev/null || {
  echo "the server did not answer over HTTPS:" >&2; cat "$WORK/server.log" >&2; exit 1; }

step "TLS check: testssl.sh (findings rated MEDIUM or worse fail the check)"
# --add-ca: trust the test CA; --ip: no DNS; -p -s -f -P -S -U -h: protocols, cipher categories,
# forward secrecy, server preferences, the certificate, known vulnerabilities, headers.
testssl --quiet --color 0 --warnings off --add-ca "$WORK/ca.crt" --ip 127.0.0.1 \
  --severity MEDIUM --jsonfile "$WORK/findings.json" -p -s -f -P -S -U -h \
  "localhost:$PORT" > "$WORK/testssl.log" 2>&1 || true
[ -s "$WORK/findings.json" ] || { echo "testssl.sh wrote no findings file:" >&2; tail -40 "$WORK/testssl.log" >&2; exit 1; }
BAD="$(jq -r '.[] | select(.severity == "MEDIUM" or .severity == "HIGH" or .severity == "CRITICAL") | "\(.severity) \(.id): \(.finding)"' "$WORK/findings.json")"
if [ -n "$BAD" ]; then
  echo "testssl.sh found:" >&2
  echo "$BAD" >&2
  exit 1
fi
step "TLS check passed: testssl.sh reports no finding rated MEDIUM or worse"
