"""Read the variables of a TensorFlow checkpoint into numpy arrays.

A checkpoint with prefix ``P`` is an index, ``P.index`` (parsed by
:mod:`songscape.models.tf_checkpoint.bundle`), and its data shards
``P.data-SSSSS-of-NNNNN``: raw little-endian tensor bytes, back to back, at the offsets
the index gives.

The pretrained musicnn checkpoints have an *empty* basename — their files are literally
``<dir>/.index`` and ``<dir>/.data-00000-of-00001`` — so the prefix is ``"<dir>/"``;
:func:`checkpoint_prefix` also accepts the directory itself.
"""

from __future__ import annotations

import os
import re
import struct
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

from songscape.errors import CheckpointError
from songscape.models.tf_checkpoint.bundle import (
    DT_STRING,
    NUMPY_DTYPES,
    UNSUPPORTED_DTYPE_NAMES,
    BundleHeader,
    VariableInfo,
    parse_index,
    read_varint,
)
from songscape.models.tf_checkpoint.checksum import crc32c, unmask_crc

__all__ = ["checkpoint_prefix", "list_variables", "read_checkpoint"]

_STATE_PATH = re.compile(r'^model_checkpoint_path:\s*"(.*)"\s*$', re.MULTILINE)


def checkpoint_prefix(path: str | os.PathLike[str]) -> str:
    """Resolve a checkpoint path to its file prefix.

    Parameters
    ----------
    path : str or path-like
        A prefix (``"run/model.ckpt-1000"``, ``"musicnn/MSD_musicnn/"``), the ``.index`` file
        itself, or a directory. A directory holding ``.index`` gives prefix ``"<dir>/"`` (the
        empty-basename layout of the musicnn checkpoints); otherwise its TF ``checkpoint``
        state file, if any, names the prefix (taken relative to the directory, so moved
        checkpoints still resolve).

    Returns
    -------
    str
        The prefix ``P`` such that the files are ``P.index`` and ``P.data-*``.

    Raises
    ------
    CheckpointError
        If ``path`` is a directory with neither an ``.index`` nor a ``checkpoint`` file.
    """
    text = os.fspath(path)
    if text.endswith(".index") and os.path.isfile(text):
        return text[: -len(".index")]
    if not os.path.isdir(text):
        return text
    if os.path.isfile(os.path.join(text, ".index")):
        return os.path.join(text, "")
    state = Path(text, "checkpoint")
    if state.is_file():
        match = _STATE_PATH.search(state.read_text(errors="replace"))
        if match:
            # The recorded path may be absolute and stale; only its basename is trusted.
            return os.path.join(text, os.path.basename(match.group(1)))
    raise CheckpointError(f"{text}: directory holds no '.index' file and no 'checkpoint' file")


def _index_path(prefix: str) -> str:
    return prefix + ".index"


def _shard_path(prefix: str, shard: int, num_shards: int) -> str:
    return f"{prefix}.data-{shard:05d}-of-{num_shards:05d}"


def _read_index(prefix: str) -> tuple[BundleHeader, dict[str, VariableInfo]]:
    """Read, parse and sanity-check ``<prefix>.index``."""
    index = _index_path(prefix)
    try:
        table = Path(index).read_bytes()
    except FileNotFoundError:
        raise CheckpointError(f"checkpoint index {index} not found") from None
    except OSError as err:
        raise CheckpointError(f"cannot read checkpoint index {index}: {err}") from err
    try:
        header, variables = parse_index(table)
    except CheckpointError as err:
        raise CheckpointError(f"corrupt checkpoint index {index}: {err}") from None
    if header.big_endian:
        raise CheckpointError(f"{index}: big-endian checkpoints are not supported")
    if header.min_consumer > 1:
        raise CheckpointError(
            f"{index}: needs a reader of bundle version >= {header.min_consumer} (this is 1)"
        )
    if header.num_shards < 1:
        raise CheckpointError(f"corrupt checkpoint index {index}: {header.num_shards} shards")
    for info in variables.values():
        if info.shard >= header.num_shards:
            raise CheckpointError(
                f"corrupt checkpoint index {index}: variable {info.name!r} is in shard "
                f"{info.shard} of {header.num_shards}"
            )
    return header, variables


def list_variables(prefix: str | os.PathLike[str]) -> dict[str, VariableInfo]:
    """Describe every variable of a checkpoint without reading tensor data.

    Parameters
    ----------
    prefix : str or path-like
        Checkpoint prefix or directory (see :func:`checkpoint_prefix`).

    Returns
    -------
    dict of str to VariableInfo
        Sorted by name. Strings and types numpy cannot hold are listed too (``dtype`` object).

    Raises
    ------
    CheckpointError
        If the index is missing or corrupt.
    """
    _header, variables = _read_index(checkpoint_prefix(prefix))
    return dict(sorted(variables.items()))


