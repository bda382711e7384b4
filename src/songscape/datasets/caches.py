"""Caches of training inputs: decoded audio (:class:`AudioCache`) and model features
(:class:`FeatureCache`), keyed by :func:`file_key`.

:class:`AudioCache` decodes each file once (:func:`~songscape.audio.decode.load_audio`,
mono, at the encoder's rate) into one append-only float16 memory-mapped file plus a JSON
index (offset, length per key); the key hashes the resolved path, mtime, size and sample
rate, so an edited file is decoded again. Raw waveform, not a spectrogram, is cached:
the front-ends are part of the models (the harmonic filterbank is learnable, sample-level
models take samples), waveform augmentations (pitch shift, time stretch) need audio, and
the STFT of a 4 s chunk is cheap next to the network.

An unreadable cache index is not an error: it is logged and the cache starts afresh
(the files are decoded, or the features computed, again).

Crashes and concurrent runs: the index and feature files are replaced atomically (a
temporary ``<name>.<pid>.tmp…`` file, then a rename); a process killed mid-write leaves
its temporary file behind, and every later cache of the same file deletes those of
processes that are gone (:func:`remove_stale_temp_files`). Two processes filling one
:class:`AudioCache` take turns (an ``flock`` on ``audio-<sr>.lock``), each reading the
other's index entries before it appends, so no entry points at another's samples and
none is lost.
"""

from __future__ import annotations

import fcntl
import glob
import hashlib
import json
import logging
import os
import threading
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from songscape.audio import decode
from songscape.errors import AudioError, DatasetError

__all__ = ["AudioCache", "FeatureCache", "file_key", "remove_stale_temp_files"]

log = logging.getLogger(__name__)


def file_key(path: str | os.PathLike[str], sample_rate: int) -> str:
    """A hash of the resolved path, mtime, size and sample rate (changes when the file does)."""
    p = Path(path).resolve()
    st = p.stat()
    text = f"{p}|{st.st_mtime_ns}|{st.st_size}|{int(sample_rate)}"
    return hashlib.sha1(text.encode()).hexdigest()[:20]


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        return True
    return True


def remove_stale_temp_files(path: Path) -> list[Path]:
    """Delete the temporary files ``<name>.<pid>.tmp…`` of earlier writes of ``path``
    whose process is gone (a SIGKILL leaves one behind); returns what was removed.

    A temporary file of a running process (another write in progress) is kept, and so is
    one that cannot be deleted (a read-only cache: harmless, it is never read).
    """
    removed = []
    for tmp in path.parent.glob(glob.escape(path.name) + ".*.tmp*"):
        pid = tmp.name[len(path.name) + 1 :].split(".", 1)[0]
        if not pid.isdigit() or int(pid) == os.getpid() or _process_alive(int(pid)):
            continue
        try:
            tmp.unlink()
        except FileNotFoundError:
            continue
        except OSError as err:
            log.debug("cannot delete %s: %s", tmp, err)
            continue
        removed.append(tmp)
    return removed


def _write_json_atomic(path: Path, value: Any) -> None:
    remove_stale_temp_files(path)
    tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(value))
    os.replace(tmp, path)


