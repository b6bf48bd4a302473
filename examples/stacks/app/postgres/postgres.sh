#!/bin/sh
# Postgres as the container's main process, running as the postgres user (postgres refuses
# root). On first start the data directory (the named volume, owned by postgres because the
# volume was filled from the image) is empty: create the cluster, the role and the database.
set -eu
: "${PGDATA:=/var/lib/postgresql/data}"
SOCKETS=/tmp   # no /run/postgresql in a fresh container; the healthcheck uses TCP anyway

if [ ! -s "$PGDATA/PG_VERSION" ]; then
  echo "postgres.sh: initialising $PGDATA for user $POSTGRES_USER"
  pwfile="$(mktemp)"
  printf '%s\n' "$POSTGRES_PASSWORD" > "$pwfile"
  initdb -D "$PGDATA" -U "$POSTGRES_USER" --pwfile="$pwfile" -E UTF8 --locale=C.UTF-8 \
         --auth-local=trust --auth-host=scram-sha-256 >/dev/null
  rm -f "$pwfile"
  # Other containers on the project's networks log in with the password.
  echo "host all all 0.0.0.0/0 scram-sha-256" >> "$PGDATA/pg_hba.conf"
  # A private server on the unix socket only, to create the database, then stop it.
  pg_ctl -D "$PGDATA" -o "-c listen_addresses='' -c unix_socket_directories=$SOCKETS" -w start >/dev/null
  if [ "$POSTGRES_DB" != postgres ]; then
    createdb -h "$SOCKETS" -U "$POSTGRES_USER" "$POSTGRES_DB"
  fi
  pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
  echo "postgres.sh: database $POSTGRES_DB created"
fi

# exec: postgres becomes the main process and gets the stop signal itself (compose.yaml sets
# SIGINT, postgres' "fast" shutdown, like the official image's STOPSIGNAL).
exec postgres -D "$PGDATA" -c listen_addresses='*' -c unix_socket_directories="$SOCKETS" \
     -c jit=off -c logging_collector=off
