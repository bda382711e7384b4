"""Sections and highlights in the Python API (issue 18): ``Library.sections``,
``Library.highlight``, ``Library.timeline``, ``Library.export_highlights``,
``Library.plot_highlight``. The logic is in :mod:`songscape.highlights`."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np

from songscape.analysis.highlight import DEFAULT_LENGTH_S
from songscape.catalog import structure as structure_db
from songscape.catalog.store import LibraryStore
from songscape.errors import UsageError
from songscape.highlights.choose import analyze_highlights, check_method, pick
from songscape.highlights.export import DEFAULT_FADE_S, clip_filename, export_clip
from songscape.highlights.plot import plot_timeline


class StructureMixin:
    """The structure and highlight methods of :class:`~songscape.library.library.Library`."""

    store: LibraryStore

    def sections(self, ref: str) -> dict:
        """A track's stored sections: ``{track_id, title, duration_s, sections: [{start_s,
        end_s, label}] or None, chorus, grid, reason}`` (None: not analysed yet)."""
        row = self.store.get_track(ref)
        info = structure_db.get_structure(self.store.conn, row["id"]) or {
            "sections": None, "chorus": None, "grid": None,
            "reason": "not analysed yet (run `songscape ingest` on its folder)",
        }  # fmt: skip
        return {"track_id": row["id"], "title": row["title"], "path": row["path"],
                "duration_s": row["duration_s"], **info}  # fmt: skip

    def timeline(self, ref: str) -> dict:
        """What the web page draws for a track, each None when not computed:
        ``highlight`` ``{start_s, end_s, method, score}``, ``sections`` ``[{start_s, end_s,
        label}]``, ``energy_curve`` ``{times_s, values}`` (values scaled 0..1 between the
        curve's minimum and maximum dB), ``beat_times``, ``downbeat_times`` (seconds)."""
        row = self.store.get_track(ref)
        track_id = row["id"]
        arrays = self.store.get_arrays(track_id)
        desc = self.store.descriptors(track_id)
        info = structure_db.get_structure(self.store.conn, track_id)
        energy = None
        curve = arrays.get("energy_curve")
        if curve is not None and desc is not None and len(curve):
            e = np.asarray(curve, dtype=float)
            span = float(e.max() - e.min())
            values = (e - e.min()) / span if span > 0 else np.zeros_like(e)
            times = np.arange(len(e)) / float(desc["energy_rate_hz"])
            energy = {"times_s": [round(float(t), 3) for t in times],
                      "values": [round(float(v), 4) for v in values]}  # fmt: skip

        def times(name: str) -> list[float] | None:
            arr = arrays.get(name)
            return None if arr is None else [round(float(t), 3) for t in arr]

        return {
            "highlight": structure_db.default_highlight(self.store.conn, track_id),
            "sections": info["sections"] if info else None,
            "energy_curve": energy,
            "beat_times": times("beat_times"),
            "downbeat_times": times("downbeat_times"),
        }

    def highlight(self, ref: str, length_s: float = DEFAULT_LENGTH_S,
                  method: str | None = None) -> dict:  # fmt: skip
        """A track's highlight ``{track_id, title, start_s, end_s, method, score, stored}``.

        The stored one when the length is the default and that method was stored at
        ingest; otherwise computed now from the file (``stored`` False).

        Raises
        ------
        UsageError
            Unknown method, non-positive length, or attention/fused without the model.
        AudioError
            The file cannot be decoded.
        """
        check_method(method)
        row = self.store.get_track(ref)
        stored = structure_db.get_highlights(self.store.conn, row["id"])
        if stored and abs(length_s - DEFAULT_LENGTH_S) < 1e-9:
            chosen = (stored.get(method) if method else
                      next((h for h in stored.values() if h["is_default"]), None))  # fmt: skip
            if chosen is not None:
                return {"track_id": row["id"], "title": row["title"], "stored": True,
                        **{k: chosen[k] for k in ("start_s", "end_s", "method", "score")}}
        found = analyze_highlights(row["path"], length_s).highlights
        h = pick(found, method)
        return {"track_id": row["id"], "title": row["title"], "stored": False, **h.to_json()}

    def plot_highlight(self, ref: str, out_path: str | os.PathLike, length_s: float =
                       DEFAULT_LENGTH_S, method: str | None = None) -> Path:  # fmt: skip
        """Draw the track's timeline with its highlight to a PNG (see
        :func:`songscape.highlights.plot.plot_timeline`); returns the path."""
        h = self.highlight(ref, length_s, method)
        tl = self.timeline(ref)
        row = self.store.get_track(ref)
        desc = self.store.descriptors(row["id"])
        arrays = self.store.get_arrays(row["id"])
        info = self.sections(ref)
        plot_timeline(
            out_path, arrays.get("energy_curve", np.zeros(0)),
            float(desc["energy_rate_hz"]) if desc else 2.0,
            np.asarray(tl["beat_times"] or []), np.asarray(tl["downbeat_times"] or []),
            info["sections"] or [], h, chorus=info["chorus"],
            title=row["title"] or os.path.basename(row["path"]),
        )  # fmt: skip
        return Path(out_path)

    def export_highlights(
        self,
        out_dir: str | os.PathLike,
        refs: Iterable[str] | None = None,
        length_s: float = DEFAULT_LENGTH_S,
        method: str | None = None,
        fade_s: float = DEFAULT_FADE_S,
        progress: Callable[[int], None] | None = None,
    ) -> list[dict]:
        """Write each track's highlight (``refs``; default every healthy track) as a WAV
        clip with fades into ``out_dir``. Returns one dict per track: the highlight and
        ``file``, or ``error`` (the reason) when that track could not be exported."""
        if refs is None:
            refs = [t["id"] for t in self.tracks(status="ok")]  # type: ignore[attr-defined]
        out = []
        for ref in refs:
            try:
                h = self.highlight(ref, length_s, method)
                row = self.store.get_track(ref)
                name = clip_filename(row["title"] or Path(row["path"]).stem, h["start_s"])
                path = export_clip(row["path"], h["start_s"], h["end_s"], Path(out_dir) / name,
                                   fade_s)  # fmt: skip
                out.append({**h, "file": str(path)})
            except UsageError:
                raise
            except Exception as err:  # noqa: BLE001 - one bad file must not stop the rest
                out.append({"track_id": ref, "error": f"{type(err).__name__}: {err}"})
            if progress is not None:
                progress(1)
        return out
