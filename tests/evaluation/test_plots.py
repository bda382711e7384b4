"""Evaluation figures."""

from __future__ import annotations

from pathlib import Path

import pytest

from songscape.evaluation.plots import plot_confusion_matrix


def test_plot_confusion_matrix_writes_png(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    path = plot_confusion_matrix([[3, 1], [0, 4]], ["a", "b"], tmp_path / "sub" / "cm.png", "t")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(ValueError, match="does not match"):
        plot_confusion_matrix([[1, 2]], ["a", "b"], tmp_path / "x.png")
