#!/usr/bin/env bash
# Installs or updates Tabibu on this machine, and rolls back if the new release is not healthy.
#
#   sudo deploy/deploy.sh                          the release build (deploy/build-site.sh --release)
#   deploy/deploy.sh --prefix /tmp/t --binary target/debug/tabibu --site target/site --listen 127.0.0.1:3100
#
# Safe to run again: each run adds a release and changes nothing else that is already right.
# Steps: the system user `tabibu` (real installation only); the folders (see deploy/ops-lib.sh);
# the settings file, created once from .env.example with a new data key and mode 600, never
# rewritten; a new release (binary, site, scripts) under opt/tabibu/releases/<UTC time>; a
# backup before migrating (updates only); `tabibu migrate` with the new binary; the switch of
# opt/tabibu/current; a restart (systemd for the real installation on a systemd machine, else
# a background process with a pid file); /ready checked. If it does not answer within the
# health timeout, `current` goes back to the previous release, which is restarted, and the
# script exits 1. The newest --keep releases are kept.
#
# Options:
#   --prefix DIR        install under DIR instead of / (no root needed, no user, no systemd)
#   --binary PATH       the tabibu binary (default: $CARGO_TARGET_DIR or target, /release/tabibu)
#   --site DIR          the built site (default: target/site)
#   --listen HOST:PORT  LEPTOS_SITE_ADDR written into a new settings file (default 127.0.0.1:3000)
#   --keep N            releases kept (default 5)
#   --health-timeout S  seconds to wait for /ready (default 60)
#   --no-backup         skip the backup taken before migrating an existing installation
# shellcheck source-path=SCRIPTDIR
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
# shellcheck source=ops-lib.sh
source "$HERE/ops-lib.sh"

prefix="/"
binary="${CARGO_TARGET_DIR:-$ROOT/target}/release/tabibu"
site="$ROOT/target/site"
listen="127.0.0.1:3000"
keep=5
health_timeout=60
pre_backup=1
while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) prefix="${2:?--prefix needs a folder}"; shift 2 ;;
    --binary) binary="${2:?--binary needs a path}"; shift 2 ;;
    --site) site="${2:?--site needs a folder}"; shift 2 ;;
    --listen) listen="${2:?--listen needs HOST:PORT}"; shift 2 ;;
    --keep) keep="${2:?--keep needs a number}"; shift 2 ;;
    --health-timeout) health_timeout="${2:?--health-timeout needs seconds}"; shift 2 ;;
    --no-backup) pre_backup=0; shift ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | grep -v '^# shellcheck\|^set ' | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
done
if ! [[ "$keep" =~ ^[0-9]+$ ]] || [ "$keep" -lt 2 ]; then
  die "--keep takes a number of 2 or more"
fi
[[ "$health_timeout" =~ ^[0-9]+$ ]] || die "--health-timeout takes whole seconds"
[ -x "$binary" ] || die "no executable tabibu at $binary (build it: deploy/build-site.sh --release)"
[ -f "$site/pkg/tabibu.js" ] || die "no built site at $site (build it: deploy/build-site.sh --release)"
command -v curl >/dev/null || die "curl is needed for the health check (apt-get install curl)"

layout "$prefix"
if [ -z "$P" ] && [ "$(id -u)" -ne 0 ]; then
  die "installing into / needs root (sudo), or pass --prefix DIR to install into a folder"
fi

# One deploy at a time.
mkdir -p "$APP_DIR"
exec 9>"$APP_DIR/.deploy.lock"
flock -n 9 || die "another deploy is running (lock $APP_DIR/.deploy.lock)"

step "system user"
if [ -n "$P" ]; then
  note "under --prefix: no system user; the server runs as $SERVICE_USER"
elif getent passwd "$SERVICE_USER" >/dev/null; then
  note "$SERVICE_USER exists"
else
  useradd --system --user-group --home-dir "$DATA_DIR" --no-create-home \
    --shell /usr/sbin/nologin --comment "Tabibu service" "$SERVICE_USER"
  note "created $SERVICE_USER"
