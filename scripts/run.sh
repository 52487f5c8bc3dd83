#!/usr/bin/env bash
# Set up and run Fathom on the embedded defaults: fetch the embedding model if missing, build,
# ingest the sample help center in knowledge/, and run a first search.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/fetch-model.sh
echo "==> building fathom (release; the first build takes several minutes)"
cargo build --release --locked -p fathom
FATHOM=target/release/fathom

echo "==> ingesting knowledge/ into workspace 'default'"
"$FATHOM" ingest knowledge/

question="${1:-How do I get a refund on an annual plan?}"
echo "==> fathom search \"$question\""
"$FATHOM" search "$question" --limit 3

cat <<'MSG'

Fathom is ready. Try:
  target/release/fathom search "why am I getting error 429?"
  target/release/fathom search "set up two-factor authentication" --json
  target/release/fathom ingest knowledge/        # edit an article first: only it is re-indexed
  target/release/fathom --help
MSG
