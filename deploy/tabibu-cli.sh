#!/usr/bin/env bash
# Runs one `tabibu` command for an installation the way the service runs: as its user, with
# its settings (/etc/tabibu/tabibu.env, which only root can read), in its data folder. Run as
# root. Files a command creates (a SQLite journal, a backup) then belong to the service, and
# no setting has to be copied onto a command line.
#
#   sudo /opt/tabibu/current/deploy/tabibu-cli.sh check-config
#   sudo /opt/tabibu/current/deploy/tabibu-cli.sh admin create-user --email a@clinic.example --role admin
#   sudo /opt/tabibu/current/deploy/tabibu-cli.sh audit verify
#   deploy/tabibu-cli.sh --prefix /tmp/t check-config      (an installation made with --prefix)
# shellcheck source-path=SCRIPTDIR
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=ops-lib.sh
source "$HERE/ops-lib.sh"

prefix="/"
if [ "${1:-}" = "--prefix" ]; then
  prefix="${2:?--prefix needs a folder}"
  shift 2
fi
case "${1:-}" in
  "" | -h | --help) sed -n '2,/^# shellcheck/p' "$0" | grep -v '^# shellcheck' | sed 's/^# \{0,1\}//'; exit 0 ;;
esac
layout "$prefix"
SERVICE_BIN="$CURRENT/tabibu"
[ -x "$SERVICE_BIN" ] || die "no tabibu binary at $SERVICE_BIN"
exec_as_service "$@"
