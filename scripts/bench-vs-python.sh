#!/usr/bin/env bash
# Fathom side by side with the stack a user would otherwise put together: FastAPI + uvicorn,
# sentence-transformers with the same all-MiniLM-L6-v2 weights, rank_bm25 + numpy cosine fused
# by RRF (scripts/bench-python/baseline.py). Same corpus, same questions, same load generator
# (`fathom bench http`), in alternating rounds; prints the table with ratios.
#
#   scripts/bench-vs-python.sh EVAL_SET [ROUNDS]
#     EVAL_SET  a folder with articles/ and cases.jsonl, e.g. ../shared/evals/ibmcloud-docs
#     ROUNDS    alternating rounds (default 2); each number is the median over rounds
#
# Environment: SECONDS_PER_RUN (20), CLIENTS (100), FATHOM_MODEL_DIR (models/all-minilm-l6-v2),
# FATHOM_BENCH_VENV (~/.cache/fathom/python-baseline).
#
# The peer's packages come from PyPI, pinned in scripts/bench-python/requirements.txt. PyPI's
# Linux torch wheel is the CUDA build: pip also fetches NVIDIA's libraries (about 5 GB in all,
# once); torch runs on the CPU here either way (`torch.cuda.is_available()` is false).
# Run it on a quiet machine: the table prints the load average beside each number.
set -euo pipefail
cd "$(dirname "$0")/.."

set_dir="${1:?usage: scripts/bench-vs-python.sh EVAL_SET [ROUNDS]}"
rounds="${2:-2}"
seconds="${SECONDS_PER_RUN:-20}"
clients="${CLIENTS:-100}"
model_dir="${FATHOM_MODEL_DIR:-models/all-minilm-l6-v2}"
venv="${FATHOM_BENCH_VENV:-$HOME/.cache/fathom/python-baseline}"
[[ -d "$set_dir/articles" && -f "$set_dir/cases.jsonl" ]] || {
  echo "$set_dir needs articles/ and cases.jsonl" >&2
  exit 2
}
set_dir="$(cd "$set_dir" && pwd)"
model_dir="$(cd "$model_dir" && pwd)"

echo "==> Python peer: venv $venv (pinned requirements from PyPI)"
requirements=scripts/bench-python/requirements.txt
if ! cmp -s "$requirements" "$venv/requirements.txt" 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet -r "$requirements"
  cp "$requirements" "$venv/requirements.txt"
fi
"$venv/bin/python" -c 'import torch; print("    torch", torch.__version__, "cuda available:", torch.cuda.is_available(), "threads:", torch.get_num_threads())'

echo "==> building fathom (release)"
# The whole workspace with its examples, as `fathom bench` and the other scripts build it: a
# narrower build unifies features differently and rebuilds qdrant-edge and candle (~15 CPU-minutes).
cargo build --release --locked --workspace --bins --examples
fathom="$PWD/target/release/fathom"

work="$(mktemp -d)"
# Servers start in subshells: their ids go to a file, so cleanup finds them.
cleanup() {
  while read -r pid; do kill "$pid" 2>/dev/null || true; done <"$work/pids" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

export FATHOM_MODEL_DIR="$model_dir"
"$fathom" bench chunks "$set_dir/articles" --out "$work/chunks.jsonl" --json >/dev/null
chunk_count="$(wc -l <"$work/chunks.jsonl")"
echo "==> $chunk_count chunks from $set_dir/articles"

echo "==> ingesting into Fathom (timed: parse, chunk, embed, index)"
export FATHOM_DATA_DIR="$work/fathom-data"
ingest_started=$(date +%s.%N)
"$fathom" ingest "$set_dir/articles" >/dev/null
ingest_seconds=$(echo "$(date +%s.%N) - $ingest_started" | bc)

cat >"$work/gateway.toml" <<TOML
[rate_limits]
customer_per_minute = 1000000
workspace_per_second = 1000000
# The load generator is one client address, and the peer has no limits: lift the per-client ones.
client_per_second = 1000000
client_burst = 1000000
client_conversations_per_minute = 1000000

[workspaces.default]
admin_key = "bench-admin-key-0123456789"
TOML

port=18181
# Starts one server ($1: fathom | python1 | python2) and prints "pid cold_start_seconds".
start_server() {
  local kind="$1" started pid
  started=$(date +%s.%N)
  case "$kind" in
    fathom) "$fathom" serve --addr "127.0.0.1:$port" --config "$work/gateway.toml" \
      --database "$work/conversations-$RANDOM.sqlite" >"$work/$kind.log" 2>&1 &
      pid=$! ;;
    python1 | python2) "$venv/bin/python" scripts/bench-python/baseline.py serve \
      --chunks "$work/chunks.jsonl" --model "$model_dir" --port "$port" \
      --workers "${kind#python}" >"$work/$kind.log" 2>&1 &
      pid=$! ;;
  esac
  echo "$pid" >>"$work/pids"
  # Cold start: until the first answer to a question.
  for _ in $(seq 1 1200); do
    if id=$(curl -sf -X POST "http://127.0.0.1:$port/v1/conversations" \
      -H 'content-type: application/json' -d '{"workspace":"default"}' 2>/dev/null); then
      conversation=$(echo "$id" | python3 -c 'import json,sys; print(json.load(sys.stdin)["conversation_id"])')
      token=$(echo "$id" | python3 -c 'import json,sys; print(json.load(sys.stdin)["customer_token"])')
      if curl -sf -X POST "http://127.0.0.1:$port/v1/conversations/$conversation/messages" \
        -H "authorization: Bearer $token" -H 'content-type: application/json' \
        -d '{"text":"How do I get started?"}' >/dev/null; then
        echo "$pid $(echo "$(date +%s.%N) - $started" | bc)"
        return
      fi
    fi
    sleep 0.1
  done
  echo "$kind did not answer within 120 s; see $work/$kind.log" >&2
  exit 1
}

