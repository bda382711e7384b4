#!/usr/bin/env bash
# `make demo`: build a demo library and show it.
#   MUSIC=~/Music make demo      use your own folder (plus the synthetic demo songs)
#   make demo                    synthetic songs, plus ../shared/data when it sits beside the repo
# The library goes to ./demo-library/library (override with DEMO_LIBRARY=DIR).
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
