#!/usr/bin/env bash
# django-helpdesk (PyPI `django-helpdesk`) on SQLite, on a loopback port, for Fathom's handoff
# end-to-end test (crates/fathom/tests/helpdesk_e2e.rs) and for trying the adapter by hand.
#
#   e2e/helpdesk/run.sh install        # venv with requirements.txt + a migrated template database
#   e2e/helpdesk/run.sh serve PORT     # install if needed, set up users and queue, serve
#
# The venv lives in ${FATHOM_CACHE:-~/.cache/fathom}/django-helpdesk-<hash of requirements.txt>
# (built once, about 20 s; reused after). `serve` reads:
#   HELPDESK_DATA_DIR          database and uploads (default: a new temporary folder)
#   FATHOM_WEBHOOK_URL         Fathom's inbound URL, called after every follow-up
#   FATHOM_HELPDESK_PASSWORD   password of the API user `fathom` (default fathom-password)
#   AGENT_PASSWORD             password of the human agent `agent` (default agent-password)
# and prints one JSON line (api_user, api_user_id, api_token, agent_user, agent_user_id, queue_id)
# before the server starts; the server is this process (exec), so killing it stops everything.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cache="${FATHOM_CACHE:-$HOME/.cache/fathom}"
python="${PYTHON:-python3}"
hash="$(cat "$here/requirements.txt" "$here/fathom_helpdesk/settings.py" | sha256sum | cut -c1-12)"
venv="$cache/django-helpdesk-$hash"

install() {
  if [[ -f "$venv/.ready" ]]; then return 0; fi
  mkdir -p "$cache"
  # Several test runs may start at once: one installs, the others wait for it.
  exec 9>"$cache/django-helpdesk.lock"
  flock 9
  if [[ ! -f "$venv/.ready" ]]; then
    "$python" -c 'import sys; assert sys.version_info >= (3, 10), "django-helpdesk needs Python >= 3.10"'
    rm -rf "$venv"
    echo "==> django-helpdesk: creating $venv" >&2
    "$python" -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$here/requirements.txt" >&2
    # A migrated empty database to copy: migrating from scratch takes longer than the copy.
    HELPDESK_DATA_DIR="$venv/template" "$venv/bin/python" "$here/manage.py" migrate --noinput -v 0 >&2
    touch "$venv/.ready"
  fi
  exec 9>&-
}

case "${1:-}" in
  install)
    install
    echo "django-helpdesk ready in $venv"
    ;;
  serve)
    port="${2:?usage: run.sh serve PORT}"
    install
    export HELPDESK_DATA_DIR="${HELPDESK_DATA_DIR:-$(mktemp -d)}"
    mkdir -p "$HELPDESK_DATA_DIR"
    if [[ ! -f "$HELPDESK_DATA_DIR/db.sqlite3" ]]; then
      cp "$venv/template/db.sqlite3" "$HELPDESK_DATA_DIR/db.sqlite3"
    fi
    cd "$here"
    "$venv/bin/python" manage.py migrate --noinput -v 0 >&2
    "$venv/bin/python" setup_helpdesk.py
    # Only the setup line goes to stdout: a reader may stop reading after it.
    exec "$venv/bin/python" manage.py runserver --noreload --skip-checks "127.0.0.1:$port" >&2
    ;;
  *)
    echo "usage: $0 install | serve PORT" >&2
    exit 2
    ;;
esac
