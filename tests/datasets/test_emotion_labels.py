"""Emotion label files: what is accepted, and clear messages for what is not."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from songscape.datasets.emotion_labels import read_emotion_labels
from songscape.errors import DatasetError
from tests.helpers import gtzan_clips

DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"


@pytest.fixture
def clips(tmp_path: Path) -> list[str]:
    names = []
    for i, clip in enumerate(gtzan_clips(4)):
        shutil.copy2(clip, tmp_path / f"c{i}.ogg")
        names.append(f"c{i}.ogg")
    return names


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "labels.csv"
    path.write_text(text)
    return path


def test_the_shared_emotion_sets_read_with_their_groups():
    emotify = read_emotion_labels(DATA / "emotify_half" / "labels.csv")
    assert len(emotify) == 200 and emotify.binary == set()
    assert emotify.group_source == "number-blocks-10" and len(np.unique(emotify.groups)) == 20
    assert set(emotify.targets) == {"amazement", "solemnity", "tenderness", "nostalgia",
                                    "calmness", "power", "joyful_activation", "tension",
                                    "sadness"}  # fmt: skip
    four = read_emotion_labels(DATA / "emotion4q_third" / "labels.csv")
    assert four.binary == {"valence", "arousal"} and four.group_source == "column:artist"
    assert np.nansum(four.targets["valence"]) == 120
    assert set(four.strata) == {"Q1", "Q2", "Q3", "Q4"}


def test_polarity_quadrant_and_numeric_values(tmp_path, clips):
    a, b, c, d = clips
    labels = read_emotion_labels(write(tmp_path, f"path,polarity,arousal,lyrics\n{a},positive,,hi\n"
                                       f"{b},negative,,\n{c},,,\n{d},,,\n"))  # fmt: skip
    assert labels.binary == {"valence"} and labels.targets["valence"][:2].tolist() == [1.0, 0.0]
    assert labels.lyrics[:2] == ["hi", None]
    q = read_emotion_labels(write(tmp_path, f"path,quadrant\n{a},Q2\n{b},calm\n{c},sad\n{d},q1\n"))
    assert q.targets["valence"].tolist() == [0, 1, 0, 1] and q.targets["arousal"].tolist() == [
        1, 0, 0, 1]  # fmt: skip
    n = read_emotion_labels(write(tmp_path, f"path,valence,calmness\n{a},-0.5,0.2\n{b},0.9,1\n"
                                  f"{c},0,0\n{d},1,0.5\n"))  # fmt: skip
    assert n.binary == set() and n.targets["valence"].tolist() == [-0.5, 0.9, 0.0, 1.0]


@pytest.mark.parametrize(
    ("body", "message"),
    [("path,valence,mood_score\n{a},0.5,3\n", "unknown column.*mood_score"),
     ("path,valence\n{a},1.7\n", "row 2: valence '1.7' is outside -1...1"),
     ("path,sadness\n{a},-0.1\n", "sadness '-0.1' is outside 0...1"),
     ("path,arousal\n{a},medium\n", "arousal 'medium' is not a number"),
     ("path,quadrant\n{a},Q5\n", "quadrant 'Q5' is not one of"),
     ("path,valence\n{a},positive\n{b},0.3\n", "mixes class words and numbers"),
     ("path,genre\n{a},rock\n", "no emotion column"),
     ("file,valence\n{a},0.1\n", "no 'path' column"),
     ("path,valence\nmissing.ogg,0.1\n", "not found")],
)  # fmt: skip
def test_bad_label_files_say_what_is_wrong(tmp_path, clips, body, message):
    with pytest.raises(DatasetError, match=message):
        read_emotion_labels(write(tmp_path, body.format(a=clips[0], b=clips[1])))
