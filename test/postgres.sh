#!/usr/bin/env bash
# A throwaway PostgreSQL server on loopback for the 'postgres' test project, used by .ci/run and
# by developers:
#
#   url=$(bash test/postgres.sh start)       # prints postgres://guanxi:guanxi@127.0.0.1:PORT/guanxi_test
#   TEST_DATABASE_URL=$url pnpm test
#   bash test/postgres.sh stop "$url"        # or `stop PORT`; no argument: every server this script started
#   bash test/postgres.sh down "$url"        # stop it, keeping its data; `up "$url"` starts it again
#
# or `source test/postgres.sh` and call guanxi_pg_start / guanxi_pg_stop.
#
# Settings (environment): GUANXI_PG_PORT (default 54329; when that port is taken and no port was
# asked for, the next free one is used), GUANXI_PG_BIN (folder of initdb/pg_ctl; default the
# newest /usr/lib/postgresql/*/bin, else PATH), GUANXI_PG_INSTALL=1 to `apt-get install
# postgresql` when no server binaries are found (Debian, as root; .ci/run sets it).
#
# The server keeps its data, socket and log in /tmp/guanxi-pg-PORT, which `stop` removes: nothing
# survives a stop, so the next start (or the next CI run on the same machine) begins from scratch.
# Durability is switched off (fsync, synchronous_commit, full_page_writes): the data is disposable
# and the suite writes a lot.

guanxi_pg_log() { echo "postgres.sh: $*" >&2; }

