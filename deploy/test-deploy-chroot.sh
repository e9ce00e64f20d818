#!/usr/bin/env bash
# Tests deploy.sh as root, the way it installs on a real machine (the user `tabibu`, file
# ownership and modes, commands run as that user), inside a throwaway chroot: this machine's
# /usr read-only, a copy of its /etc, everything else empty. No systemd runs there, so the
# server is started in the background, as on a machine without systemd.
#
#   sudo bash deploy/test-deploy-chroot.sh        (after deploy/build-site.sh)
#
# Needs root and the right to make a mount namespace (unshare, mount, chroot), which some
# containers do not give; that is why deploy/dev/test.sh runs deploy/test-deploy.sh (no root,
# a prefix) and not this. Nothing outside the chroot's folder is changed, and the folder is
# removed at the end.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
binary="${CARGO_TARGET_DIR:-$ROOT/target}/debug/tabibu"
site="${LEPTOS_SITE_ROOT:-$ROOT/target/site}"
[ "$(id -u)" -eq 0 ] || { echo "run as root" >&2; exit 1; }
if [ ! -x "$binary" ] || [ ! -f "$site/pkg/tabibu.js" ]; then
  echo "build first: deploy/build-site.sh" >&2
  exit 1
fi

jail="$(mktemp -d "${TMPDIR:-/tmp}/tabibu-chroot-test.XXXXXX")"
chmod 755 "$jail"
# The mounts live in a private namespace that ends with the test; should one still be seen
# here, the folder is left alone rather than removed through it (/dev is mounted writable).
cleanup() {
  local dir
  for dir in usr src dev proc; do
    if mountpoint -q "$jail/$dir"; then
      echo "$jail/$dir is still mounted: not removing $jail" >&2
      return
    fi
  done
  rm -rf "$jail"
}
trap cleanup EXIT
mkdir -p "$jail/build"
cp "$binary" "$jail/build/tabibu"
cp -R "$site" "$jail/build/site"

# What runs inside: each check fails the test with a message.
cat >"$jail/build/inside.sh" <<'INSIDE'
set -euo pipefail
fail() { echo "FAIL: $*" >&2; exit 1; }
pass() { printf '  ok  %s\n' "$*"; }
log=/build/deploy.log
deploy() { bash /src/deploy/deploy.sh --binary /build/tabibu --site /build/site "$@" >>"$log" 2>&1; }
ready() { curl -fsS -o /dev/null --max-time 5 http://127.0.0.1:3977/ready; }
owner() { stat -c '%U:%G %a' "$1"; }
trap '[ -f /run/tabibu/tabibu.pid ] && kill "$(cat /run/tabibu/tabibu.pid)" 2>/dev/null; true' EXIT

deploy --listen 127.0.0.1:3977 || { cat "$log"; fail "the first deploy failed"; }
ready || fail "not ready after the first deploy"
first="$(readlink /opt/tabibu/current)"
getent passwd tabibu | grep -q ':/usr/sbin/nologin$' || fail "no system user tabibu"
[ "$(owner /etc/tabibu/tabibu.env)" = "root:root 600" ] || fail "settings are $(owner /etc/tabibu/tabibu.env)"
[ "$(owner /var/lib/tabibu)" = "tabibu:tabibu 750" ] || fail "data folder is $(owner /var/lib/tabibu)"
[ "$(owner /var/lib/tabibu/tabibu.db)" = "tabibu:tabibu 600" ] || fail "database is $(owner /var/lib/tabibu/tabibu.db)"
[ "$(stat -c %U "/opt/tabibu/current/tabibu")" = root ] || fail "the release is not root's"
[ "$(ps -o user= -p "$(cat /run/tabibu/tabibu.pid)")" = tabibu ] || fail "the server does not run as tabibu"
pass "first deploy: user, owners and modes right, the server runs as tabibu and is ready"

settings="$(sha256sum </etc/tabibu/tabibu.env)"
deploy || { cat "$log"; fail "the second deploy failed"; }
ready || fail "not ready after the second deploy"
[ "$(readlink /opt/tabibu/current)" != "$first" ] || fail "no new release"
[ "$(sha256sum </etc/tabibu/tabibu.env)" = "$settings" ] || fail "the settings changed"
[ "$(owner /var/backups/tabibu)" = "tabibu:tabibu 700" ] || fail "backups folder is $(owner /var/backups/tabibu)"
pass "second deploy: new release, same settings, pre-deploy backup"

printf '%s\n' "a long chroot passphrase" | bash /opt/tabibu/current/deploy/tabibu-cli.sh \
  admin create-user --email amina@example.com --role patient >>"$log" 2>&1 || fail "tabibu-cli.sh failed"
bash /opt/tabibu/current/deploy/backup.sh >>"$log" 2>&1 || fail "backup.sh failed"
backup="$(find /var/backups/tabibu -mindepth 1 -maxdepth 1 -name 'tabibu-*Z' | head -n 1)"
[ "$(owner "$backup")" = "tabibu:tabibu 700" ] || fail "the backup is $(owner "$backup")"
bash /opt/tabibu/current/deploy/restore.sh "$backup" --force >>"$log" 2>&1 || { cat "$log"; fail "restore.sh failed"; }
ready || fail "not ready after the restore"
[ "$(owner /var/lib/tabibu/tabibu.db)" = "tabibu:tabibu 600" ] || fail "restored database is $(owner /var/lib/tabibu/tabibu.db)"
pass "tabibu-cli.sh, backup.sh, restore.sh as root: files stay the service's"
INSIDE

# shellcheck disable=SC2016 # expanded by the inner shell, from its arguments
unshare --mount --propagation private bash -euo pipefail -c '
  jail="$1" src="$2"
  mkdir -p "$jail"/{usr,etc,proc,dev,run,tmp,var,src}
  chmod 1777 "$jail/tmp"
  for dir in bin sbin lib lib64; do ln -s "usr/$dir" "$jail/$dir"; done
  mount --bind /usr "$jail/usr" && mount -o remount,bind,ro "$jail/usr"
  mount --bind "$src" "$jail/src" && mount -o remount,bind,ro "$jail/src"
  mount --bind /dev "$jail/dev"
  mount -t proc proc "$jail/proc"
  cp -a /etc/. "$jail/etc/"
  chroot "$jail" /usr/bin/env -i PATH=/usr/sbin:/usr/bin HOME=/root bash /build/inside.sh
' _ "$jail" "$ROOT"
echo "chroot deploy test passed in ${SECONDS} s"
