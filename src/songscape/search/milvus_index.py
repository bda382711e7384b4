"""The Milvus backend of the vector index: one collection per model and version.

The same contract as the faiss :class:`~songscape.search.index.VectorIndex` — kept in
step with the catalog (the source of truth) by an incremental :meth:`MilvusIndex.sync`
(add, update and delete by checksum), :meth:`~MilvusIndex.check`,
:meth:`~MilvusIndex.rebuild` and :meth:`~MilvusIndex.search` returning ``(track id,
cosine)`` pairs — on `Milvus <https://milvus.io>`_ through ``pymilvus``:

- ``uri`` a file path (default ``<library>/index/milvus.db``): Milvus Lite, in process,
  what the tests use;
- ``uri`` ``http://host:19530``: a Milvus server or cluster, with the same code.

Vectors are L2-normalised and ranked by inner product (``IP``), so scores are cosines as
with faiss. Each row also carries the facts the similar-track filters look at
(:mod:`~songscape.search.milvus_filters`); :meth:`MilvusIndex.search_filtered` hands the
filters to Milvus as a scalar filter expression (pushed down) instead of computing an
allowed set in songscape.

The collection is named ``<prefix>_<model>_<version>`` (non-alphanumerics become ``_``);
its rows' ``checksum`` field covers the vector bytes *and* the filter fields, so a track
whose tags or tempo changed is rewritten too. The index type is ``FLAT`` (exact) unless
configured (``index.milvus_index``: ``IVF_FLAT``, ``HNSW``, ``AUTOINDEX``).
"""

from __future__ import annotations

import logging
import re
import time
from pathlib import Path
from typing import Any

import numpy as np

from songscape.catalog.store import LibraryStore
from songscape.catalog.vectors import read_vectors
from songscape.errors import VectorIndexError
from songscape.extras import require
from songscape.search.index import model_version_and_dim
from songscape.search.milvus_filters import (
    MAX_TAGS,
    MAX_TEXT,
    fields_checksum,
    filter_expression,
    quote,
    track_fields,
)
from songscape.search.similar import Filters
from songscape.vectors import unit_rows

log = logging.getLogger(__name__)

#: Rows written per insert call (bounded request size: 5,000 x 200-d floats ~ 4 MB).
WRITE_BATCH = 5000
#: Rows read per query-iterator page when diffing against the catalog.
READ_BATCH = 10000
#: Search parameters per index type (Milvus defaults otherwise).
SEARCH_PARAMS = {"HNSW": {"ef": 128}, "IVF_FLAT": {"nprobe": 32}}
#: Build parameters per index type.
BUILD_PARAMS = {"HNSW": {"M": 32, "efConstruction": 200}, "IVF_FLAT": {"nlist": 1024}}


def default_uri(store: LibraryStore) -> str:
    """Milvus Lite's database file of a library: ``<library>/index/milvus.db``."""
    return str(Path(store.root) / "index" / "milvus.db")


def collection_name(prefix: str, model: str, version: str) -> str:
    """``<prefix>_<model>_<version>`` with every character Milvus refuses made ``_``."""
    return re.sub(r"[^A-Za-z0-9_]", "_", f"{prefix}_{model}_{version}")[:255]


def connect(uri: str) -> Any:
    """A ``pymilvus.MilvusClient`` for ``uri`` (a Milvus Lite file or a server URL).

    Raises
    ------
    MissingExtraError
        pymilvus (the ``scale`` extra) is not installed.
    VectorIndexError
        The server cannot be reached or the file cannot be opened.
    """
    pymilvus = require("pymilvus", "scale", "the Milvus index backend")
    if "://" not in uri:
        Path(uri).expanduser().parent.mkdir(parents=True, exist_ok=True)
        uri = str(Path(uri).expanduser())
    try:
        return pymilvus.MilvusClient(uri)
    except Exception as err:  # pymilvus raises its own MilvusException and grpc errors
        hint = ""
        if "://" not in uri:
            hint = (" (Milvus Lite serves one process at a time: stop the other songscape "
                    "process using it, or use a Milvus server: `songscape config set "
                    "index.uri http://host:19530`)")  # fmt: skip
        raise VectorIndexError(f"cannot open Milvus at {uri}: {err}{hint}") from err


