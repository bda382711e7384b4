"""Where a bench script's result goes: ``bench/results/<script>.json``.

Every script calls :func:`write_results` once at the end with what it measured and the
conditions it measured them under; ``bench/figures.py`` renders the figure tables of
README.md and docs/ from these files only. The format is documented in bench/README.md.
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import sys
from pathlib import Path
from typing import Any

RESULTS_DIR = Path(__file__).resolve().parent / "results"
FORMAT = 1


def cpu_model() -> str:
    """The CPU's model name (Linux ``/proc/cpuinfo``), else what :mod:`platform` says."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine(**extra: Any) -> dict[str, Any]:
    """The conditions every result records: date (UTC), CPU, cores, load, Python, and
    whatever the script adds (threads, n, ...)."""
    return {
        "date": datetime.datetime.now(datetime.UTC).date().isoformat(),
        "cpu": cpu_model(),
        "cpus": os.cpu_count(),
        "loadavg_1min": round(os.getloadavg()[0], 2),
        "python": platform.python_version(),
        **extra,
    }


def write_results(
    script: str,
    results: Any,
    conditions: dict[str, Any],
    out: str | os.PathLike[str] | None = None,
    provenance: str = "measured by the command above",
) -> Path:
    """Write ``{"format", "script", "command", "provenance", "conditions", "results"}``.

    Parameters
    ----------
    script : str
        The script's ``__file__``; names the file (``bench/results/<stem>.json``).
    results : JSON-serialisable
        What the script measured (its own layout, documented in its docstring).
    conditions : dict
        :func:`machine` plus the script's settings.
    out : path, optional
        Write here instead (e.g. a smoke test that must not replace the recorded figures).
    provenance : str
        Where the figures come from when not from running the command.
    """
    name = Path(script).stem
    path = Path(out) if out else RESULTS_DIR / f"{name}.json"
    payload = {
        "format": FORMAT,
        "script": f"bench/{name}.py",
        "command": " ".join(["python", f"bench/{name}.py", *sys.argv[1:]]),
        "provenance": provenance,
        "conditions": conditions,
        "results": results,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=1, default=float) + "\n")
    return path
