#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the tests: `cluster.sh run CMD...` starts one (initdb in a
# temporary folder, Unix socket only, trust authentication, fsync off), exports
# TOKENKEEP_TEST_PG for CMD, and stops and removes it when CMD ends, whatever its outcome.
# TOKENKEEP_PG_BENCH=1 (make bench): TCP on 127.0.0.1 instead of the socket, and fsync on, so
# that round trips and commits cost what they cost on a real loopback server.
# As root (CI) the server runs as the `postgres` user that Debian's package creates; otherwise
# as the caller. PostgreSQL's binaries come from Debian's postgresql package (make setup).
set -euo pipefail

bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
if [ -z "$bindir" ] || [ ! -x "$bindir/initdb" ]; then
  echo "cluster.sh: PostgreSQL server binaries not found (apt-get install postgresql, or run make setup)" >&2
  exit 1
fi

as_server() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

[ "${1:-}" = run ] || { echo "usage: cluster.sh run CMD..." >&2; exit 2; }
shift

dir=$(mktemp -d /tmp/tokenkeep-pg.XXXXXX)
chmod 755 "$dir"
[ "$(id -u)" = 0 ] && chown postgres: "$dir"
stop() {
  as_server "$bindir/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap stop EXIT

as_server "$bindir/initdb" -D "$dir/data" -A trust -U postgres -E UTF8 --no-sync >"$dir/initdb.log" 2>&1 \
  || { cat "$dir/initdb.log" >&2; exit 1; }
# A port nobody listens on (the socket's name carries it).
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
# In the configuration, not on pg_ctl's command line, so a test can stop and restart it.
if [ "${TOKENKEEP_PG_BENCH:-}" = 1 ]; then listen=127.0.0.1 fsync=on; else listen= fsync=off; fi
cat >>"$dir/data/postgresql.conf" <<CONF
unix_socket_directories = '$dir'
port = $port
listen_addresses = '$listen'
fsync = $fsync
full_page_writes = $fsync
max_connections = 200
CONF
as_server "$bindir/pg_ctl" -D "$dir/data" -w -t 60 -l "$dir/server.log" start >/dev/null \
  || { cat "$dir/server.log" >&2; exit 1; }
as_server "$bindir/createdb" -h "$dir" -p "$port" -U postgres tokenkeep_test

if [ -n "$listen" ]; then
  export TOKENKEEP_TEST_PG="postgresql://postgres@127.0.0.1:$port/tokenkeep_test"
else
  export TOKENKEEP_TEST_PG="postgresql://postgres@/tokenkeep_test?host=$dir&port=$port"
fi
export TOKENKEEP_TEST_PG_DIR="$dir" TOKENKEEP_TEST_PG_BIN="$bindir"
# The PostgreSQL stores' host files (relay=True) go with the cluster, not in /tmp/tokenkeep-<uid>.
mkdir -m 700 "$dir/runtime"
export TOKENKEEP_RUNTIME_DIR="$dir/runtime"
echo "cluster.sh: PostgreSQL $("$bindir/postgres" --version | awk '{print $3}') on $dir port $port"
"$@"
