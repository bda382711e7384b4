"""Printing for the command line: JSON, rich consoles, number formats, the progress bar.

Human output goes through a rich console on stdout (tables, bold names); ``--json`` output
is exactly one JSON document on stdout; progress goes to stderr, only on a terminal.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from typing import Any


def print_json(value: Any) -> None:
    """Write ``value`` to stdout as one indented JSON document (UTF-8, no NaN/Infinity)."""
    json.dump(value, sys.stdout, indent=2, ensure_ascii=False, allow_nan=False)
    sys.stdout.write("\n")


def console() -> Any:
    """A rich console on stdout that leaves numbers uncoloured and long lines unwrapped."""
    from rich.console import Console

    return Console(highlight=False, soft_wrap=True)


def fmt(value: Any, digits: int = 1, unit: str = "") -> str:
    """``value`` with ``digits`` decimals (floats) and ``unit`` appended; ``-`` for None."""
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}{unit}"
    return f"{value}{unit}"


def duration(seconds: float | None) -> str:
    """``m:ss`` or ``h:mm:ss`` of a time in seconds; ``-`` for None."""
    if seconds is None:
        return "-"
    m, s = divmod(int(round(seconds)), 60)
    h, m = divmod(m, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def sparkline(values: Sequence[float], width: int = 60) -> str:
    """A one-line bar chart of ``values`` (at most ``width`` characters)."""
    import numpy as np

    arr = np.asarray(values, dtype=float)
    if arr.size > width:  # max-pool to the width, so peaks stay visible
        edges = np.linspace(0, arr.size, width + 1).astype(int)
        arr = np.array([arr[a:b].max() for a, b in zip(edges[:-1], edges[1:], strict=True)])
    lo, hi = np.percentile(arr, 5), arr.max()
    levels = "▁▂▃▄▅▆▇█"
    scaled = np.clip((arr - lo) / max(hi - lo, 1e-9), 0, 1)
    return "".join(levels[int(round(v * (len(levels) - 1)))] for v in scaled)


def tag_line(tags: dict[str, float], top: int = 6) -> str:
    """``"rock 0.52, guitar 0.31, …"``: the first ``top`` of ``{tag: probability}``."""
    return ", ".join(f"{tag} {p:.2f}" for tag, p in list(tags.items())[:top])


def bar(p: float, width: int = 20) -> str:
    """A probability in [0, 1] as a bar of ``width`` characters."""
    full = int(round(max(0.0, min(1.0, p)) * width))
    return "█" * full + "·" * (width - full)


def explanation_text(e: dict) -> str:
    """One line of why a similar track was found (shared tags, tempo, key, artist)."""
    parts = []
    if e.get("shared_tags"):
        parts.append("tags " + ", ".join(e["shared_tags"][:4]))
    tempo = e.get("tempo")
    if tempo:
        factor = "" if tempo["factor"] == 1 else f" at x{tempo['factor']:g}"
        parts.append(f"tempo ±{tempo['bpm_diff']:.0f} BPM{factor}")
    key = e.get("key")
    if key:
        parts.append("same key" if key["camelot_steps"] == 0 else
                     f"key {key['result']} ({key['camelot_steps']} Camelot step"
                     f"{'s' if key['camelot_steps'] != 1 else ''})")  # fmt: skip
    if e.get("same_artist"):
        parts.append("same artist")
    if e.get("same_album"):
        parts.append("same album")
    return "; ".join(parts)


def print_results(results: list[dict], score_key: str = "score") -> None:
    """A numbered list of found tracks (similar or text search), each with why it matched."""
    out = console()
    if not results:
        out.print("no results")
    for i, r in enumerate(results, 1):
        name = r["title"] or os.path.basename(r["path"])
        artist = f" — {r['artist']}" if r["artist"] else ""
        out.print(f"{i:>3}. [bold]{name}[/bold]{artist}  [dim]{r['id']}[/dim]  "
                  f"{score_key} {r[score_key]:.3f}")  # fmt: skip
        why = r.get("explanation")
        if isinstance(why, dict) and "shared_tags" in why:
            text = explanation_text(why)
        elif isinstance(why, dict):
            parts = [f"{t['name']} {t['probability']:.2f}" for t in why.get("tags", [])[:4]]
            parts += [f"{m['field']} {m['value']}" for m in why.get("metadata", [])[:2]]
            text = "; ".join(parts) or why.get("note") or ""
        else:
            text = str(why or "")
        if text:
            out.print(f"     [dim]{text}[/dim]")
        window = r.get("window")  # matched by segments (issue 20)
        if isinstance(window, dict):
            where = f"{duration(window['start_s'])}-{duration(window['end_s'])}"
            if window.get("query_start_s") is not None:
                where = f"query {duration(window['query_start_s'])} ~ its {where}"
            out.print(f"     [dim]best segment: {where} ({window['score']:.3f})[/dim]")


class RichProgress:
    """A progress bar with ETA on stderr; callers create it only when stderr is a terminal.

    The ``phase``/``advance`` protocol is the one ``Library.ingest``, the trainer and the
    evaluation harness report through.
    """

    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self._progress = Progress(
            TextColumn("{task.description:>11}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("eta"),
            TimeRemainingColumn(),
            console=Console(stderr=True),
            transient=False,
        )
        self._task = None

    def __enter__(self) -> RichProgress:
        self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.stop()

    def phase(self, name: str, total: int) -> None:
        """Start a new bar named ``name`` of ``total`` steps below the previous one."""
        if self._task is not None:
            self._progress.update(self._task, visible=total > 0 or name == "analyse")
        self._task = self._progress.add_task(name, total=total)

    def advance(self, n: int = 1) -> None:
        """Move the current bar ``n`` steps on."""
        if self._task is not None:
            self._progress.advance(self._task, n)