stop_server() {
  kill "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}

# One server's numbers as a JSON line.
measure() {
  local kind="$1" pid cold idle one many
  read -r pid cold < <(start_server "$kind")
  sleep 2
  idle=$("$fathom" bench http "$set_dir" --url "http://127.0.0.1:$port" --clients 1 \
    --seconds 1 --pid "$pid" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["rss_before_mib"])')
  one=$("$fathom" bench http "$set_dir" --url "http://127.0.0.1:$port" --clients 1 \
    --seconds "$seconds" --pid "$pid" --json)
  many=$("$fathom" bench http "$set_dir" --url "http://127.0.0.1:$port" --clients "$clients" \
    --seconds "$seconds" --pid "$pid" --json)
  stop_server "$pid"
  python3 - "$kind" "$cold" "$idle" "$one" "$many" <<'PY'
import json, sys
kind, cold, idle, one, many = sys.argv[1:]
one, many = json.loads(one), json.loads(many)
print(json.dumps({"kind": kind, "cold_s": float(cold), "idle_mib": float(idle),
  "p50": one["p50_ms"], "p99": one["p99_ms"], "rps": many["messages_per_s"],
  "rss_after": many["rss_after_mib"], "load": [one["load_average"], many["load_average"]],
  "errors": {k: v for k, v in many["statuses"].items() if not k.startswith("2")}}))
PY
}

results="$work/results.jsonl"
for round in $(seq 1 "$rounds"); do
  echo "==> round $round of $rounds"
  for kind in fathom python1 python2; do
    echo "    $kind"
    measure "$kind" >>"$results"
  done
  echo "    ingest: encode-only chunks/s"
  "$fathom" bench embed "$work/chunks.jsonl" --json |
    python3 -c 'import json,sys; d=json.load(sys.stdin); print(json.dumps({"kind":"fathom-encode","rate":d["chunks_per_s"],"load":d["load_average"]}))' >>"$results"
  "$venv/bin/python" scripts/bench-python/baseline.py encode --chunks "$work/chunks.jsonl" \
    --model "$model_dir" |
    python3 -c 'import json,sys,os; d=json.load(sys.stdin); print(json.dumps({"kind":"python-encode","rate":d["chunks_per_s"],"load":os.getloadavg()[0]}))' >>"$results"
done

python3 - "$results" "$chunk_count" "$ingest_seconds" "$clients" "$seconds" <<'PY'
import json, statistics, sys
path, chunks, ingest_seconds, clients, seconds = sys.argv[1:]
rows = [json.loads(line) for line in open(path)]
def med(kind, key):
    values = [row[key] for row in rows if row["kind"] == kind]
    return statistics.median(values) if values else float("nan")
loads = [l for row in rows for l in (row["load"] if isinstance(row["load"], list) else [row["load"]]) if l is not None]
f, p1, p2 = "fathom", "python1", "python2"
def line(name, a, b, c, fmt, better):
    ratio = lambda x: f"{(x / a if better == 'lower' else a / x):.2f}x" if x and a else "-"
    print(f"| {name} | {fmt.format(a)} | {fmt.format(b)} ({ratio(b)}) | {fmt.format(c)} ({ratio(c)}) |")
print()
print(f"Fathom vs the Python peer: {chunks} chunks, {clients} clients, {seconds} s per run, "
      f"median of {len([r for r in rows if r['kind']=='fathom'])} rounds; "
      f"load average during runs {min(loads):.2f}-{max(loads):.2f}")
print("(ratios: how many times better Fathom is; below 1.00x the peer is better)")
print()
print("| | Fathom | Python, 1 worker | Python, 2 workers |")
print("| --- | --- | --- | --- |")
line("cold start to first answer, s", med(f, "cold_s"), med(p1, "cold_s"), med(p2, "cold_s"), "{:.2f}", "lower")
line("idle RSS, MiB", med(f, "idle_mib"), med(p1, "idle_mib"), med(p2, "idle_mib"), "{:.0f}", "lower")
line("1 client p50, ms", med(f, "p50"), med(p1, "p50"), med(p2, "p50"), "{:.1f}", "lower")
line("1 client p99, ms", med(f, "p99"), med(p1, "p99"), med(p2, "p99"), "{:.1f}", "lower")
line(f"{clients} clients, msg/s", med(f, "rps"), med(p1, "rps"), med(p2, "rps"), "{:.0f}", "higher")
line(f"RSS after the {clients}-client run, MiB", med(f, "rss_after"), med(p1, "rss_after"), med(p2, "rss_after"), "{:.0f}", "lower")
fe, pe = med("fathom-encode", "rate"), med("python-encode", "rate")
print(f"| encode only, chunks/s | {fe:.1f} | {pe:.1f} ({fe / pe:.2f}x) | - |")
print(f"| Fathom ingest (parse, chunk, embed, index), chunks/s | {int(chunks) / float(ingest_seconds):.1f} | - | - |")
errors = [(row["kind"], row["errors"]) for row in rows if row.get("errors")]
if errors:
    print("\nnon-2xx statuses:", errors)
PY
