#!/usr/bin/env bash
# Run Fathom's tests: fetch the embedding model if missing, start a real OpenAI-compatible LLM
# server for the LLM end-to-end tests, then the whole workspace's tests (unit, contract,
# integration, LLM end to end, and the retrieval-quality gates on ../shared/evals).
#
# The LLM tests (crates/answer/tests/llm_e2e.rs) run against llama.cpp's llama-server with
# SmolLM2-135M, built once into ~/.cache/fathom by scripts/llama-server.sh (a while on two cores
# the first time, reused after) and started on a free loopback port (FATHOM_TEST_LLM_PORT
# picks one). To run them against another endpoint instead, set FATHOM_TEST_LLM_BASE_URL (plus
# FATHOM_TEST_LLM_MODEL and FATHOM_TEST_LLM_API_KEY); no local server is started then.
#
# The Postgres conversation store's tests (its contract suite, several gateways on one database)
# run on a throwaway Postgres cluster on a free loopback port (scripts/postgres.sh), stopped and
# deleted at the end. To use another server instead, set FATHOM_TEST_DATABASE_URL to a URL whose
# user may create databases; each test creates its own.
set -euo pipefail
cd "$(dirname "$0")/.."

# What to stop when the run ends, however it ends.
cleanup=()
trap 'for step in "${cleanup[@]}"; do eval "$step" || true; done' EXIT
trap 'exit 130' INT TERM

scripts/fetch-model.sh
# Debian packages, playwright-core and django-helpdesk when missing (see that script).
scripts/test-deps.sh

if [[ "${FATHOM_TEST_LLM:-on}" == off ]]; then
  # Only .ci/run's safety valve sets this (see there): the LLM end-to-end tests print "skipped".
  echo "!! FATHOM_TEST_LLM=off: no llama-server, the LLM end-to-end tests will be skipped"
  unset FATHOM_TEST_LLM_BASE_URL
else
  # The llama-server binary and model: the fallback test starts (and kills) a server of its own.
  scripts/llama-server.sh build
  eval "$(scripts/llama-server.sh paths)"
  export FATHOM_TEST_LLAMA_SERVER_BIN="${FATHOM_TEST_LLAMA_SERVER_BIN:-$BIN}"
  export FATHOM_TEST_LLAMA_MODEL="${FATHOM_TEST_LLAMA_MODEL:-$MODEL}"

  if [[ -z "${FATHOM_TEST_LLM_BASE_URL:-}" ]]; then
    # A free port unless one is asked for: several test runs may share the machine.
    free_port='import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
    port="${FATHOM_TEST_LLM_PORT:-$(python3 -c "$free_port")}"
    cleanup+=("scripts/llama-server.sh stop $port")
    scripts/llama-server.sh start "$port"
    export FATHOM_TEST_LLM_BASE_URL="http://127.0.0.1:$port/v1"
    export FATHOM_TEST_LLM_MODEL=smollm2
    unset FATHOM_TEST_LLM_API_KEY
  fi
fi

if [[ -z "${FATHOM_TEST_DATABASE_URL:-}" ]]; then
  eval "$(scripts/postgres.sh start)"
  cleanup+=("scripts/postgres.sh stop $FATHOM_TEST_POSTGRES_DIR")
  echo "==> postgres for the tests: $FATHOM_TEST_DATABASE_URL"
fi

cargo test --workspace --locked "$@"
