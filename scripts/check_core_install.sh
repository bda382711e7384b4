#!/usr/bin/env bash
# Check the core install (no extras): a fresh venv with `pip install .` ingests real music and
# answers `similar`, and commands of a missing extra name the extra instead of a traceback.
# Usage: scripts/check_core_install.sh [WORK_DIR]   (takes ~5 min; not part of `make test`)
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
work="${1:-$(mktemp -d)}"
music="$here/../shared/data/gtzan_subset100/audio"
python3 -m venv "$work/venv"
"$work/venv/bin/python" -m pip install -q --upgrade pip
"$work/venv/bin/python" -m pip install -q "torch==2.13.0"   # the CPU wheel (see setup.sh)
"$work/venv/bin/python" -m pip install -q "$here"
"$work/venv/bin/python" -m pip install -q --no-deps "musicnn==0.1.0"   # the pretrained weights
ss="$work/venv/bin/songscape --library $work/lib"
$ss ingest "$music" --workers 2 --json > "$work/ingest.json"
first=$($ss tracks --json | "$work/venv/bin/python" -c "import json,sys; print(json.load(sys.stdin)[0]['id'])")
$ss similar "$first" --k 3
for cmd in "serve --no-browser" "recommend --user someone"; do
  if out=$($ss $cmd 2>&1); then echo "expected '$cmd' to fail without its extra" >&2; exit 1; fi
  [ "$(printf '%s\n' "$out" | wc -l)" = 1 ] || { echo "more than one line: $out" >&2; exit 1; }
  printf '%s\n' "$out" | grep -q "pip install 'songscape\[" || { echo "no extra named: $out" >&2; exit 1; }
  echo "ok: $out"
done
echo "core install: ingest, similar and missing-extra messages all work ($work)"
