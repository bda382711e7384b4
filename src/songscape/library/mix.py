"""DJ mixes in the Python API (issue 13): ``Library.plan_mix``, ``Library.render_mix``,
``Library.mix``. What plays comes from the library's search, similarity, paths and
recommendations; the planning and rendering live in :mod:`songscape.mix`."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from songscape.catalog.mix import mix_summaries
from songscape.catalog.store import LibraryStore
from songscape.errors import MixError, UsageError
from songscape.mix.cost import TransitionFeatures, camelot_codes, cost_matrix
from songscape.mix.order import chain_from_catalog
from songscape.mix.outputs import cue_sheet, plan_json_text, write_text
from songscape.mix.plan import MixOptions, MixPlan, plan_mix
from songscape.mix.render import check_output_path, render_mix
from songscape.mix.segments import AUTO_FULL_MAX_TRACKS, FALLBACK_HIGHLIGHT_S, SEGMENT_MODES
from songscape.mix.tracks import check_pulse, load_mix_tracks
from songscape.playlists.formats import ExportTrack, m3u8_text
from songscape.vectors import unit_rows

#: Tracks a mix chooses when neither a count nor minutes is given.
DEFAULT_COUNT = 8
#: Tracks nearest the seed (by embedding) a mix grown from it chooses among.
SEED_POOL = 500
#: Weight of staying close to the seed (``1 − cos`` to it) when growing a mix from one.
SEED_WEIGHT = 0.5


class MixMixin:
    """The mix methods of :class:`~songscape.library.library.Library`."""

    store: LibraryStore
    default_model: str

    def mix_candidates(
        self,
        tracks: Sequence[str] = (),
        *,
        seed: str | None = None,
        start: str | None = None,
        end: str | None = None,
        query: str | None = None,
        user: str | None = None,
        count: int | None = None,
        minutes: float | None = None,
        segments: str = "auto",
    ) -> tuple[list[str], int | None, int | None]:
        """The track ids a mix will play, and which must come first/last (indices or None).

        Exactly one source: ``tracks`` (that list), ``seed`` (grown over the catalog by
        mixability and closeness to the seed), ``start``+``end`` (the library's smooth
        path), ``query`` (text search) or ``user`` (their recommendations).

        Raises
        ------
        UsageError
            No source or several, fewer than two tracks, a bad count or minutes.
        MixError
            More minutes than the library holds.
        """
        sources = [
            bool(tracks),
            seed is not None,
            start is not None or end is not None,
            query is not None,
            user is not None,
        ]
        if sum(sources) != 1:
            raise UsageError(
                "give the tracks to mix, or exactly one of --seed, --from/--to, --query, --user"
            )
        if count is not None and not 2 <= count <= 500:
            raise UsageError(f"--count must be between 2 and 500, got {count}")
        if minutes is not None and not 0 < minutes <= 24 * 60:
            raise UsageError(f"--minutes must be between 0 and 1440, got {minutes}")
        if segments not in SEGMENT_MODES:
            raise UsageError(
                f"unknown --segments {segments!r}; choose one of {', '.join(SEGMENT_MODES)}"
            )
        if tracks:
            ids = [self.store.get_track(ref)["id"] for ref in tracks]
            if len(set(ids)) < 2:
                raise UsageError("a mix needs at least two different tracks")
            return ids, None, None
        if start is not None or end is not None:
            if start is None or end is None:
                raise UsageError("--from and --to go together")
            found = self.path(start, end, steps=max(2, (count or DEFAULT_COUNT) - 2))  # type: ignore[attr-defined]
            ids = list(dict.fromkeys(hop["id"] for hop in found["path"]))
            return ids, 0, len(ids) - 1
        wanted = count or DEFAULT_COUNT
        if query is not None:
            ids = [hit["id"] for hit in self.search(query, k=wanted)["results"]]  # type: ignore[attr-defined]
        elif user is not None:
            from songscape.recommend.service import recommend_user

            found = recommend_user(self.store, user, k=wanted * 3)
            ids = [r["track_id"] for r in found["results"] if r.get("track_id")][:wanted]
        else:
            ids = self._grow_from_seed(seed, count, minutes, segments)
            return ids, 0, None
        if len(ids) < 2:
            raise UsageError(f"only {len(ids)} track(s) found for that; a mix needs two or more")
        return ids, None, None

    def _grow_from_seed(
        self, seed: str, count: int | None, minutes: float | None, segments: str
    ) -> list[str]:
        seed_id = self.store.get_track(seed)["id"]
        rows = mix_summaries(self.store.conn)
        index = {r["id"]: i for i, r in enumerate(rows)}
        if seed_id not in index:
            raise UsageError(f"track {seed_id} has not been analysed; it cannot seed a mix")
        ids, _, vectors = self.store.embedding_matrix(self.default_model)
        unit = np.zeros((len(rows), vectors.shape[1] if len(ids) else 1), dtype=np.float32)
        if len(ids):
            rows_of = [index.get(i) for i in ids]
            known = [k for k, r in enumerate(rows_of) if r is not None]
            unit[[rows_of[k] for k in known]] = unit_rows(vectors[known])
        s = index[seed_id]
        closeness = np.clip(1.0 - unit @ unit[s], 0.0, 1.0)
        durations = np.array([r["duration_s"] or 0.0 for r in rows])
        many = segments == "auto" and (count or 99) > AUTO_FULL_MAX_TRACKS
        part = "highlight" if segments == "highlight" or many else "full"
        if part == "highlight":
            per_track = np.minimum(durations, FALLBACK_HIGHLIGHT_S + 12.0)
        else:
            per_track = durations * 0.92
        if minutes is not None and per_track.sum() < minutes * 60:
            raise MixError(
                f"the library holds about {per_track.sum() / 60:.0f} minutes of "
                f"{part}s to mix; ask for fewer than {minutes:g} minutes"
            )
        # The mix stays near its seed: grow it among the seed's closest tracks only (enough
        # of them to fill twice the minutes asked for).
        by_closeness = np.argsort(closeness, kind="stable")
        size = SEED_POOL
        if minutes is not None:
            size = max(
                size, int(np.searchsorted(np.cumsum(per_track[by_closeness]), 2 * minutes * 60)) + 1
            )
        pool = np.r_[s, by_closeness[by_closeness != s][: size - 1]]
        rows = [rows[i] for i in pool]
        unit, closeness, per_track = unit[pool], closeness[pool], per_track[pool]
        s = 0
        numbers, letters = camelot_codes([r["key"] for r in rows])
        levels = np.full(len(rows), np.nan)  # entry/exit levels are not known before segments
        tempi = [np.nan if r["tempo_bpm"] is None else r["tempo_bpm"] for r in rows]
        features = TransitionFeatures(
            tempo_bpm=np.array(tempi),
            camelot_number=numbers,
            camelot_letter=letters,
            exit_db=levels,
            entry_db=levels,
            unit_embedding=unit,
        )
        # The whole pool's transition costs at once (a 500 × 500 matrix), plus closeness.
        matrix = cost_matrix(features, MixOptions().weights) + SEED_WEIGHT * closeness[None, :]

        def step_costs(i: int, candidates: np.ndarray) -> np.ndarray:
            return matrix[i, candidates]

        stop = None
        if minutes is not None:

            def stop(seq: list[int]) -> bool:
                return float(per_track[seq].sum()) >= minutes * 60

        chosen = chain_from_catalog(
            s,
            count or 10_000 if minutes else count or DEFAULT_COUNT,
            step_costs,
            len(rows),
            stop=stop,
        )
        return [rows[i]["id"] for i in chosen]

    def plan_mix(
        self,
        tracks: Sequence[str] = (),
        *,
        options: MixOptions | None = None,
        **source: object,
    ) -> MixPlan:
        """Choose, order and lay out a mix (see :meth:`mix_candidates` for ``source``:
        ``seed``, ``start``, ``end``, ``query``, ``user``, ``count``, ``minutes``).

        A list of ``tracks`` keeps its order unless ``options.reorder``; the other
        sources are always ordered (a path keeps its ends).
        """
        options = options or MixOptions()
        plan = self._plan_once(tracks, options, source)
        minutes = source.get("minutes")
        asked = float(minutes) if isinstance(minutes, int | float) else None
        # Overlaps and phrase cuts make the first choice short of the minutes asked for:
        # ask again for proportionally more (the library may run out: keep the last plan).
        for _ in range(3):
            if asked is None or plan.duration_s >= 0.97 * float(minutes) * 60:  # type: ignore[arg-type]
                break
            asked *= float(minutes) * 60 / max(plan.duration_s, 1.0) * 1.02  # type: ignore[arg-type]
            try:
                plan = self._plan_once(tracks, options, {**source, "minutes": asked})
            except MixError:
                break
        return plan

    def _plan_once(self, tracks: Sequence[str], options: MixOptions, source: dict) -> MixPlan:
        ids, first, last = self.mix_candidates(tracks, segments=options.segments, **source)
        mix_tracks = load_mix_tracks(self.store, ids, self.default_model)
        for t in mix_tracks:
            if not os.path.exists(t.path):
                raise MixError(
                    f"the file of track {t.track_id} is gone: {t.path} "
                    "(run `songscape ingest` to update the library)"
                )
            check_pulse(t)
        if tracks:
            return plan_mix(mix_tracks, options)
        reordered = MixOptions(**{**options.__dict__, "reorder": True})
        return plan_mix(mix_tracks, reordered, start=first, end=last)

    def render_mix(
        self,
        plan: MixPlan,
        out: str | os.PathLike,
        progress: Callable[[int, int], None] | None = None,
        plot: str | os.PathLike | None = None,
    ) -> dict:
        """Render ``plan`` to ``out`` and write beside it ``<out>.json`` (the plan and the
        render report), ``<out>.cue`` and ``<out>.m3u8`` (the sources); ``plot``: a PNG of
        the mix's loudness and its transitions. Returns the plan's JSON with ``render``
        and ``files``.

        Raises
        ------
        MixError
            ``out`` cannot be written (folder missing or read-only, unknown suffix).
        """
        try:
            path = check_output_path(out)
        except (ValueError, OSError) as err:
            raise MixError(f"cannot write the mix to {out}: {err}") from err
        try:
            report = render_mix(plan, path, progress)
        except OSError as err:
            raise MixError(f"cannot write the mix to {out}: {err}") from err
        files = {
            "audio": str(path),
            "plan": str(path.with_suffix(".json")),
            "cue": str(path.with_suffix(".cue")),
            "m3u8": str(path.with_suffix(".m3u8")),
        }
        write_text(files["cue"], cue_sheet(plan, path.name))
        sources = [
            ExportTrack(s.track.path, s.track.title, s.track.artist, None, s.duration_s)
            for s in plan.segments
        ]
        write_text(files["m3u8"], m3u8_text(f"songscape mix {path.stem}", sources, None))
        if plot is not None:
            from songscape.mix.plot import plot_mix

            files["plot"] = str(plot_mix(path, plan, plot))
        extra = {"render": report.to_json(), "files": files}
        write_text(files["plan"], plan_json_text(plan, extra))
        return {**plan.to_json(), **extra}

    def mix(
        self,
        tracks: Sequence[str] = (),
        *,
        out: str | os.PathLike,
        options: MixOptions | None = None,
        progress: Callable[[int, int], None] | None = None,
        plot: str | os.PathLike | None = None,
        **source: object,
    ) -> dict:
        """Plan and render in one call (see :meth:`plan_mix` and :meth:`render_mix`)."""
        try:
            check_output_path(out)
        except (ValueError, OSError) as err:
            raise MixError(f"cannot write the mix to {out}: {err}") from err
        plan = self.plan_mix(tracks, options=options, **source)
        return self.render_mix(plan, Path(out), progress, plot)
