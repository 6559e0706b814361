#!/bin/sh
# Entrypoint of the local postgres stand-in (.ci/images/postgres), after the official image's:
# on the first start with an empty $PGDATA it runs initdb, sets POSTGRES_USER's password, creates
# POSTGRES_DB and runs /docker-entrypoint-initdb.d/*.sh|*.sql|*.sql.gz; then it execs the command
# (postgres, listening on all addresses) so that postgres is PID 1 and gets docker's stop signal.
set -eu

: "${PGDATA:=/var/lib/postgresql/data}"
export PGDATA

log() { printf 'docker-entrypoint: %s\n' "$*" >&2; }
die() { printf 'docker-entrypoint: error: %s\n' "$*" >&2; exit 1; }

# file_env VAR [DEFAULT]: VAR, or the contents of the file named by VAR_FILE (docker secrets).
file_env() {
    fe_var=$1
    fe_def=${2:-}
    eval "fe_val=\${$fe_var:-}"
    eval "fe_file=\${${fe_var}_FILE:-}"
    if [ -n "$fe_val" ] && [ -n "$fe_file" ]; then
        die "both $fe_var and ${fe_var}_FILE are set (but are exclusive)"
    fi
    if [ -n "$fe_file" ]; then
        fe_val=$(cat "$fe_file") || die "cannot read ${fe_var}_FILE=$fe_file"
    elif [ -z "$fe_val" ]; then
        fe_val=$fe_def
    fi
    export "$fe_var=$fe_val"
    unset "${fe_var}_FILE"
}

# psql as the superuser over the local socket (trust), stopping at the first error.
run_psql() {
    psql -v ON_ERROR_STOP=1 --no-psqlrc --username "$POSTGRES_USER" "$@"
}

init_database() {
    file_env POSTGRES_USER postgres
    file_env POSTGRES_PASSWORD
    file_env POSTGRES_DB "$POSTGRES_USER"
    file_env POSTGRES_INITDB_ARGS
    auth=${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}
    if [ -z "$POSTGRES_PASSWORD" ] && [ "$auth" != trust ]; then
        die "the database is uninitialized and POSTGRES_PASSWORD is not set (set it, or POSTGRES_HOST_AUTH_METHOD=trust)"
    fi

    mkdir -p "$PGDATA" || die "cannot create PGDATA=$PGDATA"
    chmod 700 "$PGDATA" || die "cannot chmod PGDATA=$PGDATA (owned by $(stat -c %U "$PGDATA"), running as $(id -un))"

    log "initializing $PGDATA (user $POSTGRES_USER, database $POSTGRES_DB, host auth $auth)"
    pwfile=
    if [ -n "$POSTGRES_PASSWORD" ]; then
        pwfile=$(mktemp)
        printf '%s\n' "$POSTGRES_PASSWORD" > "$pwfile"
    fi
    # shellcheck disable=SC2086 # POSTGRES_INITDB_ARGS is a list of words, as in the official image
    initdb -D "$PGDATA" --username="$POSTGRES_USER" ${pwfile:+--pwfile="$pwfile"} \
        --auth-local=trust --auth-host="$auth" $POSTGRES_INITDB_ARGS
    [ -z "$pwfile" ] || rm -f "$pwfile"

    printf "\nlisten_addresses = '*'\n" >> "$PGDATA/postgresql.conf"
    printf '\nhost all all all %s\n' "$auth" >> "$PGDATA/pg_hba.conf"

    # A temporary server for the database and the init scripts: no TCP, and its socket in a private
    # directory (PGHOST, for the scripts' psql too), so a `pg_isready` healthcheck on the default
    # socket does not report ready before the real server runs.
    PGHOST=$(mktemp -d)
    export PGHOST
    pg_ctl -D "$PGDATA" -o "-c listen_addresses='' -c unix_socket_directories=$PGHOST -p 5432" -w start
    if [ "$POSTGRES_DB" != postgres ]; then
        run_psql --dbname postgres --set db="$POSTGRES_DB" <<'SQL'
CREATE DATABASE :"db";
SQL
    fi
    for f in /docker-entrypoint-initdb.d/*; do
        [ -e "$f" ] || continue
        case $f in
            *.sh)
                log "running $f"
                if [ -x "$f" ]; then "$f"; else . "$f"; fi
                ;;
            *.sql) log "running $f"; run_psql --dbname "$POSTGRES_DB" -f "$f" ;;
            *.sql.gz) log "running $f"; gunzip -c "$f" | run_psql --dbname "$POSTGRES_DB" ;;
            *) log "ignoring $f" ;;
        esac
    done
    pg_ctl -D "$PGDATA" -m fast -w stop
    rmdir "$PGHOST" 2>/dev/null || true
    unset PGHOST
    log "init done; ready for start up"
}

# `docker run IMAGE -c foo=bar` means `postgres -c foo=bar`, as with the official image.
if [ "${1#-}" != "$1" ]; then
    set -- postgres "$@"
fi

if [ "${1:-}" = postgres ]; then
    if [ "$(id -u)" = 0 ]; then
        # Started as root (`user: root`): fix the ownership of the data directory, drop to postgres.
        mkdir -p "$PGDATA"
        chown -R postgres:postgres "$PGDATA"
        chmod 700 "$PGDATA"
        exec setpriv --reuid=postgres --regid=postgres --init-groups "$0" "$@"
    fi
    if [ ! -s "$PGDATA/PG_VERSION" ]; then
        init_database
    fi
fi

exec "$@"
