"""A full disk and a read-only library: a clear error naming the library, no traceback,
nothing corrupted, and the next run (after space is freed) completes (issue 16).

The library lives on a small tmpfs mounted for the test (root only; else a loop-mounted
image); without either the disk-full test is skipped with the reason. The read-only
library uses a read-only bind mount (root) or a folder without write permission.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from songscape.cli import main
from songscape.library.library import Library
from tests.helpers import shared_data


def _run(*cmd: str) -> bool:
    return subprocess.run(cmd, capture_output=True).returncode == 0


@contextlib.contextmanager
def small_filesystem(where: Path, size_kb: int) -> Iterator[Path]:
    """A file system of ``size_kb`` KiB mounted at ``where``: tmpfs, else a loop image."""
    where.mkdir(parents=True, exist_ok=True)
    mounted = False
    if os.geteuid() == 0:
        mounted = _run("mount", "-t", "tmpfs", "-o", f"size={size_kb}k", "tmpfs", str(where))
        if not mounted:  # e.g. no CAP_SYS_ADMIN for tmpfs: try an ext2 image on a loop device
            image = where.parent / f"{where.name}.img"
            with open(image, "wb") as f:
                f.truncate(size_kb * 1024)
            mounted = _run("mkfs.ext2", "-q", "-F", str(image)) and _run(
                "mount", "-o", "loop", str(image), str(where)
            )
    if not mounted:
        pytest.skip("cannot mount a small file system here (needs root: tmpfs or a loop device)")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], capture_output=True)


def _music(tmp_path: Path, n: int) -> Path:
    folder = tmp_path / "music"
    folder.mkdir()
    for i in range(3, 3 + n):
        shutil.copy(shared_data("mir1k_half", "audio", f"Ani_1_0{i}.ogg"), folder)
    return folder


def _ingest(library: Path, music: Path, capsys) -> tuple[int, str]:
    code = main(["--library", str(library), "ingest", str(music), "--no-models", "--workers", "1",
                 "--quiet", "--json"])  # fmt: skip
    return code, capsys.readouterr().err


def test_disk_full_is_a_clear_error_and_the_next_run_completes(tmp_path, capsys):
    music = _music(tmp_path, 4)
    with small_filesystem(tmp_path / f"fs-{uuid.uuid4().hex[:6]}", 2048) as fs:
        library = fs / "lib"
        # fill the disk, leaving room for the empty catalog and little more
        code, _ = _ingest(library, music / "Ani_1_03.ogg", capsys)
        assert code == 0
        filler = fs / "filler"
        with open(filler, "wb", buffering=0) as f, contextlib.suppress(OSError):
            while True:
                f.write(b"\1" * 4096)
        assert shutil.disk_usage(fs).free < 8 * 1024
        # no room at all: the catalog cannot even be opened
        code, err = _ingest(library, music, capsys)
        assert code == 1 and "no space left" in err and "Traceback" not in err, err
        # room to open the catalog and save a little: the run stops on the way
        os.truncate(filler, filler.stat().st_size - 96 * 1024)
        code, err = _ingest(library, music, capsys)
        assert code == 1, err
        assert "no space left" in err and str(library) in err and "Traceback" not in err
        with Library(library) as lib:
            assert lib.check().ok
        filler.unlink()
        code, err = _ingest(library, music, capsys)
        assert code == 0, err
        with Library(library) as lib:
            assert lib.check().ok
            assert sorted(t["status"] for t in lib.tracks()) == ["ok"] * 4


def test_a_read_only_library_can_be_read_but_not_changed(tmp_path, capsys):
    music = _music(tmp_path, 1)
    library = tmp_path / "lib"
    assert _ingest(library, music, capsys)[0] == 0
    if os.geteuid() == 0:
        view = tmp_path / "ro-view"
        view.mkdir()
        if not (_run("mount", "--bind", str(library), str(view))
                and _run("mount", "-o", "remount,bind,ro", str(view))):  # fmt: skip
            pytest.skip("cannot make a read-only bind mount here")
        cleanup = ["umount", "-l", str(view)]
    else:
        view = library
        library.chmod(0o555)
        cleanup = ["chmod", "755", str(library)]
    try:
        assert main(["--library", str(view), "tracks", "--json"]) == 0
        assert '"status": "ok"' in capsys.readouterr().out
        code, err = _ingest(view, music, capsys)
        assert code == 1 and "is read-only" in err and "Traceback" not in err
        assert main(["--library", str(view), "check"]) == 0
        capsys.readouterr()
        assert main(["--library", str(view), "check", "--repair"]) == 1
        assert "is read-only" in capsys.readouterr().err
    finally:
        subprocess.run(cleanup, capture_output=True)
