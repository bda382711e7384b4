"""Errors -> exit codes: the table covers every songscape error, a missing extra is one line
naming it (never a traceback), and an error that is not songscape's keeps its traceback."""

from __future__ import annotations

import inspect
import subprocess
import sys

import pytest

from songscape import errors
from songscape.cli import library_cmds, main
from songscape.cli.errors import EXIT_CODES, exit_code, exit_status

#: The classes that mean "fix the command line" (2); every other error exits 1.
USAGE = {errors.UsageError, errors.UnknownModelError, errors.QueryError}
#: Raised only while answering an HTTP request: no command meets them.
HTTP_ONLY = {errors.RangeNotSatisfiableError}


def songscape_errors() -> list[type[Exception]]:
    return [
        cls
        for _, cls in inspect.getmembers(errors, inspect.isclass)
        if issubclass(cls, Exception) and cls.__module__ == errors.__name__
    ]


def test_every_songscape_error_has_an_exit_code() -> None:
    classes = songscape_errors()
    assert errors.DecodeError in classes and errors.CommandError in classes
    for cls in set(classes) - HTTP_ONLY:
        expected = 2 if cls in USAGE else 1
        assert exit_code(cls.__new__(cls)) == expected, cls.__name__
    assert set(EXIT_CODES) <= set(classes)  # the table lists songscape's own errors only


def test_exit_status_message_and_unknown_errors() -> None:
    assert exit_status(errors.DecodeError("not audio")) == ("not audio", 1)
    # KeyError subclasses print their message without quotes
    assert exit_status(errors.UnknownModelError("unknown model 'x'")) == ("unknown model 'x'", 2)
    assert exit_status(errors.TrackNotFoundError("no track 'ab'")) == ("no track 'ab'", 1)
    assert exit_status(ValueError("a bug")) is None
    assert exit_status(KeyError("a bug")) is None


def test_a_bug_keeps_its_traceback(monkeypatch, tmp_path) -> None:
    def broken(args):
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(library_cmds, "cmd_stats", broken)
    with pytest.raises(ZeroDivisionError):
        main(["--library", str(tmp_path), "stats"])


def test_an_error_raised_anywhere_is_mapped(monkeypatch, tmp_path, capsys) -> None:
    def locked(args):
        raise errors.LibraryError("the library is locked by another writer")

    monkeypatch.setattr(library_cmds, "cmd_stats", locked)
    assert main(["--library", str(tmp_path), "stats"]) == 1
    assert capsys.readouterr().err == (
        "songscape: error: the library is locked by another writer\n"
    )


def one_error_line(capsys) -> str:
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert len(lines) == 1 and "Traceback" not in captured.err, captured.err
    assert captured.out == ""
    return lines[0]


@pytest.mark.parametrize("module", ["fastapi", "uvicorn", "umap"])
def test_serve_without_the_server_extra(module, monkeypatch, tmp_path, capsys) -> None:
    monkeypatch.setitem(sys.modules, module, None)  # `import module` now raises ImportError
    argv = ["--library", str(tmp_path / "lib"), "serve", "--no-browser", "--port", "0"]
    assert main(argv) == 1
    assert one_error_line(capsys) == (
        f"songscape: error: songscape serve needs the 'server' extra ({module} is not "
        "installed): pip install 'songscape[server]'"
    )


def test_recommend_without_the_recommend_extra(monkeypatch, tmp_path, capsys) -> None:
    monkeypatch.setitem(sys.modules, "implicit", None)
    assert main(["--library", str(tmp_path / "lib"), "recommend", "--user", "u"]) == 1
    line = one_error_line(capsys)
    assert "songscape recommend needs the 'recommend' extra" in line
    assert line.endswith("pip install 'songscape[recommend]'")
    # a usage error is still reported as one
    assert main(["--library", str(tmp_path / "lib"), "recommend"]) == 2
    assert "give exactly one of" in one_error_line(capsys)


def test_evaluate_recs_without_the_recommend_extra(monkeypatch, tmp_path, capsys) -> None:
    events = tmp_path / "events.csv"
    events.write_text("user,item\nu,a\n")
    monkeypatch.setitem(sys.modules, "gensim", None)
    assert main(["evaluate-recs", "--events", str(events), "--format", "csv"]) == 1
    assert one_error_line(capsys) == (
        "songscape: error: songscape evaluate-recs needs the 'recommend' extra (gensim is not "
        "installed): pip install 'songscape[recommend]'"
    )


def test_redis_without_the_scale_extra(monkeypatch, tmp_path, capsys) -> None:
    monkeypatch.setitem(sys.modules, "redis", None)
    argv = ["--library", str(tmp_path / "lib"), "recommend", "--precompute", "--redis",
            "redis://127.0.0.1:1/0"]  # fmt: skip
    assert main(argv) == 1
    line = one_error_line(capsys)
    assert "--redis needs the 'scale' extra (redis is not installed)" in line
    assert line.endswith("pip install 'songscape[scale]'")


@pytest.mark.parametrize("command", ["train", "evaluate"])
def test_train_and_evaluate_without_the_train_extra(command, monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(sys.modules, "sklearn", None)
    flags = ["--arch", "crnn", "--name", "x"] if command == "train" else ["--model", "mfcc"]
    assert main([command, *flags, "--labels", str(tmp_path / "labels.csv")]) == 1
    assert one_error_line(capsys) == (
        f"songscape: error: songscape {command} needs the 'train' extra (sklearn is not "
        "installed): pip install 'songscape[train]'"
    )


def test_serve_without_uvicorn_as_a_process(tmp_path) -> None:
    """The real entry point: exit code and stderr of a process whose uvicorn is missing."""
    code = (
        "import sys; sys.modules['uvicorn'] = None; from songscape.cli import main; "
        f"sys.exit(main(['--library', {str(tmp_path / 'lib')!r}, 'serve', '--no-browser']))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)  # fmt: skip
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        "songscape: error: songscape serve needs the 'server' extra (uvicorn is not "
        "installed): pip install 'songscape[server]'"
    ]
    assert done.stdout == ""
