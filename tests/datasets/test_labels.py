"""Label sets: reading a labels CSV, and the groups that keep albums on one side of a split."""

from __future__ import annotations

from pathlib import Path

import pytest

from songscape.datasets import DatasetError, assign_groups, gtzan_groups, read_labels
from tests.helpers import shared_data


def gtzan_csv() -> Path:
    return shared_data("gtzan_subset100", "labels.csv")


def test_gtzan_labels_drop_excluded_rows_and_use_blocks() -> None:
    data = read_labels(gtzan_csv(), label_column="genre")
    assert len(data) == 93 and data.skipped["excluded"] == 7
    assert len(data.classes) == 10 and data.group_source == "gtzan-blocks"
    assert all(p.is_absolute() and p.is_file() for p in data.paths)


def test_labels_csv_errors_are_clear(tmp_path: Path) -> None:
    audio = tmp_path / "a.ogg"
    audio.write_bytes(b"x")
    bad = tmp_path / "bad.csv"
    bad.write_text("file,genre\na.ogg,rock\n")
    with pytest.raises(DatasetError, match="'path' column"):
        read_labels(bad)
    bad.write_text("path,genre\na.ogg,rock\nb.ogg,jazz\n")
    with pytest.raises(DatasetError, match="missing audio"):
        read_labels(bad)
    with pytest.raises(DatasetError, match="no column 'mood'"):
        read_labels(bad, label_column="mood", check_files=False)
    bad.write_text("path,genre\na.ogg,rock\n")
    with pytest.raises(DatasetError, match="at least 2 classes"):
        read_labels(bad)
    with pytest.raises(DatasetError, match="no such labels file"):
        read_labels(tmp_path / "nope.csv")


def test_multilabel_csv_semicolons_and_one_hot(tmp_path: Path) -> None:
    for name in ("a.ogg", "b.ogg"):
        (tmp_path / name).write_bytes(b"x")
    csv = tmp_path / "tags.csv"
    csv.write_text("path,tags,artist\na.ogg,rock;loud,A\nb.ogg,calm,B\n")
    data = read_labels(csv, task="tags")
    assert data.multilabel and data.classes == ("calm", "loud", "rock")
    assert data.multi_hot().tolist() == [[0, 1, 1], [1, 0, 0]]
    assert data.group_source == "column:artist"
    csv.write_text("path,rock,calm,split\na.ogg,1,0,train\nb.ogg,0,1,train\n")
    data = read_labels(csv, task="tags")
    assert data.classes == ("calm", "rock") and data.label_column == "one-hot"


def test_groups_come_from_the_column_else_gtzan_blocks_else_the_file() -> None:
    gtzan = [Path("/m/blues.00001.ogg"), Path("/m/blues.00007.ogg")]
    other = [Path("/m/a.ogg"), Path("/m/b.ogg")]
    groups, source = assign_groups(other, ["x", "y"], "album")
    assert groups.tolist() == ["x", "y"] and source == "column:album"
    groups, source = assign_groups(gtzan, ["", ""], "album")
    assert groups.tolist() == gtzan_groups(gtzan).tolist() == ["blues:0", "blues:1"]
    assert source == "gtzan-blocks"
    groups, source = assign_groups(other, ["x", ""], "album")
    assert groups.tolist() == ["x", "/m/b.ogg"] and source == "column:album+file"
    groups, source = assign_groups(other, ["", ""], None)
    assert groups.tolist() == ["/m/a.ogg", "/m/b.ogg"] and source == "file"
    with pytest.raises(ValueError, match="not a GTZAN clip name"):
        gtzan_groups(other)
