#!/usr/bin/env bash
# Gateways on one Postgres, measured: one `fathom serve` and then two, each over its own copy of
# the index (knowledge/, extractive, BM25 only), driven by crates/gateway/examples/load.rs.
#
#   scripts/bench-gateways.sh [conversations=100] [seconds=30] [offered msg/s, empty = as fast as replies]
#
# Needs `cargo build -p fathom -p fathom-gateway --examples` (or --release, with PROFILE=release).
# Starts a Postgres cluster with fsync on (scripts/postgres.sh) and stops everything at the end.
# Prints the load average next to each result: the machine may be shared.
set -euo pipefail
cd "$(dirname "$0")/.."
conversations="${1:-100}"
seconds="${2:-30}"
rate="${3:-}"
profile="${PROFILE:-debug}"
target="${CARGO_TARGET_DIR:-target}/$profile"
fathom="$target/fathom"
load="$target/examples/load"
[[ -x "$fathom" && -x "$load" ]] || { echo "build first: cargo build -p fathom -p fathom-gateway --examples" >&2; exit 1; }

work=$(mktemp -d)
pids=()
postgres_dir=""
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  [[ -z "$postgres_dir" ]] || scripts/postgres.sh stop "$postgres_dir"
  rm -rf "$work"
}
trap cleanup EXIT

eval "$(FATHOM_POSTGRES_FSYNC=on scripts/postgres.sh start)"
postgres_dir="$FATHOM_TEST_POSTGRES_DIR"
database="$FATHOM_TEST_DATABASE_URL"

"$fathom" --data-dir "$work/data-1" --embedder none ingest --workspace bench knowledge/ >/dev/null
cp -r "$work/data-1" "$work/data-2"
cat >"$work/gateway.toml" <<TOML
[rate_limits]
customer_per_minute = 1000000
workspace_per_second = 1000000
# The load generator is one client address: lift the per-client limits too.
client_per_second = 1000000
client_burst = 1000000
client_conversations_per_minute = 1000000

[workspaces.bench]
admin_key = "bench-admin-key-0123456789"
TOML

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
start_gateway() { # data dir → prints "pid url"
  local port
  port=$(free_port)
  "$fathom" --data-dir "$1" --embedder none serve --addr "127.0.0.1:$port" \
    --config "$work/gateway.toml" --database "$database" 2>>"$work/gateways.log" >/dev/null &
  local pid=$!
  for _ in $(seq 100); do
    curl -fs "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
    sleep 0.2
  done
  echo "$pid http://127.0.0.1:$port"
}

run() { # label, targets, pids
  echo "== $1 (load average: $(cut -d' ' -f1-3 /proc/loadavg))"
  FATHOM_LOAD_TARGETS="$2" FATHOM_LOAD_PIDS="$3" "$load" "$conversations" "$seconds" 1 $rate
  echo "   load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
}

read -r pid_a url_a < <(start_gateway "$work/data-1")
pids+=("$pid_a")
run "one gateway" "$url_a" "$pid_a"
read -r pid_b url_b < <(start_gateway "$work/data-2")
pids+=("$pid_b")
run "two gateways" "$url_a,$url_b" "$pid_a,$pid_b"
