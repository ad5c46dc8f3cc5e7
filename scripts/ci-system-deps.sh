#!/usr/bin/env bash
# Debian packages the test suite needs beyond the base image. Idempotent; quiet when present.
set -euo pipefail
need=()
command -v groff >/dev/null || need+=(groff-base)
command -v man >/dev/null || need+=(man-db)
# headless browser for the report rendering test (never a downloaded browser build)
[ -x /usr/bin/chromium ] || need+=(chromium)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}"
  else
    echo "missing Debian packages: ${need[*]} (install them as root)" >&2; exit 1
  fi
fi