fi

step "folders"
umask 022
mkdir -p "$RELEASES" "$CONF_DIR" "$DATA_DIR" "$BACKUP_DIR"
chmod 750 "$DATA_DIR"
chmod 700 "$BACKUP_DIR"
if [ -z "$P" ]; then
  chown "$SERVICE_USER:$SERVICE_USER" "$DATA_DIR" "$BACKUP_DIR"
  chown root:root "$CONF_DIR"
  chmod 755 "$CONF_DIR"
fi
note "$APP_DIR, $CONF_DIR, $DATA_DIR, $BACKUP_DIR"

# Sets NAME=VALUE in a settings file: replaces `NAME=…` or the example's `# NAME=…`, else
# appends. Values are written literally (awk reads them from the environment, not the command
# line, so a secret never shows in the process list).
set_setting() {
  local file="$1" name="$2"
  SETTING_VALUE="$3" awk -v name="$name" '
    BEGIN { value = ENVIRON["SETTING_VALUE"]; done = 0 }
    !done && ($0 ~ "^" name "=" || $0 ~ "^# " name "=") { print name "=" value; done = 1; next }
    { print }
    END { if (!done) print name "=" value }
  ' "$file" >"$file.next"
  mv "$file.next" "$file"
}

step "settings"
if [ -f "$ENV_FILE" ]; then
  note "$ENV_FILE exists: left as it is"
  grep -q '^TABIBU_DATA_KEY=.' "$ENV_FILE" \
    || note "warning: it sets no TABIBU_DATA_KEY; production refuses to start without one"
else
  [ -f "$ROOT/.env.example" ] || die "$ROOT/.env.example is missing"
  # Every file written on the way holds the key at some point: none may be readable by others.
  umask 077
  new="$CONF_DIR/.tabibu.env.new"
  cp "$ROOT/.env.example" "$new"
  chmod 600 "$new"
  set_setting "$new" TABIBU_ENV production
  set_setting "$new" LEPTOS_SITE_ADDR "$listen"
  set_setting "$new" LEPTOS_SITE_ROOT "$CURRENT/site"
  set_setting "$new" DATABASE_URL "sqlite://$DATA_DIR/tabibu.db"
  set_setting "$new" TABIBU_DOCUMENTS_DIR "$DATA_DIR/documents"
  # nginx on this machine is the proxy whose X-Forwarded-For is believed.
  set_setting "$new" TABIBU_TRUSTED_PROXIES "127.0.0.1,::1"
  set_setting "$new" TABIBU_DATA_KEY "$(head -c 32 /dev/urandom | base64)"
  [ -z "$P" ] && chown root:root "$new"
  mv "$new" "$ENV_FILE"
  note "created $ENV_FILE (mode 600) with a new data key; set TABIBU_PUBLIC_URL in it"
  note "keep a copy of TABIBU_DATA_KEY apart from the backups: without it documents cannot be read"
  umask 022
fi
# Whatever else changed, the file stays private.
chmod 600 "$ENV_FILE"

step "release"
id="$(date -u +%Y%m%dT%H%M%SZ)"
n=1
while [ -e "$RELEASES/$id" ]; do
  n=$((n + 1))
  id="$(date -u +%Y%m%dT%H%M%SZ)-$n"
done
release="$RELEASES/$id"
previous=""
if [ -L "$CURRENT" ]; then
  previous="$(readlink "$CURRENT")"
  previous="$APP_DIR/${previous#"$APP_DIR"/}"
  [ -x "$previous/tabibu" ] || previous=""