def _check_readable(info: VariableInfo, index: str) -> None:
    if info.partitioned:
        raise CheckpointError(
            f"{index}: variable {info.name!r} is partitioned (saved in slices); not supported"
        )
    if info.tf_dtype == DT_STRING:
        return
    if info.tf_dtype not in NUMPY_DTYPES:
        kind = UNSUPPORTED_DTYPE_NAMES.get(info.tf_dtype, "unknown")
        raise CheckpointError(
            f"{index}: variable {info.name!r} has unsupported dtype {kind} "
            f"(TF DataType {info.tf_dtype}); pass `names` to read the other variables"
        )
    expected = info.num_elements * info.dtype.itemsize
    if info.size != expected:
        raise CheckpointError(
            f"{index}: variable {info.name!r} stores {info.size} bytes but shape {info.shape} "
            f"of {info.dtype} needs {expected}"
        )


def _decode_strings(raw: bytearray, info: VariableInfo, where: str, verify: bool) -> np.ndarray:
    """Decode a string tensor: varint lengths, a masked crc of the lengths, then the bytes."""
    n = info.num_elements
    try:
        lengths, pos = [], 0
        for _ in range(n):
            length, pos = read_varint(raw, pos)
            lengths.append(length)
    except CheckpointError as err:
        raise CheckpointError(f"{where}: string variable {info.name!r}: {err}") from None
    if pos + 4 + sum(lengths) != len(raw):
        raise CheckpointError(f"{where}: string variable {info.name!r} has inconsistent lengths")
    if verify and info.crc32c is not None:
        # TF checksums each length as a little-endian uint32 (uint64 beyond 4 GiB), then the
        # stored length checksum and the string bytes — not the varint bytes themselves.
        packed = b"".join(
            struct.pack("<I" if length <= 0xFFFFFFFF else "<Q", length) for length in lengths
        )
        crc = crc32c(raw[pos:], crc32c(packed))
        if crc != unmask_crc(info.crc32c):
            raise CheckpointError(f"{where}: crc32c mismatch for string variable {info.name!r}")
    pos += 4
    out = np.empty(n, dtype=object)
    for i, length in enumerate(lengths):
        out[i] = bytes(raw[pos : pos + length])
        pos += length
    return out.reshape(info.shape)


def _read_shard(
    path: str, infos: list[VariableInfo], *, verify: bool
) -> Iterator[tuple[str, np.ndarray]]:
    try:
        handle = open(path, "rb")
    except FileNotFoundError:
        raise CheckpointError(f"checkpoint data shard {path} not found") from None
    with handle:
        # Reading in file order keeps the access sequential.
        for info in sorted(infos, key=lambda item: item.offset):
            handle.seek(info.offset)
            raw = bytearray(info.size)
            got = handle.readinto(raw)
            if got != info.size:
                raise CheckpointError(
                    f"{path}: truncated — variable {info.name!r} needs bytes "
                    f"[{info.offset}, {info.offset + info.size}) but only {got} are there"
                )
            if info.tf_dtype == DT_STRING:
                yield info.name, _decode_strings(raw, info, path, verify)
                continue
            if verify and info.crc32c is not None and crc32c(raw) != unmask_crc(info.crc32c):
                raise CheckpointError(f"{path}: crc32c mismatch for variable {info.name!r}")
            # frombuffer over our own bytearray: writable and C-contiguous without a copy.
            array = np.frombuffer(raw, dtype=info.dtype).reshape(info.shape)
            yield info.name, array.astype(info.dtype.newbyteorder("="), copy=False)


def read_checkpoint(
    prefix: str | os.PathLike[str],
    names: Iterable[str] | None = None,
    *,
    verify: bool = False,
) -> dict[str, np.ndarray]:
    """Read variables of a checkpoint into numpy arrays.

    Parameters
    ----------
    prefix : str or path-like
        Checkpoint prefix or directory (see :func:`checkpoint_prefix`).
    names : iterable of str, optional
        Variables to read; all of them by default.
    verify : bool, default False
        Check each tensor's bytes against its stored crc32c (about 10 ms per MB).

    Returns
    -------
    dict of str to numpy.ndarray
        Sorted by name; writable C-contiguous arrays of the stored dtype (native byte order)
        and shape. String tensors come back as object arrays of ``bytes``.

    Raises
    ------
    CheckpointError
        For missing or corrupt files, unknown names, unsupported dtypes, partitioned
        variables, size mismatches and (with ``verify``) crc mismatches.
    """
    prefix = checkpoint_prefix(prefix)
    header, variables = _read_index(prefix)
    index = _index_path(prefix)
    wanted = sorted(variables) if names is None else sorted(set(names))
    missing = [name for name in wanted if name not in variables]
    if missing:
        raise CheckpointError(f"{index}: no variable(s) named {', '.join(map(repr, missing))}")
    by_shard: dict[int, list[VariableInfo]] = {}
    for name in wanted:
        info = variables[name]
        _check_readable(info, index)
        by_shard.setdefault(info.shard, []).append(info)
    arrays: dict[str, np.ndarray] = {}
    for shard, infos in sorted(by_shard.items()):
        path = _shard_path(prefix, shard, header.num_shards)
        arrays.update(_read_shard(path, infos, verify=verify))
    return {name: arrays[name] for name in wanted}
