#!/usr/bin/env bash
# Print a SQLAlchemy URL of a PostgreSQL server the tests may create databases on.
# Uses the one on 127.0.0.1:5432 when it answers with trust auth; otherwise installs
# PostgreSQL from Debian's packages, starts it on loopback and sets a password.
set -euo pipefail
log() { echo "ensure-postgres: $*" >&2; }

if pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null && psql -h 127.0.0.1 -U postgres -d postgres -Atc 'select 1' >/dev/null 2>&1 </dev/null; then
  echo "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
  exit 0
fi

if ! command -v pg_ctlcluster >/dev/null 2>&1; then
  log "installing PostgreSQL from Debian's packages"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq postgresql >&2
fi
version=$(ls /etc/postgresql | sort -n | tail -1)
if ! pg_isready -q -h 127.0.0.1 -p 5432; then
  log "starting PostgreSQL $version"
  pg_ctlcluster --skip-systemctl-redirect "$version" main start >&2 || pg_ctlcluster "$version" main start >&2
  for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
fi
su postgres -c "psql -qc \"ALTER USER postgres PASSWORD 'postgres'\"" >&2
echo "postgresql+psycopg://postgres:postgres@127.0.0.1:5432/postgres"