class AudioCache:
    """Decoded mono audio at one sample rate: ``audio-<sr>.f16`` + ``index-<sr>.json``.

    The data file is raw little-endian float16, appended to; the index maps a
    :func:`file_key` to ``{"offset", "length", "path"}`` in samples. Reads are
    memory-mapped views, so epochs never decode again and memory stays small.
    """

    DTYPE = np.dtype("<f2")

    def __init__(self, root: str | os.PathLike[str], sample_rate: int):
        self.root = Path(root).expanduser()
        self.sample_rate = int(sample_rate)
        self.data_path = self.root / f"audio-{self.sample_rate}.f16"
        self.index_path = self.root / f"index-{self.sample_rate}.json"
        self.lock_path = self.root / f"audio-{self.sample_rate}.lock"
        self._lock = threading.Lock()
        self._map: np.memmap | None = None
        self.index: dict[str, dict] = self._read_index()
        if self.root.is_dir():
            remove_stale_temp_files(self.index_path)  # of a run killed mid-write
        self.decoded = 0  # files decoded by this instance (for tests and reports)

    def _read_index(self) -> dict[str, dict]:
        if not self.index_path.is_file():
            return {}
        try:
            index = json.loads(self.index_path.read_text())
            if not isinstance(index, dict):
                raise ValueError("not a JSON object")
            return index
        except (OSError, ValueError) as err:
            # Losing the index only costs decoding the files again; new audio is
            # appended after the orphaned bytes, so nothing cached is misread.
            log.warning("audio cache index %s unreadable (%s): starting afresh",
                        self.index_path, err)  # fmt: skip
            return {}

    def _valid(self, entry: dict) -> bool:
        size = self.data_path.stat().st_size if self.data_path.is_file() else 0
        return (entry["offset"] + entry["length"]) * self.DTYPE.itemsize <= size

    def ensure(
        self,
        paths: Sequence[str | os.PathLike[str]],
        progress: Any = None,
        max_duration_s: float | None = 1800.0,
    ) -> list[str]:
        """Decode the files not cached yet; returns the key of every path (in order).

        Raises
        ------
        DatasetError
            A file cannot be decoded (the message names it).
        """
        keys = [file_key(p, self.sample_rate) for p in paths]
        todo = self._missing(keys, paths)
        if not todo:
            if progress is not None:
                progress.phase("decode", 0)
            return keys
        self.root.mkdir(parents=True, exist_ok=True)
        with self._lock, open(self.lock_path, "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # another process may be appending: wait
            # What another process cached meanwhile is kept (and not decoded again).
            self.index = {**self._read_index(), **self.index}
            todo = self._missing(keys, paths)
            if progress is not None:
                progress.phase("decode", len(todo))
            self._map = None
            try:
                self._append(todo, progress, max_duration_s)
            finally:  # what was decoded before an error is kept
                _write_json_atomic(self.index_path, self.index)
        return keys

    def _append(self, todo: list[tuple[str, Any]], progress: Any,
                max_duration_s: float | None) -> None:  # fmt: skip
        """Decode ``todo`` and append it to the data file (call with the lock held)."""
        with open(self.data_path, "ab") as fh:
            offset = fh.tell() // self.DTYPE.itemsize
            for key, path in todo:
                try:
                    y, _ = decode.load_audio(
                        path, sr=self.sample_rate, mono=True, max_duration_s=max_duration_s
                    )
                except AudioError as err:
                    raise DatasetError(f"{path}: {err}") from err
                data = np.ascontiguousarray(y, dtype=self.DTYPE)
                fh.write(data.tobytes())
                fh.flush()  # the bytes are in the file before the index names them
                self.index[key] = {"offset": int(offset), "length": int(len(data)),
                                   "path": str(path)}  # fmt: skip
                offset += len(data)
                self.decoded += 1
                if progress is not None:
                    progress.advance(1)

    def _missing(self, keys: list[str], paths: Sequence) -> list[tuple[str, Any]]:
        return [(k, p) for k, p in zip(keys, paths, strict=True)
                if k not in self.index or not self._valid(self.index[k])]  # fmt: skip

    def get(self, key: str) -> np.ndarray:
        """The cached samples (a read-only float16 memmap view)."""
        if self._map is None:
            self._map = np.memmap(self.data_path, dtype=self.DTYPE, mode="r")
        entry = self.index[key]
        return self._map[entry["offset"] : entry["offset"] + entry["length"]]


class FeatureCache:
    """Per-file arrays computed by a model (e.g. musicnn per-patch embeddings).

    One ``.npz`` per ``name`` (model name + version), keyed by :func:`file_key`; small
    sets only (everything is loaded at once).
    """

    def __init__(self, root: str | os.PathLike[str], name: str):
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
        self.path = Path(root).expanduser() / "features" / f"{safe}.npz"
        self.arrays: dict[str, np.ndarray] = {}
        if self.path.is_file():
            try:
                with np.load(self.path) as data:
                    self.arrays = {k: data[k] for k in data.files}
            except (OSError, ValueError, EOFError, zipfile.BadZipFile) as err:
                # A broken cache only costs computing the features again.
                log.warning("feature cache %s unreadable (%s): starting afresh", self.path, err)
                self.arrays = {}
        if self.path.parent.is_dir():
            remove_stale_temp_files(self.path)  # of a run killed mid-write
        self.computed = 0

    def ensure(
        self,
        keys: Sequence[str],
        compute: Callable[[int], np.ndarray],
        progress: Any = None,
        phase: str = "embed",
    ) -> list[np.ndarray]:
        """The array per key, calling ``compute(i)`` for the missing ones."""
        todo = [i for i, k in enumerate(keys) if k not in self.arrays]
        if progress is not None:
            progress.phase(phase, len(todo))
        for i in todo:
            self.arrays[keys[i]] = np.asarray(compute(i), dtype=np.float32)
            self.computed += 1
            if progress is not None:
                progress.advance(1)
        if todo:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            remove_stale_temp_files(self.path)
            tmp = self.path.with_name(self.path.name + f".{os.getpid()}.tmp.npz")
            np.savez(tmp, **self.arrays)
            os.replace(tmp, self.path)
        return [self.arrays[k] for k in keys]
