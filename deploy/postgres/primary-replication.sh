#!/bin/sh
# Run once by the postgres image's entrypoint when the primary's data directory is first created
# (mounted into /docker-entrypoint-initdb.d/): a role the replica streams WAL with, allowed to
# connect for replication from the compose network. docs/database.md, "Read replicas".
set -eu
psql -v ON_ERROR_STOP=1 -v password="$REPLICATION_PASSWORD" --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" <<'SQL'
CREATE ROLE replicator WITH REPLICATION LOGIN PASSWORD :'password';
SQL
echo "host replication replicator all scram-sha-256" >> "$PGDATA/pg_hba.conf"
