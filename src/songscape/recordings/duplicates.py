"""Duplicate recordings: groups of files holding one recording, the best copy, moves.

The best copy of a group is the lossless one, else the highest bitrate, then the one
with the most complete tags, then the longest (a copy cut short loses to a whole one).
Moving the other copies is a plan first (:func:`plan_moves`); :func:`apply_moves`
moves the files (never overwriting) and the caller records each moved track as
``missing`` at its new path, so it keeps its id and data and returns if its file is
ingested again.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from songscape.catalog.fingerprints import RELATION_RELATED
from songscape.recordings.links import recording_groups

#: Tag fields counted for a copy's tag completeness.
TAG_FIELDS = ("title", "artist", "album", "genre", "year", "track_number")


def tags_filled(facts: dict) -> int:
    """How many of :data:`TAG_FIELDS` a copy has (non-empty)."""
    return sum(1 for f in TAG_FIELDS if facts.get(f) not in (None, ""))


def copy_rank(facts: dict) -> tuple:
    """Sort key of a copy, best first when sorted ascending."""
    return (
        -int(bool(facts.get("lossless"))),
        -(facts.get("bitrate_bps") or 0),
        -tags_filled(facts),
        -(facts.get("duration_s") or 0.0),
        facts.get("path") or "",
    )


def _copy_entry(facts: dict, link: dict | None, best_id: str) -> dict:
    entry = {
        "id": facts["id"],
        "path": facts["path"],
        "format": facts.get("format"),
        "lossless": None if facts.get("lossless") is None else bool(facts["lossless"]),
        "bitrate_kbps": (
            None if not facts.get("bitrate_bps") else round(facts["bitrate_bps"] / 1000.0, 1)
        ),
        "duration_s": None if facts.get("duration_s") is None else round(facts["duration_s"], 2),
        "tags_filled": tags_filled(facts),
        "title": facts.get("title"),
        "artist": facts.get("artist"),
        "best": facts["id"] == best_id,
    }
    if link is not None:
        # Offset of this copy relative to the best: this copy's time at the best's start.
        sign = 1.0 if link["track_a"] == best_id else -1.0
        entry |= {
            "matched_s": round(link["matched_s"], 1),
            "offset_s": round(sign * link["offset_s"], 2) + 0.0,  # no "-0.0"
            "ber": round(link["ber"], 3),
        }
    else:
        entry |= {"matched_s": None, "offset_s": None, "ber": None}
    return entry


def duplicate_report(links: list[dict], facts: dict[str, dict]) -> dict:
    """Groups of copies of one recording, and related (partly overlapping) pairs.

    Parameters
    ----------
    links : list of dict
        Rows of ``recording_links`` between live tracks.
    facts : dict
        ``{track_id: facts}`` from :func:`songscape.catalog.fingerprints.fingerprint_facts`.

    Returns
    -------
    dict
        ``{"groups": [{"best", "copies": [...]}], "related": [...]}``. Each copy names its
        path, format, lossless, bitrate (kbit/s), duration, tags filled, and its evidence
        against the best copy: matched seconds, offset (s) and bit-error rate (None when
        it is linked to the best copy only through another copy).
    """
    by_pair = {(link["track_a"], link["track_b"]): link for link in links}
    groups = []
    for members in recording_groups(links):
        ranked = sorted(members, key=lambda t: copy_rank(facts.get(t, {"id": t})))
        best = ranked[0]
        copies = []
        for t in ranked:
            pair = tuple(sorted((best, t)))
            link = by_pair.get(pair) if t != best else None
            copies.append(_copy_entry(facts[t], link, best))
        groups.append({"best": best, "copies": copies})
    related = []
    for link in links:
        if link["relation"] != RELATION_RELATED:
            continue
        a, b = facts.get(link["track_a"]), facts.get(link["track_b"])
        if a is None or b is None:
            continue
        related.append(
            {
                "a": {"id": a["id"], "path": a["path"], "title": a.get("title")},
                "b": {"id": b["id"], "path": b["path"], "title": b.get("title")},
                "matched_s": round(link["matched_s"], 1),
                "offset_s": round(link["offset_s"], 2) + 0.0,
                "coverage_a": round(link["coverage_a"], 3),
                "coverage_b": round(link["coverage_b"], 3),
                "ber": round(link["ber"], 3),
            }
        )
    return {"groups": groups, "related": related}


def _free_target(dest: Path, name: str, taken: set[Path]) -> Path:
    target = dest / name
    stem, suffix = Path(name).stem, Path(name).suffix
    n = 1
    while target.exists() or target in taken:
        target = dest / f"{stem} ({n}){suffix}"
        n += 1
    return target


def plan_moves(report: dict, dest: str | os.PathLike) -> list[dict]:
    """The moves ``--keep best --move-others DEST`` would make: one per non-best copy.

    Each move is ``{"id", "from", "to", "best"}`` (``best`` = the id kept). Targets never
    overwrite a file: a taken name gets `` (1)``, `` (2)``... before its extension.
    """
    dest = Path(dest).expanduser().absolute()
    taken: set[Path] = set()
    moves = []
    for group in report["groups"]:
        for copy in group["copies"]:
            if copy["best"]:
                continue
            target = _free_target(dest, Path(copy["path"]).name, taken)
            taken.add(target)
            moves.append(
                {"id": copy["id"], "from": copy["path"], "to": str(target), "best": group["best"]}
            )
    return moves


def apply_move(move: dict) -> tuple[int, float]:
    """Move one file (creating the destination folder); returns its ``(size, mtime)``.

    Raises ``FileExistsError`` rather than overwrite, ``FileNotFoundError`` when the
    source is gone.
    """
    source, target = Path(move["from"]), Path(move["to"])
    if target.exists():
        raise FileExistsError(f"{target} exists; not overwriting it")
    if not source.exists():
        raise FileNotFoundError(f"{source} is gone")
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(str(source), str(target))
    st = target.stat()
    return st.st_size, st.st_mtime
