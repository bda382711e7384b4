"""``Library.import_labels`` and ``songscape ingest --labels`` (issue 17): a labels sidecar
gives genres to tracks without a genre tag, and the map shows where each genre came from."""

from __future__ import annotations

from pathlib import Path

from songscape.catalog import tracks
from songscape.catalog.store import LibraryStore
from songscape.library.library import Library
from songscape.server.payloads import point_fields
from songscape.synthetic.catalogs import build_synthetic_library


def test_labels_sidecar_and_folder_genres(tmp_path: Path):
    ids = build_synthetic_library(tmp_path / "lib", 6, seed=2, audio_dir=tmp_path / "music",
                                  n_audio=6)  # fmt: skip
    with LibraryStore(tmp_path / "lib") as store, store.transaction() as conn:
        for track_id in ids[1:]:
            tracks.set_file_columns(conn, track_id, {"genre": None})
    with Library(tmp_path / "lib") as lib:
        paths = {t: lib.track(t)["path"] for t in ids}
        csv = tmp_path / "music" / "labels.csv"
        rows = [f"{Path(paths[t]).relative_to(csv.parent)},sidecar-{k}"
                for k, t in enumerate(ids[:3])]  # fmt: skip
        csv.write_text("path,genre\n" + "\n".join(rows) + "\nnot/here.wav,x\n", encoding="utf-8")
        out = lib.import_labels(csv)
        assert out["rows"] == 4 and out["matched"] == 3 and out["unknown"] == 1
        _, fields = point_fields(lib)
    assert fields[ids[0]]["genre_source"] == "tag"  # the file's own tag wins
    assert [fields[t]["genre"] for t in ids[1:3]] == ["sidecar-1", "sidecar-2"]
    assert {fields[t]["genre_source"] for t in ids[1:3]} == {"labels"}
    for t in ids[3:]:  # synthetic files sit in one folder per genre
        assert fields[t]["genre_source"] == "folder"
        assert fields[t]["genre"] == Path(paths[t]).parent.name