guanxi_pg_bin() {
  local dir=${GUANXI_PG_BIN:-}
  [[ -n "$dir" ]] || dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
  if [[ -z "$dir" && "${GUANXI_PG_INSTALL:-}" == 1 ]]; then
    guanxi_pg_log "no PostgreSQL server found; installing Debian's postgresql"
    # The package would start a cluster of its own on 5432; policy-rc.d keeps it from starting.
    local policy=/usr/sbin/policy-rc.d had_policy=0
    [[ -e $policy ]] && had_policy=1
    [[ $had_policy == 1 ]] || { printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy"; }
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql >&2
    [[ $had_policy == 1 ]] || rm -f "$policy"
    dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
  fi
  if [[ -z "$dir" ]]; then
    local initdb
    initdb=$(command -v initdb || true)
    [[ -n "$initdb" ]] && dir=$(dirname "$(readlink -f "$initdb")")
  fi
  if [[ -z "$dir" || ! -x "$dir/pg_ctl" ]]; then
    guanxi_pg_log "no PostgreSQL server binaries (initdb, pg_ctl): install postgresql, or set GUANXI_PG_BIN"
    return 1
  fi
  echo "$dir"
}

# Postgres refuses to run as root; as root everything server-side runs as the postgres user.
guanxi_pg_as_owner() {
  if [[ $EUID -eq 0 ]]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

guanxi_pg_port_taken() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

guanxi_pg_dir() { echo "/tmp/guanxi-pg-$1"; }

guanxi_pg_start() {
  local bin port explicit=0
  bin=$(guanxi_pg_bin) || return 1
  if [[ -n "${1:-}" || -n "${GUANXI_PG_PORT:-}" ]]; then
    port=${1:-$GUANXI_PG_PORT}
    explicit=1
  else
    port=54329
  fi
  local tries=0
  while guanxi_pg_port_taken "$port"; do
    if [[ $explicit == 1 || $tries -ge 50 ]]; then
      guanxi_pg_log "port $port on 127.0.0.1 is already in use"
      return 1
    fi
    port=$((port + 1))
    tries=$((tries + 1))
  done

  local dir
  dir=$(guanxi_pg_dir "$port")
  # Nothing listens on the port, so whatever is left in the folder is from a server that died.
  if [[ -e "$dir" ]]; then
    guanxi_pg_log "removing leftover $dir"
    rm -rf "$dir"
  fi
  mkdir -m 0700 "$dir"
  [[ $EUID -eq 0 ]] && chown postgres: "$dir"

  guanxi_pg_as_owner "$bin/initdb" -D "$dir/data" --username=postgres --encoding=UTF8 --locale=C.UTF-8 \
    --auth-local=peer --auth-host=scram-sha-256 >"$dir/initdb.log" 2>&1 || {
    # Older Postgres or a system without the C.UTF-8 locale: fall back to the plain C locale.
    guanxi_pg_as_owner rm -rf "$dir/data"
    guanxi_pg_as_owner "$bin/initdb" -D "$dir/data" --username=postgres --encoding=UTF8 --locale=C \
      --auth-local=trust --auth-host=scram-sha-256 >"$dir/initdb.log" 2>&1
  } || {
    cat "$dir/initdb.log" >&2
    rm -rf "$dir"
    return 1
  }
  # Peer authentication needs the OS user to match; a developer's user is not "postgres", so
  # the local socket (inside this private folder) is trusted instead.
  [[ $EUID -eq 0 ]] || sed -i 's/^\(local\s.*\s\)peer$/\1trust/' "$dir/data/pg_hba.conf"

  guanxi_pg_as_owner tee -a "$dir/data/postgresql.conf" >/dev/null <<EOF

# test/postgres.sh
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$dir'
max_connections = 200
password_encryption = 'scram-sha-256'
fsync = off
synchronous_commit = off
full_page_writes = off
EOF
  if ! guanxi_pg_as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start >/dev/null; then
    cat "$dir/server.log" >&2
    rm -rf "$dir"
    return 1
  fi

  # CREATEROLE: migration 0002 creates the application role when it is missing and grants it to
  # the migrating role, as Neon's owner role (also CREATEROLE) does in production.
  # The role owns the database, so it can CREATE EXTENSION pg_trgm (trusted, PG >= 13) and owns
  # the public schema (pg_database_owner, PG >= 15).
  # A separate non-owner application role for row-level security (LOGIN, only granted DML) would
  # be created here once tests connect as it; for now the migrations make guanxi_app NOLOGIN.
  if ! guanxi_pg_as_owner "$bin/psql" -h "$dir" -p "$port" -U postgres -d postgres -X -q -v ON_ERROR_STOP=1 >/dev/null <<'EOF'; then
CREATE ROLE guanxi LOGIN CREATEROLE PASSWORD 'guanxi';
CREATE DATABASE guanxi_test OWNER guanxi;
EOF
    guanxi_pg_log "could not create the guanxi role and database"
    guanxi_pg_stop "$port"
    return 1
  fi
  guanxi_pg_log "PostgreSQL $("$bin/postgres" --version | awk '{print $3}') on 127.0.0.1:$port (data in $dir)"
  echo "postgres://guanxi:guanxi@127.0.0.1:$port/guanxi_test"
}

# Accepts a port, a URL as printed by start, or nothing (every server this script started).
guanxi_pg_stop() {
  local target=${1:-} dirs=()
  if [[ -z "$target" ]]; then
    local d
    for d in /tmp/guanxi-pg-*; do [[ -d "$d/data" ]] && dirs+=("$d"); done
  else
    if [[ "$target" =~ :([0-9]+)/ ]]; then target=${BASH_REMATCH[1]}; fi
    dirs=("$(guanxi_pg_dir "$target")")
  fi
  local bin dir status=0
  bin=$(guanxi_pg_bin) || return 1
  for dir in "${dirs[@]}"; do
    [[ -d "$dir" ]] || continue
    if [[ -f "$dir/data/postmaster.pid" ]]; then
      # Fast shutdown: test connections still open are cut, which is what a teardown wants.
      guanxi_pg_as_owner "$bin/pg_ctl" -D "$dir/data" -m fast -w -t 30 stop >/dev/null 2>&1 ||
        guanxi_pg_as_owner "$bin/pg_ctl" -D "$dir/data" -m immediate -w -t 30 stop >/dev/null 2>&1 ||
        { guanxi_pg_log "could not stop the server in $dir"; status=1; }
    fi
    rm -rf "$dir"
    guanxi_pg_log "stopped and removed $dir"
  done
  return $status
}

# Stops (`down`) or starts again (`up`) a server this script started, keeping its data: a database
# that blinks, for the tests of what the API does meanwhile. Accepts a port or a URL.
guanxi_pg_ctl() {
  local action=$1 target=${2:-} bin dir
  if [[ "$target" =~ :([0-9]+)/ ]]; then target=${BASH_REMATCH[1]}; fi
  dir=$(guanxi_pg_dir "$target")
  [[ -d "$dir/data" ]] || { guanxi_pg_log "no server of this script on port $target"; return 1; }
  bin=$(guanxi_pg_bin) || return 1
  case "$action" in
    down) guanxi_pg_as_owner "$bin/pg_ctl" -D "$dir/data" -m fast -w -t 30 stop >/dev/null ;;
    up) guanxi_pg_as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start >/dev/null ;;
  esac
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
  set -euo pipefail
  case "${1:-}" in
    start) guanxi_pg_start "${2:-}" ;;
    stop) guanxi_pg_stop "${2:-}" ;;
    down | up) guanxi_pg_ctl "$1" "${2:-}" ;;
    *)
      echo "usage: $0 start [PORT] | stop [PORT|URL] | down PORT|URL | up PORT|URL" >&2
      exit 2
      ;;
  esac
fi
