#!/usr/bin/env bash
# Tests deploy.sh for real on a temporary prefix, with the debug build (the binary from
# $CARGO_TARGET_DIR or target/debug, the site from target/site: deploy/build-site.sh makes
# both). Runs in well under a minute, needs no root, and removes everything it made.
#
#   1. a first deploy starts a healthy server with a private settings file and a new data key;
#   2. a second deploy makes a new release, keeps the settings untouched and the data
#      (a patient signs in before and after), and backs up before migrating;
#   3. a release whose server will not start is rolled back: the previous release is current
#      and ready again, the failed one is gone;
#   4. a release whose migrations fail is never switched to: the running server is untouched;
#   5. --keep removes the oldest releases;
#   6. backup.sh and restore.sh: a restore is refused without --force and leaves the server
#      running; forced, it brings back the data of the backup's moment.
# shellcheck source-path=SCRIPTDIR
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
binary="${CARGO_TARGET_DIR:-$ROOT/target}/debug/tabibu"
site="${LEPTOS_SITE_ROOT:-$ROOT/target/site}"
[ -x "$binary" ] || { echo "no debug build at $binary: run deploy/build-site.sh first" >&2; exit 1; }
[ -f "$site/pkg/tabibu.js" ] || { echo "no site at $site: run deploy/build-site.sh first" >&2; exit 1; }

prefix="$(mktemp -d "${TMPDIR:-/tmp}/tabibu-deploy-test.XXXXXX")"
prefix="$(cd "$prefix" && pwd -P)"
log="$prefix/test.log"
# shellcheck source=ops-lib.sh
source "$HERE/ops-lib.sh"
layout "$prefix"

cleanup() {
  server_stop || true
  rm -rf "$prefix"
}
trap cleanup EXIT

fail() {
  echo "FAIL: $*" >&2
  echo "---- deploy output ----" >&2
  cat "$log" >&2 || true
  echo "---- server log ----" >&2
  tail -n 30 "$LOG_FILE" >&2 2>/dev/null || true
  exit 1
}
pass() { printf '  ok  %s\n' "$*"; }

# A free port on the loopback address.
port=""
for _ in $(seq 1 50); do
  candidate=$((20000 + RANDOM % 40000))
  if ! (exec 3<>"/dev/tcp/127.0.0.1/$candidate") 2>/dev/null; then
    port="$candidate"
    break
  fi
done
[ -n "$port" ] || fail "no free port found"
base="http://127.0.0.1:$port"

deploy() {
  bash "$HERE/deploy.sh" --prefix "$prefix" --site "$site" --listen "127.0.0.1:$port" \
    --health-timeout 30 "$@" >>"$log" 2>&1
}
current() { basename "$(readlink "$CURRENT")"; }
ready() { [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$base/ready")" = 200 ]; }
sign_in() {
  [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 \
    --data-urlencode "email=patient@example.com" --data-urlencode "password=$password" \
    "$base/api/accounts/sign_in")" = 200 ]
}
password="a long test passphrase for the deploy"

echo "deploy test in $prefix (port $port)"

# 1. First installation.
deploy --binary "$binary" || fail "the first deploy failed"
ready || fail "not ready after the first deploy"
first="$(current)"
[ "$(stat -c %a "$ENV_FILE")" = 600 ] || fail "the settings file is not mode 600"
grep -qE '^TABIBU_DATA_KEY=[A-Za-z0-9+/]{43}=$' "$ENV_FILE" || fail "no generated data key"
grep -q '^TABIBU_ENV=production$' "$ENV_FILE" || fail "the settings are not for production"
printf '%s\n' "$password" | bash "$HERE/tabibu-cli.sh" --prefix "$prefix" admin create-user \
  --email patient@example.com --role patient >>"$log" 2>&1 || fail "could not create a user"
sign_in || fail "the new user cannot sign in"
pass "first deploy: release $first ready, settings private with a new data key"

