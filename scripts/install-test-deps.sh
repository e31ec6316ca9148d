#!/usr/bin/env bash
# Installs, from Debian's packages, the real components the end-to-end tests drive:
# nginx, Caddy, HAProxy and Apache httpd (proxies in front of Headtower), Chromium (the Users page) and
# PostgreSQL (the shared user store). Only what is missing is installed.
set -euo pipefail
need=()
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || need+=(nginx)
command -v caddy >/dev/null 2>&1 || need+=(caddy)
command -v haproxy >/dev/null 2>&1 || [ -x /usr/sbin/haproxy ] || need+=(haproxy)
[ -x /usr/sbin/apache2 ] || need+=(apache2)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || need+=(postgresql)
# The nginx tests hash their htpasswd entries with `openssl passwd -apr1`.
command -v openssl >/dev/null 2>&1 || need+=(openssl)
# Not a test dependency: `npm run bench` drives HTTP load with wrk.
command -v wrk >/dev/null 2>&1 || need+=(wrk)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing: ${need[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  # With recommends, as on the machines the suites were written on (Chromium's fonts among them).
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}"
fi
# Debian enables these on install; the tests start their own instances from generated configs.
for svc in nginx caddy haproxy apache2 postgresql; do
  (command -v systemctl >/dev/null && systemctl stop "$svc") >/dev/null 2>&1 || true
done
echo "test dependencies present: nginx caddy haproxy apache2 chromium postgresql openssl wrk"
