"""What a mix leaves beside its audio: the plan as JSON and a CUE sheet."""

from __future__ import annotations

import json
import os
from pathlib import Path

from songscape.mix.plan import MixPlan


def cue_time(seconds: float) -> str:
    """CUE ``MM:SS:FF`` (75 frames per second)."""
    frames = int(round(max(0.0, seconds) * 75))
    minutes, rest = divmod(frames, 75 * 60)
    return f"{minutes:02d}:{rest // 75:02d}:{rest % 75:02d}"


def _quoted(text: str) -> str:
    return '"' + " ".join(str(text).split()).replace('"', "'") + '"'


def cue_sheet(plan: MixPlan, audio_name: str, title: str = "songscape mix") -> str:
    """A CUE sheet with one track per segment, indexed where it is heard alone or, for
    the first, at 0 — the middle of each transition, where a listener hears the change."""
    kind = {".wav": "WAVE", ".flac": "WAVE", ".mp3": "MP3", ".ogg": "WAVE"}.get(
        Path(audio_name).suffix.lower(), "WAVE"
    )
    lines = [
        f"TITLE {_quoted(title)}",
        'PERFORMER "songscape"',
        f"FILE {_quoted(audio_name)} {kind}",
    ]
    for i, seg in enumerate(plan.segments):
        start = (
            0.0
            if i == 0
            else (plan.transitions[i - 1].mix_start_s + plan.transitions[i - 1].mix_end_s) / 2
        )
        t = seg.track
        lines += [
            f"  TRACK {i + 1:02d} AUDIO",
            f"    TITLE {_quoted(t.title or Path(t.path).stem)}",
        ]
        if t.artist:
            lines.append(f"    PERFORMER {_quoted(t.artist)}")
        lines.append(f"    INDEX 01 {cue_time(start)}")
    return "\n".join(lines) + "\n"


def write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` atomically (a temporary file renamed over ``path``)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.partial-{os.getpid()}")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def plan_json_text(plan: MixPlan, extra: dict | None = None) -> str:
    """The plan's JSON (``extra`` keys added at the top level, e.g. the render report)."""
    return json.dumps({**plan.to_json(), **(extra or {})}, indent=2, ensure_ascii=False) + "\n"