# 2. The same again: a new release, nothing else changed.
settings_before="$(sha256sum <"$ENV_FILE")"
deploy --binary "$binary" || fail "the second deploy failed"
ready || fail "not ready after the second deploy"
second="$(current)"
[ "$second" != "$first" ] || fail "the second deploy made no new release"
[ -d "$RELEASES/$first" ] || fail "the first release was removed"
[ "$(sha256sum <"$ENV_FILE")" = "$settings_before" ] || fail "the settings file changed"
ls -d "$BACKUP_DIR"/pre-deploy-* >/dev/null 2>&1 || fail "no backup before migrating"
sign_in || fail "the user cannot sign in after the second deploy"
pass "second deploy: release $second ready, settings unchanged, data kept, backup taken"

# 3. A release whose server exits at once is rolled back.
broken="$prefix/broken-serve"
cat >"$broken" <<EOF
#!/bin/sh
# Everything but serving works (so migrations pass).
[ "\$1" = serve ] && { echo "this release cannot serve (deploy test)" >&2; exit 1; }
exec "$binary" "\$@"
EOF
chmod +x "$broken"
pid_before="$(cat "$PID_FILE")"
if deploy --binary "$broken"; then fail "a release that cannot serve was deployed"; fi
grep -q "rolled back to $second, which is ready" "$log" || fail "no rollback reported"
[ "$(current)" = "$second" ] || fail "current is $(current), not the previous release $second"
[ "$(find "$RELEASES" -mindepth 1 -maxdepth 1 | wc -l)" = 2 ] || fail "the failed release was kept"
ready || fail "not ready after the rollback"
[ "$(cat "$PID_FILE")" != "$pid_before" ] || fail "the previous release was not restarted"
sign_in || fail "the user cannot sign in after the rollback"
pass "failed release: rolled back to $second, which answers /ready"

# 4. A release whose migrations fail is never switched to.
cat >"$broken" <<'EOF'
#!/bin/sh
echo "this release fails everything (deploy test)" >&2
exit 1
EOF
pid_before="$(cat "$PID_FILE")"
if deploy --binary "$broken" --no-backup; then fail "a release with failing migrations was deployed"; fi
grep -q "nothing was switched" "$log" || fail "no refusal reported"
[ "$(current)" = "$second" ] || fail "current changed to $(current)"
[ "$(cat "$PID_FILE")" = "$pid_before" ] || fail "the running server was restarted"
ready || fail "not ready after the refused release"
pass "failing migrations: nothing switched, the server untouched"

# 5. Old releases go.
deploy --binary "$binary" --keep 2 --no-backup || fail "the third deploy failed"
ready || fail "not ready after the third deploy"
third="$(current)"
[ ! -d "$RELEASES/$first" ] || fail "--keep 2 kept the oldest release"
if [ ! -d "$RELEASES/$second" ] || [ ! -d "$RELEASES/$third" ]; then
  fail "--keep 2 removed too much"
fi
pass "--keep 2: $first removed, $second and $third kept"

# 6. backup.sh, then restore.sh brings the data of that moment back.
bash "$HERE/backup.sh" --prefix "$prefix" >>"$log" 2>&1 || fail "backup.sh failed"
snapshot="$(find "$BACKUP_DIR" -mindepth 1 -maxdepth 1 -name 'tabibu-*Z' | head -n 1)"
[ -f "$snapshot/MANIFEST" ] || fail "backup.sh wrote no backup"
printf '%s\n' "$password" | "$binary" --env-file "$ENV_FILE" admin create-user \
  --email later@example.com --role patient >>"$log" 2>&1 || fail "could not create a user"
if bash "$HERE/restore.sh" --prefix "$prefix" "$snapshot" >>"$log" 2>&1; then
  fail "restore.sh replaced data without --force"
fi
ready || fail "not ready after a refused restore"
bash "$HERE/restore.sh" --prefix "$prefix" --force "$snapshot" >>"$log" 2>&1 \
  || fail "restore.sh --force failed"
ready || fail "not ready after the restore"
sign_in || fail "the user from the backup cannot sign in after the restore"
status="$(curl -s -o /dev/null -w '%{http_code}' --data-urlencode "email=later@example.com" \
  --data-urlencode "password=$password" "$base/api/accounts/sign_in")"
[ "$status" != 200 ] || fail "a user made after the backup survived the restore"
pass "backup.sh and restore.sh: refused without --force, then back to the backup's moment"

echo "deploy test passed in ${SECONDS} s"