class MilvusIndex:
    """Nearest-neighbour search over one model's track embeddings in a Milvus collection,
    kept in step with the catalog. Create with :meth:`open`.

    Attributes
    ----------
    pushes_down_filters : bool
        True: :func:`~songscape.search.similar.similar_to_vector` calls
        :meth:`search_filtered` with the parsed filters.
    last_sync : dict
        What the last :meth:`sync` did.
    """

    pushes_down_filters = True
    #: How rows are read from the catalog; the window rows (issue 20,
    #: :mod:`~songscape.search.milvus_windows`) swap it and :meth:`row_fields`.
    read_source = staticmethod(read_vectors)

    def __init__(self, store: LibraryStore, model: str, version: str, dim: int | None,
                 uri: str, index_type: str, prefix: str):  # fmt: skip
        self._store = store
        self._model = model
        self._version = version
        self._dim = dim or 0
        self._uri = uri
        self._index_type = index_type
        self._name = collection_name(prefix, model, version)
        self._client = connect(uri)
        self._catalog_version = -1
        self._n = 0
        self.last_sync: dict[str, Any] = {}

    @classmethod
    def open(
        cls,
        store: LibraryStore,
        model: str,
        *,
        uri: str | None = None,
        index_type: str = "FLAT",
        prefix: str = "songscape",
        version: str | None = None,
    ) -> MilvusIndex:
        """Connect to Milvus, create the model's collection when missing, and sync it.

        Parameters
        ----------
        store : LibraryStore
            The library.
        model : str
            Embedding model name, e.g. ``"musicnn-msd"``.
        uri : str, optional
            Milvus Lite file or server URL; default :func:`default_uri`.
        index_type : str
            ``FLAT`` (exact), ``IVF_FLAT``, ``HNSW`` or ``AUTOINDEX``.
        prefix : str
            Collection-name prefix.
        version : str, optional
            Model version (default: the registry's; required for unregistered models).
        """
        version, dim = model_version_and_dim(model, version)
        self = cls(store, model, version, dim, uri or default_uri(store), index_type, prefix)
        if self._client.has_collection(self._name):
            self._client.load_collection(self._name)  # a reopened collection starts released
        self.sync()
        return self

    # -- properties ----------------------------------------------------------------------
    @property
    def kind(self) -> str:
        return f"milvus:{self._index_type.lower()}"

    @property
    def n(self) -> int:
        return self._n

    @property
    def dim(self) -> int:
        return self._dim

    @property
    def model(self) -> str:
        return self._model

    @property
    def uri(self) -> str:
        return self._uri

    @property
    def collection(self) -> str:
        return self._name

    @property
    def catalog_version(self) -> int:
        return self._catalog_version

    def row_fields(self, ids: list[str]) -> dict[str, dict]:
        """The filter fields of rows ``ids`` (here track ids), by id."""
        return track_fields(self._store, ids)

    # -- the collection ------------------------------------------------------------------
    def _create(self, dim: int) -> None:
        from pymilvus import DataType

        c = self._client
        schema = c.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("id", DataType.VARCHAR, is_primary=True, max_length=64)
        schema.add_field("vec", DataType.FLOAT_VECTOR, dim=dim)
        schema.add_field("checksum", DataType.INT64)
        schema.add_field("tempo", DataType.DOUBLE)
        schema.add_field("duration", DataType.DOUBLE)
        schema.add_field("key", DataType.VARCHAR, max_length=32)
        schema.add_field("artist", DataType.VARCHAR, max_length=MAX_TEXT)
        for name in ("tags", "tag_names"):
            schema.add_field(name, DataType.ARRAY, element_type=DataType.VARCHAR,
                             max_capacity=MAX_TAGS, max_length=MAX_TEXT)  # fmt: skip
        params = c.prepare_index_params()
        params.add_index("vec", index_type=self._index_type, metric_type="IP",
                         params=BUILD_PARAMS.get(self._index_type, {}))  # fmt: skip
        c.create_collection(self._name, schema=schema, index_params=params,
                            consistency_level="Strong")  # fmt: skip
        c.load_collection(self._name)

    def _collection_dim(self) -> int | None:
        if not self._client.has_collection(self._name):
            return None
        info = self._client.describe_collection(self._name)
        for f in info["fields"]:
            if f["name"] == "vec":
                return int(f["params"]["dim"])
        return None

    def _stored_sums(self) -> dict[str, int]:
        """``{track id: checksum}`` of every row in the collection."""
        out: dict[str, int] = {}
        it = self._client.query_iterator(self._name, batch_size=READ_BATCH, filter="",
                                         output_fields=["checksum"])  # fmt: skip
        try:
            while True:
                page = it.next()
                if not page:
                    break
                for row in page:
                    out[row["id"]] = int(row["checksum"])
        finally:
            it.close()
        return out

    def _write(self, ids: list[str]) -> None:
        """Read ``ids``' vectors and fields from the catalog and upsert them in batches."""
        for start in range(0, len(ids), WRITE_BATCH):
            batch = ids[start:start + WRITE_BATCH]
            snap = self.read_source(self._store, self._model, self._version, self._dim,
                                set(batch), vectors=True)  # fmt: skip
            fields = self.row_fields(snap.ids)
            assert snap.vectors is not None
            rows = []
            for tid, vsum, vec in zip(snap.ids, snap.sums.tolist(), snap.vectors, strict=True):
                f = fields.get(tid)
                if f is None:  # became unhealthy between the reads: the next sync removes it
                    continue
                rows.append({"id": tid, "vec": vec.tolist(),
                             "checksum": fields_checksum(vsum, f), **f})  # fmt: skip
            if rows:
                self._client.upsert(self._name, rows)

    # -- sync / check / rebuild ------------------------------------------------------------
    def _diff(self) -> tuple[list[str], list[str], list[str], int, int]:
        """``(new, changed, gone, catalog_version, n_catalog)`` against the catalog."""
        snap = self.read_source(self._store, self._model, self._version, self._dim)
        if snap.skipped:
            log.warning("%d %s vectors do not have dimension %d and are not indexed",
                        snap.skipped, self._model, snap.dim)  # fmt: skip
        self._dim = self._dim or snap.dim
        fields = self.row_fields(snap.ids)
        want = {
            tid: fields_checksum(s, fields[tid])
            for tid, s in zip(snap.ids, snap.sums.tolist(), strict=True) if tid in fields
        }  # fmt: skip
        have = self._stored_sums() if self._client.has_collection(self._name) else {}
        new = [t for t in want if t not in have]
        changed = [t for t, s in want.items() if t in have and have[t] != s]
        gone = [t for t in have if t not in want]
        return new, changed, gone, snap.catalog_version, len(want)

    def sync(self, force: bool = False) -> dict[str, Any]:
        """Bring the collection in step with the catalog (only when the catalog version
        moved, unless ``force``): upsert new and changed tracks, delete gone ones.

        Returns
        -------
        dict
            ``added``, ``removed``, ``updated``, ``rebuilt``, ``persisted`` (always
            true: Milvus stores every write), ``n`` and ``catalog_version``.
        """
        out: dict[str, Any] = {"added": 0, "removed": 0, "updated": 0, "rebuilt": False,
                               "persisted": True}  # fmt: skip
        current = self._store.catalog_version
        if not force and current == self._catalog_version:
            return out | {"n": self._n, "catalog_version": current}
        started = time.perf_counter()
        if self._dim == 0:
            self._dim = self.read_source(self._store, self._model, self._version, 0).dim
        stored_dim = self._collection_dim()
        if stored_dim is not None and self._dim and stored_dim != self._dim:
            log.warning("dropping Milvus collection %s: dimension %d, vectors have %d",
                        self._name, stored_dim, self._dim)  # fmt: skip
            self._client.drop_collection(self._name)
            out["rebuilt"] = True
        new, changed, gone, version, n = self._diff()
        if (new or changed) and not self._client.has_collection(self._name):
            self._create(self._dim)
        if gone:
            for start in range(0, len(gone), WRITE_BATCH):
                self._client.delete(self._name, ids=gone[start:start + WRITE_BATCH])
        self._write(new + changed)
        self._catalog_version, self._n = version, n
        out.update(added=len(new), removed=len(gone), updated=len(changed), n=n,
                   catalog_version=version)  # fmt: skip
        if new or changed or gone:
            log.info("synced Milvus %s in %.1f s: %s", self._name,
                     time.perf_counter() - started, out)  # fmt: skip
        self.last_sync = out
        return out

    def check(self) -> dict[str, Any]:
        """Compare the collection's ids and checksums with the catalog (changes nothing).

        Returns
        -------
        dict
            As :meth:`VectorIndex.check <songscape.search.index.VectorIndex.check>`:
            ``model, kind, n_index, n_catalog, missing, extra, stale, in_sync``,
            ``catalog_version``, ``index_catalog_version`` and ``path`` (the URI).
        """
        new, changed, gone, version, n = self._diff()
        in_sync = not (new or changed or gone)
        if not in_sync:
            self._catalog_version = -1  # the next sync diffs
        return {
            "model": self._model, "kind": self.kind, "n_index": n - len(new) + len(gone),
            "n_catalog": n, "missing": len(new), "extra": len(gone), "stale": len(changed),
            "in_sync": in_sync, "catalog_version": version,
            "index_catalog_version": self._catalog_version, "path": self._uri,
            "collection": self._name,
        }  # fmt: skip

    def rebuild(self) -> dict[str, Any]:
        """Drop the collection and write it anew from the catalog."""
        if self._client.has_collection(self._name):
            self._client.drop_collection(self._name)
        out = self.sync(force=True)
        return out | {"rebuilt": True}

    # -- search ----------------------------------------------------------------------------
    def _query_rows(self, vectors: np.ndarray) -> tuple[np.ndarray, bool]:
        try:
            q = np.asarray(vectors, dtype=np.float32)
        except (TypeError, ValueError) as err:
            raise VectorIndexError(f"query vectors must be numeric: {err}") from None
        single = q.ndim == 1
        if single:
            q = q[None, :]
        if q.ndim != 2:
            raise VectorIndexError(f"query must have shape (dim,) or (q, dim), not {q.shape}")
        if not np.all(np.isfinite(q)):
            raise VectorIndexError("query vectors contain NaN or infinite values")
        if self._dim and q.shape[1] != self._dim:
            raise VectorIndexError(
                f"query has dimension {q.shape[1]} but {self._model} vectors have {self._dim}"
            )
        return unit_rows(q), single

    def _search(self, q: np.ndarray, k: int, expr: str) -> list[list[tuple[str, float]]]:
        if self._n == 0 or not self._client.has_collection(self._name):
            return [[] for _ in range(len(q))]
        params = {"metric_type": "IP", "params": SEARCH_PARAMS.get(self._index_type, {})}
        found = self._client.search(self._name, data=q.tolist(), limit=k, filter=expr,
                                    anns_field="vec", search_params=params,
                                    output_fields=[])  # fmt: skip
        return [[(hit["id"], float(hit["distance"])) for hit in hits] for hits in found]

    def search(
        self,
        vectors: np.ndarray,
        k: int = 10,
        *,
        exclude: set[str] | None = None,
        allowed: set[str] | None = None,
    ) -> list[tuple[str, float]] | list[list[tuple[str, float]]]:
        """The ``k`` most similar tracks of each query vector, best first (as
        :meth:`VectorIndex.search <songscape.search.index.VectorIndex.search>`);
        ``exclude`` and ``allowed`` become an ``id`` filter expression."""
        if not isinstance(k, int | np.integer) or k < 1:
            raise VectorIndexError(f"k must be an integer >= 1 (got {k!r})")
        self.sync()
        q, single = self._query_rows(vectors)
        clauses = []
        if exclude:
            clauses.append(f"id not in [{', '.join(quote(t) for t in sorted(exclude))}]")
        if allowed is not None:
            if not allowed:
                return [] if single else [[] for _ in range(len(q))]
            clauses.append(f"id in [{', '.join(quote(t) for t in sorted(allowed))}]")
        results = self._search(q, int(k), " and ".join(clauses))
        return results[0] if single else results

    def search_filtered(
        self,
        vector: np.ndarray,
        k: int,
        filters: Filters,
        query: dict[str, Any] | None,
        *,
        exclude: set[str] | None = None,
    ) -> list[tuple[str, float]]:
        """The ``k`` tracks nearest ``vector`` that pass ``filters``, with the filters
        evaluated by Milvus (see :func:`~songscape.search.milvus_filters.filter_expression`).
        """
        if not isinstance(k, int | np.integer) or k < 1:
            raise VectorIndexError(f"k must be an integer >= 1 (got {k!r})")
        self.sync()
        q, _ = self._query_rows(vector)
        expr = filter_expression(filters, query, exclude or ())
        return self._search(q[:1], int(k), expr)[0]

    def close(self) -> None:
        self._client.close()

    def __repr__(self) -> str:
        return (f"MilvusIndex(model={self._model!r}, uri={self._uri!r}, "
                f"collection={self._name!r}, n={self._n})")  # fmt: skip
