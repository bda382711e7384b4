import sys

import pytest

from songscape.errors import MissingExtraError
from songscape.extras import EXTRAS, is_installed, require, require_installed


def test_is_installed_finds_without_importing(monkeypatch):
    monkeypatch.delitem(sys.modules, "plotly", raising=False)
    assert is_installed("plotly") and "plotly" not in sys.modules
    assert not is_installed("no_such_module_songscape")
    monkeypatch.setitem(sys.modules, "plotly", None)  # blocked: counts as missing
    assert not is_installed("plotly")


def test_require_installed_names_the_extra(monkeypatch):
    require_installed("server", "the web app")
    monkeypatch.setitem(sys.modules, "umap", None)
    with pytest.raises(MissingExtraError) as err:
        require_installed("server", "songscape serve")
    assert err.value.extra == "server" and err.value.module == "umap"
    assert str(err.value) == ("songscape serve needs the 'server' extra (umap is not installed): "
                              "pip install 'songscape[server]'")


def test_require_imports_or_raises(monkeypatch):
    assert require("redis", "scale", "precompute").__name__ == "redis"
    monkeypatch.setitem(sys.modules, "redis", None)
    with pytest.raises(MissingExtraError, match=r"songscape\[scale\]"):
        require("redis", "scale", "precompute")
    with pytest.raises(ValueError, match="not provided"):
        require("redis", "server", "x")
    assert set(EXTRAS) == {"server", "train", "recommend", "scale"}
