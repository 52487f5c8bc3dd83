#!/usr/bin/env bash
# Install what the tests need and a fresh machine may lack; quick (checks only) when all is there.
#   - Debian packages: a C++ toolchain and curl (llama-server is built from source), python3-venv
#     (django-helpdesk runs in a venv), chromium + a font (the widget and console browser tests)
#     and a CJK font (the Chinese widget screenshot would show empty boxes without one),
#     postgresql (the Postgres conversation store's tests run on a throwaway cluster, see
#     scripts/postgres.sh);
#   - playwright-core from npm (e2e/package-lock.json);
#   - django-helpdesk from PyPI into a venv in ~/.cache/fathom (e2e/helpdesk/requirements.txt);
#   - schemathesis from PyPI into a venv in ~/.cache/fathom (e2e/schemathesis/requirements.txt).
# Debian packages need root or sudo; everything else installs as the current user.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
{ command -v c++ >/dev/null && command -v make >/dev/null; } || missing+=(build-essential)
command -v curl >/dev/null || missing+=(curl)
python3 -c 'import ensurepip, venv' 2>/dev/null || missing+=(python3-venv)
command -v chromium >/dev/null || missing+=(chromium fonts-liberation)
[[ "$(fc-list : family 2>/dev/null || true)" == *WenQuanYi* ]] || missing+=(fonts-wqy-zenhei)
command -v npm >/dev/null || missing+=(nodejs npm)
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || missing+=(postgresql)
if ((${#missing[@]})); then
  echo "==> installing ${missing[*]} (apt-get)"
  sudo=()
  [[ "$(id -u)" -eq 0 ]] || sudo=(sudo)
  "${sudo[@]}" apt-get update -qq
  "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

[[ -d e2e/node_modules ]] || npm ci --prefix e2e --no-audit --no-fund
e2e/helpdesk/run.sh install
e2e/schemathesis/run.sh install
