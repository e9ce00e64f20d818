#!/usr/bin/env bash
# Restores a backup made by `tabibu backup` into an installation, the way an operator would by
# hand: check the backup, stop the server, back up what is there now, restore, migrate, start,
# check /ready. Run as root.
#
#   sudo /opt/tabibu/current/deploy/restore.sh /var/backups/tabibu/tabibu-20261204T023000Z --force
#   deploy/restore.sh --prefix /tmp/t BACKUP_DIR [--force]
#
# Options: --prefix DIR (an installation made with deploy.sh --prefix), --force (replace data
# that is there; it is backed up first and, for SQLite and the documents, also moved aside),
# --allow-other-key (see `tabibu restore --help`), --binary PATH (default: the current
# release's tabibu). With several instances on one PostgreSQL database, stop the others first.
# The backup folder must be readable by the service user: after copying one in from elsewhere,
# `chown -R tabibu: FOLDER`.
#
# If the restore itself is refused or fails, nothing was changed and the server is started
# again on the data it had.
# shellcheck source-path=SCRIPTDIR
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=ops-lib.sh
source "$HERE/ops-lib.sh"

prefix="/"
binary=""
backup=""
flags=()
while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) prefix="${2:?--prefix needs a folder}"; shift 2 ;;
    --binary) binary="${2:?--binary needs a path}"; shift 2 ;;
    --force | --allow-other-key) flags+=("$1"); shift ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | grep -v '^# shellcheck\|^set ' | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) die "unknown option $1 (see --help)" ;;
    *) [ -z "$backup" ] || die "one backup folder only"; backup="$1"; shift ;;
  esac
done
[ -n "$backup" ] || die "name the backup folder to restore (see --help)"
backup="$(cd "$backup" && pwd -P)" || die "no folder $backup"
layout "$prefix"
SERVICE_BIN="${binary:-$CURRENT/tabibu}"
[ -x "$SERVICE_BIN" ] || die "no tabibu binary at $SERVICE_BIN"

step "checking $backup"
as_service restore --check "$backup"

step "stopping the server"
server_stop

step "backing up what is there now"
safety="$BACKUP_DIR/before-restore-$(date -u +%Y%m%dT%H%M%SZ)"
if as_service backup "$safety"; then
  note "kept in $safety"
else
  # A database that does not exist yet has nothing to keep.
  note "nothing backed up (see the message above)"
fi

step "restoring"
if ! as_service restore "${flags[@]}" "$backup"; then
  echo "the restore did not happen; starting the server again on the data it had" >&2
  server_start
  wait_ready 60 || echo "warning: the server is not ready; see its log" >&2
  exit 1
fi

step "migrating"
as_service migrate

step "starting the server"
server_start
wait_ready 60 || { server_log_tail >&2; die "the server is not ready after the restore"; }
note "ready at $(ready_url)"
