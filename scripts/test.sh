#!/usr/bin/env bash
# Run Fathom's tests: fetch the embedding model if missing, then the whole workspace's tests
# (unit, contract, integration, and the retrieval-quality gates on ../shared/evals).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/fetch-model.sh
cargo test --workspace --locked "$@"
