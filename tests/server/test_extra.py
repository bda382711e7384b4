"""Without the ``server`` extra: ``songscape.server`` imports, and ``create_app`` says which
extra to install instead of an ImportError traceback."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from songscape.errors import MissingExtraError


def test_create_app_names_the_missing_extra(monkeypatch, tmp_path):
    import songscape.server

    monkeypatch.setitem(sys.modules, "fastapi", None)  # `import fastapi` now fails
    with pytest.raises(MissingExtraError) as caught:
        songscape.server.create_app(tmp_path)
    assert caught.value.extra == "server" and caught.value.module == "fastapi"
    assert "pip install 'songscape[server]'" in str(caught.value)


def test_the_package_imports_without_fastapi():
    code = textwrap.dedent(
        """
        import sys
        for name in ("fastapi", "starlette", "uvicorn"):
            sys.modules[name] = None
        import songscape.server
        from songscape.errors import MissingExtraError
        try:
            songscape.server.create_app("/nonexistent")
        except MissingExtraError as err:
            print(err)
        """
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == (
        "the web app needs the 'server' extra (fastapi is not installed): "
        "pip install 'songscape[server]'"
    )
