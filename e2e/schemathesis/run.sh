#!/usr/bin/env bash
# schemathesis (PyPI) against a running `fathom serve`: generated requests for every operation of
# its OpenAPI document, checking that none gets a server error or a status the document does not
# list. Used by crates/fathom/tests/schemathesis.rs; also handy by hand.
#
#   e2e/schemathesis/run.sh install                 # venv with requirements.txt
#   e2e/schemathesis/run.sh check BASE_URL [SECONDS] # install if needed, then test for SECONDS (default 120)
#
# `check` reads the credentials schemathesis sends, per security scheme of the document:
#   FATHOM_ADMIN_KEY       admin API key (scheme `admin_key`)
#   FATHOM_CUSTOMER_TOKEN  a customer token (scheme `customer_token`)
#   FATHOM_CONVERSATION_ID that token's conversation (the `{id}` of the routes that take one)
# The venv lives in ${FATHOM_CACHE:-~/.cache/fathom}/schemathesis-<hash of requirements.txt>.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cache="${FATHOM_CACHE:-$HOME/.cache/fathom}"
python="${PYTHON:-python3}"
hash="$(sha256sum "$here/requirements.txt" | cut -c1-12)"
venv="$cache/schemathesis-$hash"

install() {
  if [[ -f "$venv/.ready" ]]; then return 0; fi
  mkdir -p "$cache"
  # Several test runs may start at once: one installs, the others wait for it.
  exec 9>"$cache/schemathesis.lock"
  flock 9
  if [[ ! -f "$venv/.ready" ]]; then
    rm -rf "$venv"
    echo "==> schemathesis: creating $venv" >&2
    "$python" -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$here/requirements.txt" >&2
    touch "$venv/.ready"
  fi
  exec 9>&-
}

case "${1:-}" in
  install)
    install
    echo "schemathesis ready in $venv"
    ;;
  check)
    base="${2:?usage: run.sh check BASE_URL [SECONDS]}"
    seconds="${3:-120}"
    install
    : "${FATHOM_ADMIN_KEY:?set FATHOM_ADMIN_KEY}" "${FATHOM_CUSTOMER_TOKEN:?set FATHOM_CUSTOMER_TOKEN}" \
      "${FATHOM_CONVERSATION_ID:?set FATHOM_CONVERSATION_ID}"
    report="$(mktemp -d)"
    cd "$here"
    # Fixed seed: a failure reproduces. Checks: no 5xx, no status the document does not list,
    # and responses in the content type it promises.
    exec "$venv/bin/st" --config-file "$here/schemathesis.toml" run "$base/openapi.json" \
      --checks not_a_server_error,status_code_conformance,content_type_conformance \
      --max-time "$seconds" --seed 14 --workers 1 \
      --report junit --report-dir "$report"
    ;;
  *)
    echo "usage: $0 install | check BASE_URL [SECONDS]" >&2
    exit 2
    ;;
esac
