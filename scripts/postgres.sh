#!/usr/bin/env bash
# A throwaway Postgres cluster on loopback for the tests (Debian's `postgresql` package; see
# scripts/test-deps.sh). Trust authentication, data and socket in one temporary folder.
#
#   scripts/postgres.sh start [PORT]   start one; prints `export FATHOM_TEST_DATABASE_URL=…` and
#                                      `export FATHOM_TEST_POSTGRES_DIR=…` for `eval`
#   scripts/postgres.sh stop DIR       stop it and delete its folder
#
# FATHOM_POSTGRES_FSYNC=on keeps fsync on (benchmarks); tests run with it off.
# FATHOM_POSTGRES_SSL_CERT and FATHOM_POSTGRES_SSL_KEY (PEM files, both or neither) turn TLS on
# with that certificate (the conversation store's TLS tests make one).
# As root the server runs as the `postgres` user (initdb refuses root).
set -euo pipefail

bin_dir() {
  local initdb
  initdb=$(ls -d /usr/lib/postgresql/*/bin/initdb 2>/dev/null | sort -V | tail -1)
  [[ -n "$initdb" ]] || { echo "no Postgres server binaries: run scripts/test-deps.sh" >&2; exit 1; }
  dirname "$initdb"
}

as_owner() {
  if [[ "$(id -u)" -eq 0 ]]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

case "${1:-}" in
  start)
    bin=$(bin_dir)
    free_port='import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
    port="${2:-$(python3 -c "$free_port")}"
    dir=$(mktemp -d "${TMPDIR:-/tmp}/fathom-postgres.XXXXXX")
    [[ "$(id -u)" -ne 0 ]] || chown postgres: "$dir"
    as_owner "$bin/initdb" -D "$dir/data" -A trust -U postgres --no-sync >"$dir/initdb.log" 2>&1 \
      || { cat "$dir/initdb.log" >&2; exit 1; }
    # fsync off: a test cluster trades durability for speed. Enough connections for the
    # contract suite's parallel tests, each with its own pool.
    fsync="${FATHOM_POSTGRES_FSYNC:-off}"
    # TLS: the server wants its key owned by itself and private, so both files are copied in.
    ssl=""
    if [[ -n "${FATHOM_POSTGRES_SSL_CERT:-}${FATHOM_POSTGRES_SSL_KEY:-}" ]]; then
      install -m 600 "${FATHOM_POSTGRES_SSL_CERT:?FATHOM_POSTGRES_SSL_KEY needs FATHOM_POSTGRES_SSL_CERT}" "$dir/server.crt"
      install -m 600 "${FATHOM_POSTGRES_SSL_KEY:?FATHOM_POSTGRES_SSL_CERT needs FATHOM_POSTGRES_SSL_KEY}" "$dir/server.key"
      [[ "$(id -u)" -ne 0 ]] || chown postgres: "$dir/server.crt" "$dir/server.key"
      ssl="-c ssl=on -c ssl_cert_file=$dir/server.crt -c ssl_key_file=$dir/server.key"
    fi
    as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
      -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=$fsync -c max_connections=300 $ssl" start >/dev/null \
      || { cat "$dir/server.log" >&2; exit 1; }
    echo "export FATHOM_TEST_DATABASE_URL=postgres://postgres@127.0.0.1:$port/postgres"
    echo "export FATHOM_TEST_POSTGRES_DIR=$dir"
    ;;
  stop)
    dir="${2:?usage: scripts/postgres.sh stop DIR}"
    [[ -d "$dir/data" ]] || exit 0
    as_owner "$(bin_dir)/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
    rm -rf "$dir"
    ;;
  *)
    sed -n '2,12p' "$0"
    exit 2
    ;;
esac
