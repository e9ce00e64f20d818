# Shared by deploy.sh, backup.sh and restore.sh: where an installation lives, how to run the
# `tabibu` binary with its settings as the service user, and how to start, stop and check the
# server. Sourced, not run.
#
# An installation under a prefix P (default /):
#   P/opt/tabibu/releases/<id>/    tabibu, site/, deploy/, env.example, RELEASE
#   P/opt/tabibu/current           symlink to the running release
#   P/etc/tabibu/tabibu.env        settings and secrets, mode 600
#   P/var/lib/tabibu/              SQLite database and documents (the service's only writable place)
#   P/var/backups/tabibu/          backups
#   P/run/tabibu/tabibu.pid, P/var/log/tabibu/tabibu.log   only without systemd
#
# Nothing here prints a setting's value: the settings file holds the database password and
# the data key.
# shellcheck shell=bash

SERVICE_NAME="tabibu"

die() { printf 'error: %s\n' "$*" >&2; exit 1; }
note() { printf '    %s\n' "$*"; }
step() { printf '==> %s\n' "$*"; }

# Sets the paths of an installation under $1 ("/" for the real one).
# shellcheck disable=SC2034 # the scripts that source this file use them
layout() {
  local prefix="${1:-/}"
  [ -d "$prefix" ] || die "the prefix $prefix does not exist"
  PREFIX="$(cd "$prefix" && pwd -P)"
  P="${PREFIX%/}"
  APP_DIR="$P/opt/tabibu"
  RELEASES="$APP_DIR/releases"
  CURRENT="$APP_DIR/current"
  CONF_DIR="$P/etc/tabibu"
  ENV_FILE="$CONF_DIR/tabibu.env"
  DATA_DIR="$P/var/lib/tabibu"
  BACKUP_DIR="$P/var/backups/tabibu"
  RUN_DIR="$P/run/tabibu"
  PID_FILE="$RUN_DIR/tabibu.pid"
  LOG_DIR="$P/var/log/tabibu"
  LOG_FILE="$LOG_DIR/tabibu.log"
  UNIT_DIR="$P/etc/systemd/system"
  # The real installation runs as its own user; one under a prefix (a test, a trial) runs as
  # whoever installed it.
  if [ -z "$P" ]; then
    SERVICE_USER="tabibu"
  else
    SERVICE_USER="$(id -un)"
  fi
}

# Whether the server is run by systemd: only for the real installation on a systemd machine.
uses_systemd() {
  [ -z "$P" ] && [ -d /run/systemd/system ] && command -v systemctl >/dev/null
}

# Exports the settings in $1 into the current shell: `NAME=value` lines; blank lines and
# `#` comments skipped; one pair of surrounding quotes removed; nothing expanded, so a `$` in a
# password stays a `$`. Call it in a subshell, so the secrets end with it.
load_env() {
  local file="$1" line name value
  [ -r "$file" ] || die "cannot read the settings file $file"
  while IFS= read -r line || [ -n "$line" ]; do
    line="${line#"${line%%[![:space:]]*}"}"
    case "$line" in '' | '#'*) continue ;; esac
    line="${line#export }"
    name="${line%%=*}"
    [ "$name" != "$line" ] || continue
    [[ "$name" =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] || continue
    value="${line#*=}"
    if [[ "$value" =~ ^\"(.*)\"$ ]] || [[ "$value" =~ ^\'(.*)\'$ ]]; then
      value="${BASH_REMATCH[1]}"
    fi
    export "$name=$value"
  done <"$file"
}

# Prints one setting from $1 (for addresses only: never call it for a secret).
env_value() {
  local file="$1" name="$2"
  (
    load_env "$file"
    printf '%s' "${!name:-}"
  )
}

# Replaces the current (sub)shell with `tabibu ARGS…` (the binary $SERVICE_BIN) run as the
# service user, with the installation's settings, in its data folder.
exec_as_service() {
  # Not the deploy lock (deploy.sh's fd 9): a server holding it would block every later deploy.
  exec 9>&-
  # The settings file is the whole configuration, as under systemd: nothing from the caller's
  # environment mixes in.
  local name
  for name in $(compgen -e); do
    case "$name" in TABIBU_* | LEPTOS_* | DATABASE_URL) unset "$name" ;; esac
  done
  load_env "$ENV_FILE"
  cd "$DATA_DIR" || exit 1
  export HOME="$DATA_DIR"
  # What it creates (a database, a backup) is the service's alone, as under systemd's UMask.
  umask 077
  if [ "$(id -un)" != "$SERVICE_USER" ]; then
    exec setpriv --reuid="$SERVICE_USER" --regid="$SERVICE_USER" --init-groups -- "$SERVICE_BIN" "$@"
  fi
  exec "$SERVICE_BIN" "$@"
}

# Runs `tabibu ARGS…` as exec_as_service does, in a subshell, so the settings end with it.
as_service() {
  (exec_as_service "$@")
}

# The address /ready answers at, from LEPTOS_SITE_ADDR (default 127.0.0.1:3000).
ready_url() {
  local addr
  addr="$(env_value "$ENV_FILE" LEPTOS_SITE_ADDR)"
  addr="${addr:-127.0.0.1:3000}"
  case "$addr" in
    0.0.0.0:*) addr="127.0.0.1:${addr#0.0.0.0:}" ;;
    '[::]:'*) addr="[::1]:${addr#\[::\]:}" ;;
  esac
  printf 'http://%s/ready' "$addr"
}

