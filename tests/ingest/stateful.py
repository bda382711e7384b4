"""A stateful property-based test of ingest over real file operations (issue 16).

:class:`IngestMachine` (a Hypothesis ``RuleBasedStateMachine``) applies random sequences
of file operations to a music folder — real tracks from ``../shared/data``, every kind of
broken file, copies, moves, swaps, tag edits, re-encodes, deletes, restores, symbolic
links — interleaved with ``songscape ingest`` runs (the CLI's ``main`` in this process),
some of them in a forked child killed with SIGKILL after a random delay. After every run
it checks the invariants:

- the command exits 0 (a killed one: SIGKILL) and raises nothing;
- ``songscape check`` finds no error;
- after a completed run: every distinct readable audio content in the folder has exactly
  one healthy track, at one of the paths holding it, and the other paths are recorded as
  its duplicates; every broken file (including dangling and looping links) is a failed
  track at its own path with a reason; tracks whose content left the folder are
  ``missing``; no track, failure or duplicate is recorded at a path that does not exist.

Used by ``tests/ingest/test_stateful_ingest.py`` (a short profile in ``make test``) and
``bench/stateful.py`` (the long profile). Network stages are left out (``--no-models``):
the invariants concern files and the catalog, and the models would make each step cost
seconds; the model stages' bookkeeping is the same code path (stage runs, one
transaction per track).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import shutil
import signal
import stat
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np
import soundfile as sf
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from songscape.audio.info import AUDIO_EXTENSIONS
from songscape.catalog.store import LibraryStore
from songscape.cli import main
from songscape.library.check import check_library

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared" / "data"
#: Short real recordings (4-10 s): decoding and analysis take well under a second each.
SOURCES = [SHARED / "mir1k_half" / "audio" / f"Ani_1_0{i}.ogg" for i in (3, 4, 5)]

#: Kinds of broken file; "truncated" may still decode (its first seconds are intact).
BROKEN_KINDS = ("empty", "random", "text", "truncated", "lying_header", "silence", "blip",
                "unreadable", "fifo")  # fmt: skip
SUBDIRS = ("", "a", "a/b", "c d")

#: What the machine did, over every run in this process (for the reports of reach).
REACH: Counter = Counter()


def blake(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=32).hexdigest()


def wav_bytes(y: np.ndarray, sr: int, fmt: str = "WAV") -> bytes:
    buf = io.BytesIO()
    sf.write(buf, y, sr, format=fmt)
    return buf.getvalue()


def broken_bytes(kind: str, seed: int) -> bytes | None:
    """The bytes of a broken file of ``kind`` (None for kinds that are not plain bytes)."""
    rng = np.random.default_rng(seed)
    sr = 22050
    if kind == "empty":
        return b""
    if kind == "random":
        return rng.integers(0, 256, 4000 + seed % 997, dtype=np.uint8).tobytes()
    if kind == "text":
        return f"liner notes #{seed}, not audio\n".encode() * 40
    if kind == "truncated":
        data = SOURCES[seed % len(SOURCES)].read_bytes()
        return data[: len(data) // 3]
    if kind == "lying_header":  # a WAV header promising far more than the file holds
        head = wav_bytes(rng.standard_normal(sr).astype(np.float32) * 0.1, sr)[:44]
        return head[:4] + (10**9).to_bytes(4, "little") + head[8:] + bytes(17 + seed % 50)
    if kind == "silence":
        return wav_bytes(np.zeros(2 * sr + seed % 100, dtype=np.float32), sr)
    if kind == "blip":  # 50 ms
        t = np.arange(int(0.05 * sr)) / sr
        return wav_bytes((0.3 * np.sin(2 * np.pi * (300 + seed) * t)).astype(np.float32), sr)
    if kind == "unreadable":  # mode 000: unreadable unless root (then it is random bytes)
        return b"\x00\x01" * (100 + seed % 100)
    return None


class IngestMachine(RuleBasedStateMachine):
    """Random file operations on a music folder, interleaved with (killed) ingests."""

    def __init__(self) -> None:
        super().__init__()
        self.tmp = Path(tempfile.mkdtemp(prefix="songscape-stateful-")).resolve()
        self.music = self.tmp / "music"
        self.music.mkdir()
        self.library = self.tmp / "lib"
        self.good: set[str] = set()  # content hashes written as decodable audio
        self.maybe: set[str] = set()  # truncated audio: may or may not decode
        self.trash: list[tuple[str, bytes]] = []  # (relative path, bytes) of deleted files
        self.n = 0
        self.ingested = False
        REACH["sequences"] += 1

    def teardown(self) -> None:
        shutil.rmtree(self.tmp, ignore_errors=True)

    # -- helpers ---------------------------------------------------------------------------
    def new_path(self, data: st.DataObject, ext: str) -> Path:
        self.n += 1
        sub = data.draw(st.sampled_from(SUBDIRS), label="subdir")
        folder = self.music / sub
        folder.mkdir(parents=True, exist_ok=True)
        return folder / f"f{self.n:03d}{ext}"

    def entries(self, regular_only: bool = False) -> list[Path]:
        """Every audio-named entry of the folder (files, links, FIFOs), sorted."""
        out = []
        for dirpath, _dirs, names in os.walk(self.music):
            for name in names:
                p = Path(dirpath) / name
                if regular_only and (p.is_symlink() or not p.is_file()):
                    continue
                out.append(p)
        return sorted(out)

    def pick(self, data: st.DataObject, regular_only: bool = True) -> Path | None:
        files = self.entries(regular_only)
        return data.draw(st.sampled_from(files), label="file") if files else None

    def write(self, path: Path, payload: bytes, good: bool | None) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(payload)
        if good is True:
            self.good.add(blake(payload))
        elif good is None:
            self.maybe.add(blake(payload))
        REACH["files_written"] += 1

    # -- file operations -------------------------------------------------------------------
    @initialize(data=st.data(), sources=st.lists(st.integers(0, len(SOURCES) - 1), min_size=1,
                                                 max_size=3))
    def start_with_real_tracks(self, data, sources):
        for source in sources:
            self.write(self.new_path(data, ".ogg"), SOURCES[source].read_bytes(), True)

    @rule(data=st.data(), source=st.integers(0, len(SOURCES) - 1))
    def add_real_track(self, data, source):
        self.write(self.new_path(data, ".ogg"), SOURCES[source].read_bytes(), True)

    @rule(data=st.data(), kind=st.sampled_from(BROKEN_KINDS), ext=st.sampled_from(
        (".mp3", ".wav", ".ogg", ".flac", ".m4a")))
    def add_broken_file(self, data, kind, ext):
        self.n += 1
        path = self.new_path(data, ext)
        if kind == "fifo":
            os.mkfifo(path)
        else:
            payload = broken_bytes(kind, self.n)
            assert payload is not None
            self.write(path, payload, None if kind == "truncated" else False)
            if kind == "unreadable":
                path.chmod(0)
        REACH[f"broken:{kind}"] += 1

    @rule(data=st.data(), kind=st.sampled_from(("to_file", "dangling", "loop")))
    def add_symlink(self, data, kind):
        link = self.new_path(data, ".mp3")
        if kind == "to_file":
            target = self.pick(data)
            if target is None:
                return
            link.symlink_to(target)
        elif kind == "dangling":
            link.symlink_to(self.music / "nowhere" / "gone.ogg")
        else:
            other = link.with_name(link.stem + "-loop.flac")
            link.symlink_to(other)
            other.symlink_to(link)
        REACH[f"symlink:{kind}"] += 1

    @rule(data=st.data())
    def add_directory_named_like_audio(self, data):
        folder = self.new_path(data, ".mp3")
        folder.mkdir()
        REACH["dir_named_mp3"] += 1

    @rule(data=st.data())
    def copy_file(self, data):
        src = self.pick(data)
        if src is None or not os.access(src, os.R_OK):
            return
        dest = self.new_path(data, src.suffix)
        shutil.copyfile(src, dest)
        REACH["copy"] += 1

    @rule(data=st.data())
    def move_file(self, data):
        src = self.pick(data, regular_only=False)
        if src is None:
            return
        dest = self.new_path(data, src.suffix)
        os.rename(src, dest)
        REACH["move"] += 1

    @rule(data=st.data())
    def swap_two_files(self, data):
        files = self.entries(regular_only=True)
        if len(files) < 2:
            return
        a, b = data.draw(st.lists(st.sampled_from(files), min_size=2, max_size=2, unique=True))
        tmp = a.with_name(".swap")
        os.rename(a, tmp)
        os.rename(b, a)
        os.rename(tmp, b)
        REACH["swap"] += 1

    @rule(data=st.data(), title=st.text(min_size=1, max_size=20))
    def edit_tags(self, data, title):
        from mutagen.oggvorbis import OggVorbis

        # by content, not name: a swap can put a WAV into x.ogg
        goods = [p for p in self.entries(True) if p.read_bytes()[:4] == b"OggS"
                 and blake(p.read_bytes()) in self.good]  # fmt: skip
        if not goods:
            return
        path = data.draw(st.sampled_from(goods))
        audio = OggVorbis(path)
        audio["title"] = [title.replace("\x00", "")]
        audio.save()
        self.good.add(blake(path.read_bytes()))
        REACH["edit_tags"] += 1

    @rule(data=st.data(), fmt=st.sampled_from(("WAV", "FLAC")))
    def reencode(self, data, fmt):
        goods = [p for p in self.entries(True) if blake(p.read_bytes()) in self.good]
        if not goods:
            return
        path = data.draw(st.sampled_from(goods))
        y, sr = sf.read(path, dtype="float32")
        path.unlink()
        self.write(path.with_suffix("." + fmt.lower()), wav_bytes(y, sr, fmt), True)
        REACH["reencode"] += 1

    @rule(data=st.data())
    def delete_file(self, data):
        path = self.pick(data, regular_only=False)
        if path is None:
            return
        rel = str(path.relative_to(self.music))
        if path.is_file() and not path.is_symlink() and os.access(path, os.R_OK):
            self.trash.append((rel, path.read_bytes()))
        path.unlink()
        REACH["delete"] += 1

    @precondition(lambda self: bool(self.trash))
    @rule(data=st.data())
    def restore_file(self, data):
        rel, payload = data.draw(st.sampled_from(self.trash))
        path = self.music / rel
        if path.exists() or path.is_symlink():
            path = self.new_path(data, path.suffix)
        self.write(path, payload, blake(payload) in self.good or None)
        REACH["restore"] += 1

    # -- ingest runs -----------------------------------------------------------------------
    def argv(self) -> list[str]:
        return ["--library", str(self.library), "ingest", str(self.music), "--workers", "1",
                "--no-models", "--json", "--quiet"]  # fmt: skip

    @rule()
    def ingest(self):
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            code = main(self.argv())
        assert code == 0, out.getvalue()
        REACH["ingests"] += 1
        self.ingested = True
        self.assert_check_passes()
        self.assert_catalog_matches_folder()

    @rule(delay=st.floats(0.0, 2.5))
    def ingest_killed(self, delay):
        """An ingest in a forked child, SIGKILLed after ``delay`` seconds."""
        log = self.tmp / "child.log"
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:  # the child: run the command, never return into the test runner
            code = 99
            try:
                fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
                os.dup2(fd, 1)
                os.dup2(fd, 2)
                code = main(self.argv())
            except BaseException:
                import traceback

                traceback.print_exc()
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        time.sleep(delay)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
        killed = os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
        text = log.read_text(errors="replace") if log.exists() else ""
        assert killed or (os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0), text
        assert "Traceback" not in text, text
        REACH["kills" if killed else "ingests"] += 1
        if self.library.exists():
            self.assert_check_passes()

    # -- invariants ------------------------------------------------------------------------
    def assert_check_passes(self) -> None:
        if not (self.library / "catalog.sqlite").exists():
            return
        with LibraryStore(self.library, create=False) as store:
            report = check_library(store)
        errors = [f.message for f in report.remaining("error")]
        assert not errors, errors
        REACH["checks"] += 1

    def expected(self) -> tuple[dict[str, set[str]], set[str]]:
        """What the folder holds as the scanner sees it: ``{content hash: {paths}}`` of the
        readable regular files (links resolved), and the paths that cannot be read."""
        contents: dict[str, set[str]] = {}
        unreadable: set[str] = set()
        for p in self.entries():
            if p.suffix.lower() not in AUDIO_EXTENSIONS:
                continue
            try:
                real = p.resolve(strict=True)
            except (OSError, RuntimeError):  # dangling or looping link
                unreadable.add(str(p))
                continue
            mode = os.stat(real).st_mode
            if not stat.S_ISREG(mode):
                unreadable.add(str(real))
                continue
            try:
                digest = blake(real.read_bytes())
            except OSError:
                unreadable.add(str(real))
                continue
            contents.setdefault(digest, set()).add(str(real))
        return contents, unreadable

    def assert_catalog_matches_folder(self) -> None:
        contents, unreadable = self.expected()
        with LibraryStore(self.library, create=False) as store:
            conn = store.conn
            rows = conn.execute("SELECT * FROM tracks").fetchall()
            dups = {r["path"]: r["track_id"] for r in conn.execute("SELECT * FROM duplicates")}
        by_hash = {r["content_hash"]: r for r in rows if r["content_hash"]}
        live = {r["path"]: r for r in rows if r["status"] != "missing"}
        present = set().union(*contents.values()) | unreadable if contents else unreadable
        for path, row in live.items():
            assert path in present, f"{row['status']} track {row['id']} at vanished {path}"
        for path in dups:
            assert path in present, f"duplicate recorded at vanished {path}"
        for path in unreadable:
            assert path in live and live[path]["status"] == "failed", f"{path} not failed"
            assert live[path]["error"], f"{path} failed without a reason"
        for digest, paths in contents.items():
            row = by_hash.get(digest)
            if digest in self.good or (row is not None and digest in self.maybe):
                assert row is not None and row["status"] == "ok", f"no healthy track {paths}"
                assert row["path"] in paths, f"track {row['id']} at {row['path']}, not {paths}"
                for other in paths - {row["path"]}:
                    assert dups.get(other) == row["id"], f"{other}: not a duplicate of {row['id']}"
            else:  # broken content: each copy is its own failed track with a reason
                for path in paths:
                    assert path in live, f"broken file {path} not recorded"
                    assert live[path]["status"] == "failed" and live[path]["error"], path
                    assert path not in dups, f"broken file {path} recorded as a duplicate"
        for row in rows:
            if row["status"] == "ok":
                assert row["path"] in contents.get(row["content_hash"], ()), (
                    f"healthy track {row['id']} at {row['path']}: its content is not there"
                )
            if row["status"] == "missing":
                assert row["content_hash"] not in contents, f"missing {row['id']} is present"
        REACH["catalog_checks"] += 1

    @invariant()
    def count_steps(self):
        REACH["steps"] += 1
