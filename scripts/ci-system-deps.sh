#!/usr/bin/env bash
# Debian packages the test suite needs beyond the base image. Idempotent; quiet when present.
set -euo pipefail
need=()
command -v groff >/dev/null || need+=(groff-base)
command -v man >/dev/null || need+=(man-db)
# headless browser for the report rendering test (never a downloaded browser build)
[ -x /usr/bin/chromium ] || need+=(chromium)
# PostgreSQL 15 server (the store tests; scripts/ci-services.sh starts it)
command -v pg_ctlcluster >/dev/null || need+=(postgresql)
# tools whose real man pages the rules tests read (each rule fires on the tool it was written
# for); they are test fixtures only — never used to label or tune (data/labels/README.md)
command -v rsync >/dev/null || need+=(rsync)
command -v socat >/dev/null || need+=(socat)
command -v mariadb >/dev/null || need+=(mariadb-client)
command -v redis-cli >/dev/null || need+=(redis-tools)
command -v prometheus >/dev/null || need+=(prometheus)
# g++ (with libasan/libubsan): the HLS kernel's C-simulation testbench (tests/accel)
command -v g++ >/dev/null || need+=(g++)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}"
  else
    echo "missing Debian packages: ${need[*]} (install them as root)" >&2; exit 1
  fi
fi
