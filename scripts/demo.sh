#!/usr/bin/env bash
# `make demo`: build a demo library and show it.
#   MUSIC=~/Music make demo      use your own folder (plus the synthetic demo songs)
#   make demo                    synthetic songs, plus ../shared/data when it sits beside the repo
# The library goes to ./demo-library/library (override with DEMO_LIBRARY=DIR); then the web
# app serves it on http://127.0.0.1:8000 (PORT=...).
set -euo pipefail
venv="${1:-.venv}"
cd "$(dirname "$0")/.."
library="${DEMO_LIBRARY:-demo-library/library}"
music=()
if [ -n "${MUSIC:-}" ]; then
  music+=("$MUSIC")
elif [ -d ../shared/data ]; then
  music+=("../shared/data")
fi
"$venv/bin/songscape" --library "$library" demo "${music[@]}"
# The main job ends in the web app: a 3D map of the library (Ctrl-C stops it).
# DEMO_NO_SERVE=1 stops after building the library.
if [ -z "${DEMO_NO_SERVE:-}" ]; then
  exec "$venv/bin/songscape" --library "$library" serve --host 127.0.0.1 --port "${PORT:-8000}"
fi
