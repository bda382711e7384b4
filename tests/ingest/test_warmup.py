"""The cross-process warm-up of librosa's numba kernels."""

from __future__ import annotations

import subprocess
import sys

from songscape.ingest.warmup import warm_up


def test_warm_up_runs_once_per_install(tmp_path):
    assert warm_up(tmp_path) is True
    assert warm_up(tmp_path) is False
    assert len(list(tmp_path.glob("*.warm"))) == 1


def test_concurrent_warm_ups_all_succeed(tmp_path):
    code = (
        "import sys; from songscape.ingest.warmup import warm_up; "
        f"print(warm_up({str(tmp_path)!r}))"
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
        for _ in range(3)
    ]
    outs = [p.communicate(timeout=300)[0].strip() for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0]
    assert sorted(outs) == ["False", "False", "True"]  # exactly one did the work
