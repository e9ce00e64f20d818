#!/bin/sh
# Certbot deploy hook: after a certificate is renewed, nginx reloads it. TLS ends at nginx, so
# nothing else (Tabibu itself included) needs to know.
#
# Install:  install -m 755 deploy/certbot-renew-hook.sh /etc/letsencrypt/renewal-hooks/deploy/tabibu-nginx.sh
# Certbot runs every script in that folder after each successful renewal (RENEWED_LINEAGE names
# the certificate); `certbot renew --dry-run` exercises them too.
set -eu

# A configuration that no longer loads must not take the running nginx down with it.
if ! nginx -t -q; then
  echo "tabibu certbot hook: nginx -t failed; nginx not reloaded" >&2
  exit 1
fi
if [ -d /run/systemd/system ]; then
  systemctl reload nginx
else
  nginx -s reload
fi
echo "tabibu certbot hook: nginx reloaded for ${RENEWED_LINEAGE:-the renewed certificate}"
