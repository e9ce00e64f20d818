#!/usr/bin/env bash
# One backup of an installation's database and documents (`tabibu backup`) into
# <dir>/tabibu-<UTC time>, then removes all but the newest --keep of those. The server keeps
# running. Run as root (it runs the backup as the service user, with the installation's
# settings); tabibu-backup.timer runs it every night.
#
#   sudo /opt/tabibu/current/deploy/backup.sh [--dir /var/backups/tabibu] [--keep 14]
#   deploy/backup.sh --prefix /tmp/t --binary target/debug/tabibu
#
# Options: --prefix DIR (an installation made with deploy.sh --prefix), --dir DIR (where the
# backups go; default <prefix>/var/backups/tabibu), --keep N (default 14), --binary PATH
# (default: the current release's tabibu).
# shellcheck source-path=SCRIPTDIR
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=ops-lib.sh
source "$HERE/ops-lib.sh"

prefix="/"
dir=""
keep=14
binary=""
while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) prefix="${2:?--prefix needs a folder}"; shift 2 ;;
    --dir) dir="${2:?--dir needs a folder}"; shift 2 ;;
    --keep) keep="${2:?--keep needs a number}"; shift 2 ;;
    --binary) binary="${2:?--binary needs a path}"; shift 2 ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | grep -v '^# shellcheck\|^set ' | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
done
[[ "$keep" =~ ^[1-9][0-9]*$ ]] || die "--keep takes a number of 1 or more"
layout "$prefix"
dir="${dir:-$BACKUP_DIR}"
SERVICE_BIN="${binary:-$CURRENT/tabibu}"
[ -x "$SERVICE_BIN" ] || die "no tabibu binary at $SERVICE_BIN"

mkdir -p "$dir"
chmod 700 "$dir"
[ "$(id -un)" = "$SERVICE_USER" ] || chown "$SERVICE_USER:$SERVICE_USER" "$dir"

target="$dir/tabibu-$(date -u +%Y%m%dT%H%M%SZ)"
as_service backup "$target"

# Oldest first; names sort by time.
find "$dir" -mindepth 1 -maxdepth 1 -type d -name 'tabibu-*Z' -printf '%f\n' | sort \
  | head -n "-$keep" | while read -r old; do
    rm -rf "${dir:?}/$old"
    note "removed the old backup $old"
  done