fi
mkdir -p "$release.partial/deploy"
install -m 755 "$binary" "$release.partial/tabibu"
cp -R "$site" "$release.partial/site"
install -m 755 "$HERE/backup.sh" "$HERE/restore.sh" "$HERE/tabibu-cli.sh" "$release.partial/deploy/"
install -m 644 "$HERE/ops-lib.sh" "$release.partial/deploy/"
install -m 644 "$ROOT/.env.example" "$release.partial/env.example"
{
  printf 'release %s\n' "$id"
  printf 'binary_sha256 %s\n' "$(sha256sum "$binary" | cut -d' ' -f1)"
  printf 'version %s\n' "$("$binary" --version | awk '{print $2}')"
  if git -C "$ROOT" rev-parse HEAD >/dev/null 2>&1; then
    printf 'commit %s\n' "$(git -C "$ROOT" rev-parse HEAD)"
  fi
} >"$release.partial/RELEASE"
mv "$release.partial" "$release"
note "$release"
SERVICE_BIN="$release/tabibu"

step "systemd units"
mkdir -p "$UNIT_DIR"
units_changed=0
for unit in tabibu.service tabibu-backup.service tabibu-backup.timer; do
  if ! cmp -s "$HERE/systemd/$unit" "$UNIT_DIR/$unit"; then
    install -m 644 "$HERE/systemd/$unit" "$UNIT_DIR/$unit"
    units_changed=1
  fi
done
if uses_systemd; then
  [ "$units_changed" = 1 ] && systemctl daemon-reload
  systemctl enable --quiet tabibu.service tabibu-backup.timer
  systemctl start tabibu-backup.timer
  note "tabibu.service and tabibu-backup.timer enabled"
else
  note "no systemd here (or under --prefix): units copied to $UNIT_DIR, not loaded"
fi

if [ -n "$previous" ] && [ "$pre_backup" = 1 ]; then
  step "backup before migrating"
  # The previous binary made the data; a release from before `tabibu backup` leaves it to the
  # new one.
  backup_bin="$previous/tabibu"
  "$backup_bin" backup --help >/dev/null 2>&1 || backup_bin="$SERVICE_BIN"
  if ! SERVICE_BIN="$backup_bin" as_service backup "$BACKUP_DIR/pre-deploy-$id"; then
    rm -rf "$release"
    die "the backup before migrating failed; nothing was changed (fix it, or pass --no-backup)"
  fi
  # The three newest pre-deploy backups are enough: the nightly ones are kept apart.
  find "$BACKUP_DIR" -mindepth 1 -maxdepth 1 -type d -name 'pre-deploy-*' ! -name '*.partial' \
    -printf '%f\n' | sort | head -n -3 | while read -r old; do rm -rf "${BACKUP_DIR:?}/$old"; done
fi

step "migrations"
if ! as_service migrate; then
  rm -rf "$release"
  die "migrations failed with the new release; nothing was switched (the server was not touched)"
fi

# Points `current` at $1 in one rename.
switch_to() {
  ln -sfn "releases/$(basename "$1")" "$APP_DIR/current.next"
  mv -T "$APP_DIR/current.next" "$CURRENT"
}

step "switching to $id"
switch_to "$release"
server_start
if wait_ready "$health_timeout"; then
  note "ready at $(ready_url)"
else
  echo "the new release did not answer /ready within ${health_timeout} s; its last log lines:" >&2
  server_log_tail >&2
  if [ -z "$previous" ]; then
    server_stop || true
    rm -f "$CURRENT"
    rm -rf "$release"
    die "first installation failed; nothing is running (settings kept in $ENV_FILE)"
  fi
  step "rolling back to $(basename "$previous")"
  switch_to "$previous"
  rm -rf "$release"
  server_start
  if wait_ready "$health_timeout"; then
    die "deploy failed; rolled back to $(basename "$previous"), which is ready"
  fi
  die "deploy failed and $(basename "$previous") is not ready either; if the failed release added migrations, restore $BACKUP_DIR/pre-deploy-$id with restore.sh"
fi

step "old releases"
find "$RELEASES" -mindepth 1 -maxdepth 1 -type d ! -name '*.partial' -printf '%f\n' | sort \
  | head -n "-$keep" | while read -r old; do
    [ "$RELEASES/$old" = "$previous" ] && continue
    rm -rf "${RELEASES:?}/$old"
    note "removed $old"
  done

step "deployed $id"
