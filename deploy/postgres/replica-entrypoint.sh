#!/bin/sh
# The replica service: on first start, a base backup of the primary with -R (standby.signal and
# primary_conninfo written), then PostgreSQL in standby mode streaming the primary's WAL.
# docs/database.md, "Read replicas".
set -eu
if [ ! -s "$PGDATA/PG_VERSION" ]; then
    export PGPASSWORD="$REPLICATION_PASSWORD"
    until pg_basebackup --host="$PRIMARY_HOST" --username=replicator --pgdata="$PGDATA" \
            --write-recovery-conf --wal-method=stream --checkpoint=fast; do
        echo "waiting for the primary at $PRIMARY_HOST"
        rm -rf "${PGDATA:?}"/*
        sleep 3
    done
    chmod 700 "$PGDATA"
fi
# hot_standby (the default) answers read-only queries; memory as the primary's (docker-compose.yml).
exec postgres -D "$PGDATA" -c hot_standby=on "$@"