# Waits up to $1 seconds for /ready to answer 200.
wait_ready() {
  local deadline=$((SECONDS + $1)) url
  url="$(ready_url)"
  while [ "$SECONDS" -lt "$deadline" ]; do
    if curl -fsS --max-time 2 -o /dev/null "$url" 2>/dev/null; then
      return 0
    fi
    # A server that already died will not become ready.
    if uses_systemd; then
      systemctl is-failed --quiet "$SERVICE_NAME" && return 1
    elif ! server_alive; then
      return 1
    fi
    sleep 0.5
  done
  return 1
}

# Whether the process in the pid file is alive (it may not have become `tabibu` yet).
server_alive() {
  local pid
  [ -f "$PID_FILE" ] || return 1
  pid="$(cat "$PID_FILE")"
  [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null
}

# Prints the pid of the server started without systemd, if it is still running.
server_pid() {
  local pid
  [ -f "$PID_FILE" ] || return 1
  pid="$(cat "$PID_FILE")"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  # Only our own server: a pid reused by another program is left alone.
  case "$(readlink "/proc/$pid/exe" 2>/dev/null)" in
    "$RELEASES"/*/tabibu | "$RELEASES"/*/tabibu" (deleted)") printf '%s' "$pid" ;;
    *) return 1 ;;
  esac
}

server_start() {
  if uses_systemd; then
    # A release that crashed five times in a row leaves the unit refusing starts; a deploy or
    # a rollback is a deliberate new start.
    systemctl reset-failed "$SERVICE_NAME" 2>/dev/null || true
    systemctl restart "$SERVICE_NAME"
    return
  fi
  server_stop
  mkdir -p "$RUN_DIR" "$LOG_DIR"
  [ -e "$LOG_FILE" ] || (umask 077 && : >"$LOG_FILE")
  # In the background, the subshell becomes the server itself, so $! is its pid.
  SERVICE_BIN="$CURRENT/tabibu" exec_as_service serve </dev/null >>"$LOG_FILE" 2>&1 &
  printf '%s\n' "$!" >"$PID_FILE"
}

# Stops the server and waits for its graceful shutdown (up to 45 s, as systemd would).
server_stop() {
  if uses_systemd; then
    systemctl stop "$SERVICE_NAME"
    return
  fi
  local pid deadline
  pid="$(server_pid)" || { rm -f "$PID_FILE"; return 0; }
  kill -TERM "$pid"
  deadline=$((SECONDS + 45))
  while kill -0 "$pid" 2>/dev/null && [ "$SECONDS" -lt "$deadline" ]; do
    sleep 0.2
  done
  kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
  rm -f "$PID_FILE"
}

# The server's last log lines (ids and codes only: the log holds no personal data).
server_log_tail() {
  if uses_systemd; then
    journalctl -u "$SERVICE_NAME" -n 20 --no-pager 2>/dev/null || true
  elif [ -f "$LOG_FILE" ]; then
    tail -n 20 "$LOG_FILE"
  fi
}
