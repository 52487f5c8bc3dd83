#!/usr/bin/env bash
# Set up and run Fathom on the embedded defaults: fetch the embedding model if missing, build,
# ingest the sample help center in knowledge/, ask one question, then serve the chat API, the
# demo page with the chat widget, and the support-lead console on http://127.0.0.1:8080.
#
#   scripts/run.sh [ADDR]      # default 127.0.0.1:8080
#
# While it serves, the CLI works from another terminal on the same data dir: `search`, `ask`,
# `status` and `ingest` go through this server. FATHOM_BIN=<binary> skips the build and runs
# that binary instead (crates/fathom/tests/readme.rs does, to check these steps).
set -euo pipefail
cd "$(dirname "$0")/.."

addr="${1:-127.0.0.1:8080}"
scripts/fetch-model.sh
if [[ -n "${FATHOM_BIN:-}" ]]; then
  FATHOM="$FATHOM_BIN"
else
  echo "==> building fathom (release; the first build takes a while on few cores)"
  cargo build --release --locked -p fathom
  FATHOM=target/release/fathom
fi
export FATHOM_DATA_DIR="${FATHOM_DATA_DIR:-data}"

echo "==> ingesting knowledge/ into workspace 'default' (only changed articles are re-embedded)"
"$FATHOM" ingest knowledge/

question="How do I get a refund on an annual plan?"
echo "==> fathom ask \"$question\""
"$FATHOM" ask "$question"

# A local admin key for the console, kept beside the data so it survives restarts.
key_file="$FATHOM_DATA_DIR/admin-key"
if [[ ! -s "$key_file" ]]; then
  python3 -c 'import secrets; print(secrets.token_urlsafe(24))' >"$key_file"
  chmod 600 "$key_file"
fi
admin_key="$(cat "$key_file")"

cat <<MSG

Fathom is serving on http://$addr (Ctrl-C stops it):
  open http://$addr/          the demo product site: click the chat bubble and ask a question
  open http://$addr/console   the support-lead console (admin key: $admin_key)
  curl -s -X POST http://$addr/v1/conversations -H 'content-type: application/json' -d '{"workspace":"default"}'
  http://$addr/openapi.json   the chat API;   http://$addr/metrics   Prometheus metrics
From another terminal (they go through this server):
  $FATHOM search "why am I getting error 429?"
  $FATHOM ask "can I pay by invoice?" --json
  $FATHOM status
  $FATHOM ingest knowledge/   # after editing an article: searchable here when it returns
Other commands: $FATHOM --help   (eval, bench… need the server stopped)

MSG
exec "$FATHOM" serve --addr "$addr" --knowledge-dir knowledge --admin-key "$admin_key" \
  --allowed-origin "http://$addr"
