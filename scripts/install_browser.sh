#!/usr/bin/env bash
# Install what the browser end-to-end test needs: Debian's chromium and Playwright for Python.
# Idempotent and quiet. `playwright install` cannot download its own browser builds here, so the
# test drives Debian's chromium through Playwright's `executable_path`.
# Usage: scripts/install_browser.sh [VENV_DIR]
set -euo pipefail
venv="${1:-.venv}"
here="$(cd "$(dirname "$0")/.." && pwd)"
cd "$here"

if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "install_browser: installing chromium (Debian package)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      chromium fonts-dejavu-core >/dev/null
  else
    echo "install_browser: chromium not found and cannot install it (not root or no apt-get);" \
         "the browser end-to-end test will be skipped" >&2
  fi
fi

if [ -x "$venv/bin/python" ]; then
  if ! "$venv/bin/python" -c "import playwright" >/dev/null 2>&1; then
    "$venv/bin/python" -m pip install -q "playwright>=1.40"
  fi
else
  echo "install_browser: no virtual environment at $venv (run \`make setup\` first)" >&2
  exit 1
fi
command -v chromium >/dev/null 2>&1 && echo "install_browser: $(chromium --version 2>/dev/null)"
