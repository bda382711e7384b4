"""Read TensorFlow checkpoints (TensorBundle V2) with numpy only — no TensorFlow needed.

A checkpoint with prefix ``P`` is two kinds of files:

* ``P.index`` — a LevelDB-style sorted string table (SSTable). Its entry with the empty key is
  a ``BundleHeaderProto`` (number of data shards, byte order); every other key is a variable
  name whose value is a ``BundleEntryProto`` (dtype, shape, shard, byte offset/size, crc32c).
* ``P.data-SSSSS-of-NNNNN`` — the shards: raw little-endian tensor bytes, back to back.

Both containers are small and simple, so they are parsed by hand here: the protobuf wire
format (varints, fixed-width and length-delimited fields) and the SSTable block layout.

The pretrained musicnn checkpoints have an *empty* basename — their files are literally
``<dir>/.index`` and ``<dir>/.data-00000-of-00001`` — so the prefix is ``"<dir>/"``;
:func:`checkpoint_prefix` also accepts the directory itself.
"""

from __future__ import annotations

import math
import os
import re
import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from songscape.errors import CheckpointError

__all__ = [
    "CheckpointError",
    "VariableInfo",
    "checkpoint_prefix",
    "crc32c",
    "list_variables",
    "read_checkpoint",
]


# TensorFlow ``DataType`` enum values (tensorflow/core/framework/types.proto) that map
# one-to-one onto a numpy dtype. Everything is stored little-endian.
_NUMPY_DTYPES: dict[int, np.dtype] = {
    1: np.dtype("<f4"),  # DT_FLOAT
    2: np.dtype("<f8"),  # DT_DOUBLE
    3: np.dtype("<i4"),  # DT_INT32
    4: np.dtype("u1"),  # DT_UINT8
    5: np.dtype("<i2"),  # DT_INT16
    6: np.dtype("i1"),  # DT_INT8
    8: np.dtype("<c8"),  # DT_COMPLEX64
    9: np.dtype("<i8"),  # DT_INT64
    10: np.dtype("?"),  # DT_BOOL
    17: np.dtype("<u2"),  # DT_UINT16
    18: np.dtype("<c16"),  # DT_COMPLEX128
    19: np.dtype("<f2"),  # DT_HALF
    22: np.dtype("<u4"),  # DT_UINT32
    23: np.dtype("<u8"),  # DT_UINT64
}
_DT_STRING = 7
# Names for the error messages of types we know about but cannot turn into numpy arrays.
_UNSUPPORTED_DTYPE_NAMES = {
    11: "qint8",
    12: "quint8",
    13: "qint32",
    14: "bfloat16",
    15: "qint16",
    16: "quint16",
    20: "resource",
    21: "variant",
}


@dataclass(frozen=True)
class VariableInfo:
    """Where and how one variable is stored in a checkpoint.

    Attributes
    ----------
    name : str
        The TensorFlow variable name, e.g. ``"conv2d/kernel"``.
    dtype : numpy.dtype
        The stored element type; ``object`` for strings and for types numpy cannot hold
        (``tf_dtype`` then tells which).
    shape : tuple of int
        The tensor shape (``()`` for scalars).
    shard : int
        Index of the ``.data-SSSSS-of-NNNNN`` file holding the bytes.
    offset, size : int
        Byte range ``[offset, offset + size)`` inside that shard.
    crc32c : int or None
        The *masked* crc32c stored for the bytes, or ``None`` when the entry has none.
    tf_dtype : int
        The raw TensorFlow ``DataType`` enum value.
    partitioned : bool
        True for a variable saved in slices (partitioned); :func:`read_checkpoint` rejects it.
    """

    name: str
    dtype: np.dtype
    shape: tuple[int, ...]
    shard: int
    offset: int
    size: int
    crc32c: int | None
    tf_dtype: int = 0
    partitioned: bool = False

    @property
    def num_elements(self) -> int:
        """Number of elements of the tensor (1 for a scalar)."""
        return math.prod(self.shape)


# --------------------------------------------------------------------------------------
# crc32c (Castagnoli), as used for SSTable blocks and tensor bytes
# --------------------------------------------------------------------------------------

_CRC32C_POLY = 0x82F63B78  # bit-reversed Castagnoli polynomial (the CRC is "reflected")
_CRC_MASK_DELTA = 0xA282EAD8


def _make_crc_table() -> np.ndarray:
    table = np.arange(256, dtype=np.uint32)
    for _ in range(8):
        table = np.where(table & 1, (table >> 1) ^ np.uint32(_CRC32C_POLY), table >> 1)
    return table.astype(np.uint32)


_CRC_TABLE = _make_crc_table()
_CRC_TABLE_LIST: list[int] = _CRC_TABLE.tolist()
# Below this many bytes the plain byte loop beats the set-up cost of the vectorised path.
_CRC_SMALL = 4096


def _crc_register_small(data: bytes | memoryview, register: int) -> int:
    """The raw CRC register after feeding ``data`` (no initial/final inversion)."""
    table = _CRC_TABLE_LIST
    for byte in data:
        register = table[(register ^ byte) & 0xFF] ^ (register >> 8)
    return register


def _zero_shift_tables(n_bytes: int) -> list[list[int]]:
    """Byte-wise lookup tables of the linear map "feed ``n_bytes`` zero bytes to the register".

    Feeding zeros is linear over GF(2) in the register, so it is fully described by its action
    on the 32 unit registers; splitting the register into 4 bytes gives 4 tables of 256.
    """
    units = np.left_shift(np.uint32(1), np.arange(32, dtype=np.uint32))
    for _ in range(n_bytes):
        units = _CRC_TABLE[units & 0xFF] ^ (units >> 8)
    bit_set = ((np.arange(256)[:, None] >> np.arange(8)) & 1).astype(bool)
    tables = []
    for k in range(4):
        images = np.where(bit_set, units[8 * k : 8 * k + 8], np.uint32(0))
        tables.append(np.bitwise_xor.reduce(images, axis=1).tolist())
    return tables


def _crc_register_vectorised(data: np.ndarray) -> int:
    """Raw CRC register (started at 0) of a long uint8 array, computed chunk-parallel.

    The data is cut into equal chunks whose registers are advanced together, one byte column
    per numpy step; the chunk registers are then chained with the zero-shift map:
    ``R = shift(R, chunk_len) ^ chunk_register``. Zero padding at the *front* is harmless
    because a zero register stays zero when fed zero bytes.
    """
    n = data.size
    chunk = min(max(math.isqrt(n // 8), 64), 1 << 16)
    n_chunks = -(-n // chunk)
    padded = np.zeros(n_chunks * chunk, dtype=np.uint8)
    padded[n_chunks * chunk - n :] = data
    columns = np.ascontiguousarray(padded.reshape(n_chunks, chunk).T)
    registers = np.zeros(n_chunks, dtype=np.uint32)
    index = np.empty(n_chunks, dtype=np.uint32)
    for column in columns:
        np.bitwise_and(registers, 0xFF, out=index)
        np.bitwise_xor(index, column, out=index)
        np.right_shift(registers, 8, out=registers)
        np.bitwise_xor(registers, _CRC_TABLE[index], out=registers)
    s0, s1, s2, s3 = _zero_shift_tables(chunk)
    register = 0
    for part in registers.tolist():
        register = (
            s0[register & 0xFF]
            ^ s1[(register >> 8) & 0xFF]
            ^ s2[(register >> 16) & 0xFF]
            ^ s3[register >> 24]
            ^ part
        )
    return register


def crc32c(data: bytes | bytearray | memoryview | np.ndarray, crc: int = 0) -> int:
    """CRC-32C (Castagnoli) of ``data``, optionally extending a previous ``crc``.

    Parameters
    ----------
    data : bytes-like or numpy.ndarray
        The bytes to checksum (an array is taken as its raw C-order bytes).
    crc : int, optional
        The crc32c of the bytes that precede ``data`` (0 to start afresh).

    Returns
    -------
    int
        The unmasked crc32c, e.g. ``crc32c(b"123456789") == 0xE3069283``.
    """
    if isinstance(data, np.ndarray):
        raw = np.ascontiguousarray(data).reshape(-1).view(np.uint8)
    else:
        raw = np.frombuffer(memoryview(data).cast("B"), dtype=np.uint8)
    register = crc ^ 0xFFFFFFFF
    if raw.size < _CRC_SMALL:
        return _crc_register_small(raw.tobytes(), register) ^ 0xFFFFFFFF
    # A register value R before the data is equivalent to a zero register with the data's
    # first 4 bytes XORed with R (little-endian): that lets the parallel path start at 0.
    head = np.frombuffer(struct.pack("<I", register), dtype=np.uint8)
    raw = raw.copy()
    raw[:4] ^= head
    return _crc_register_vectorised(raw) ^ 0xFFFFFFFF


def _unmask_crc(masked: int) -> int:
    # TF/LevelDB store crcs "masked" (rotated + offset) because a crc over data that embeds
    # crcs is otherwise prone to degenerate values.
    rotated = (masked - _CRC_MASK_DELTA) & 0xFFFFFFFF
    return ((rotated >> 17) | (rotated << 15)) & 0xFFFFFFFF


# --------------------------------------------------------------------------------------
# Low-level decoding: varints, protobuf fields, SSTable blocks
# --------------------------------------------------------------------------------------


class _Malformed(Exception):
    """Internal: a parse failure, re-raised as CheckpointError with the file name attached."""


def _read_varint(buf: bytes, pos: int) -> tuple[int, int]:
    """Decode a base-128 varint at ``pos``; returns ``(value, next_pos)``."""
    value = 0
    for shift in range(0, 70, 7):
        if pos >= len(buf):
            raise _Malformed("truncated varint")
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
    raise _Malformed("varint longer than 10 bytes")


def _as_int64(value: int) -> int:
    # Protobuf int64 fields carry negative numbers as their 64-bit two's complement.
    return value - (1 << 64) if value >= 1 << 63 else value


def _iter_proto_fields(buf: bytes) -> Iterator[tuple[int, int, int | bytes]]:
    """Yield ``(field_number, wire_type, value)`` for each field of a serialized message.

    Varint and fixed-width values come out as unsigned ints, length-delimited ones as bytes;
    callers simply ignore field numbers they do not know (forward compatibility).
    """
    pos = 0
    while pos < len(buf):
        tag, pos = _read_varint(buf, pos)
        field, wire = tag >> 3, tag & 7
        if wire == 0:
            value, pos = _read_varint(buf, pos)
        elif wire == 1 or wire == 5:
            width = 8 if wire == 1 else 4
            if pos + width > len(buf):
                raise _Malformed("truncated fixed-width protobuf field")
            value = int.from_bytes(buf[pos : pos + width], "little")
            pos += width
        elif wire == 2:
            length, pos = _read_varint(buf, pos)
            if pos + length > len(buf):
                raise _Malformed("truncated length-delimited protobuf field")
            value = bytes(buf[pos : pos + length])
            pos += length
        else:
            raise _Malformed(f"unsupported protobuf wire type {wire} (field {field})")
        if field == 0:
            raise _Malformed("protobuf field number 0")
        yield field, wire, value


_FOOTER_LEN = 48  # two BlockHandles padded to 40 bytes + 8-byte magic
_TABLE_MAGIC = 0xDB4775248B80FB57
_BLOCK_TRAILER_LEN = 5  # 1 byte compression type + 4 bytes masked crc32c


def _decode_block_handle(buf: bytes, pos: int = 0) -> tuple[tuple[int, int], int]:
    offset, pos = _read_varint(buf, pos)
    size, pos = _read_varint(buf, pos)
    return (offset, size), pos


def _read_block(table: bytes, handle: tuple[int, int]) -> bytes:
    """The contents of the block at ``handle``, after checking its trailer and crc."""
    offset, size = handle
    end = offset + size
    if end + _BLOCK_TRAILER_LEN > len(table) - _FOOTER_LEN:
        raise _Malformed(f"block [{offset}, {end}) runs past the end of the table")
    contents = table[offset:end]
    compression = table[end]
    (stored,) = struct.unpack_from("<I", table, end + 1)
    # The block crc covers the contents *and* the compression-type byte.
    if crc32c(table[offset : end + 1]) != _unmask_crc(stored):
        raise _Malformed(f"block [{offset}, {end}) fails its crc32c check")
    if compression == 1:
        raise _Malformed("snappy-compressed blocks are not supported")
    if compression != 0:
        raise _Malformed(f"unknown block compression type {compression}")
    return contents


def _iter_block_entries(block: bytes) -> Iterator[tuple[bytes, bytes]]:
    """Yield the ``(key, value)`` entries of one block.

    Keys are prefix-compressed against the previous key; the trailing restart-point array
    only serves binary search, so a full scan just needs to know where it starts.
    """
    if len(block) < 4:
        raise _Malformed("block shorter than its restart count")
    (n_restarts,) = struct.unpack_from("<I", block, len(block) - 4)
    data_end = len(block) - 4 * (n_restarts + 1)
    if data_end < 0:
        raise _Malformed(f"block restart count {n_restarts} exceeds the block size")
    pos, key = 0, b""
    while pos < data_end:
        shared, pos = _read_varint(block, pos)
        non_shared, pos = _read_varint(block, pos)
        value_len, pos = _read_varint(block, pos)
        if shared > len(key) or pos + non_shared + value_len > data_end:
            raise _Malformed("block entry overruns its block")
        key = key[:shared] + block[pos : pos + non_shared]
        pos += non_shared
        yield key, block[pos : pos + value_len]
        pos += value_len


def _read_table(table: bytes) -> list[tuple[bytes, bytes]]:
    """All ``(key, value)`` entries of an SSTable held in memory, in key order."""
    if len(table) < _FOOTER_LEN:
        raise _Malformed(f"file is {len(table)} bytes, shorter than the {_FOOTER_LEN}-byte footer")
    footer = table[-_FOOTER_LEN:]
    (magic,) = struct.unpack_from("<Q", footer, _FOOTER_LEN - 8)
    if magic != _TABLE_MAGIC:
        raise _Malformed(f"bad table magic 0x{magic:016x} (truncated or not a checkpoint index)")
    _metaindex, pos = _decode_block_handle(footer)
    index_handle, _ = _decode_block_handle(footer, pos)
    entries = []
    for _separator, handle_bytes in _iter_block_entries(_read_block(table, index_handle)):
        handle, _ = _decode_block_handle(handle_bytes)
        entries.extend(_iter_block_entries(_read_block(table, handle)))
    return entries


# --------------------------------------------------------------------------------------
# Bundle protos
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Header:
    num_shards: int
    big_endian: bool
    min_consumer: int


def _parse_header(buf: bytes) -> _Header:
    num_shards, endianness, min_consumer = 0, 0, 0
    for field, _wire, value in _iter_proto_fields(buf):
        if field == 1:
            num_shards = _as_int64(value)
        elif field == 2:
            endianness = value
        elif field == 3:  # VersionDef: producer 1, min_consumer 2, bad_consumers 3
            for sub, _w, sub_value in _iter_proto_fields(value):
                if sub == 2:
                    min_consumer = _as_int64(sub_value)
    return _Header(num_shards, endianness == 1, min_consumer)


def _parse_shape(buf: bytes) -> tuple[int, ...]:
    dims = []
    for field, _wire, value in _iter_proto_fields(buf):
        if field == 2:  # repeated Dim {int64 size = 1; string name = 2}
            size = 0
            for sub, _w, sub_value in _iter_proto_fields(value):
                if sub == 1:
                    size = _as_int64(sub_value)
            if size < 0:
                raise _Malformed(f"dimension of unknown size ({size})")
            dims.append(size)
        elif field == 3 and value:
            raise _Malformed("tensor of unknown rank")
    return tuple(dims)


def _parse_entry(name: str, buf: bytes) -> VariableInfo:
    tf_dtype, shape, shard, offset, size, crc, partitioned = 0, (), 0, 0, 0, None, False
    for field, _wire, value in _iter_proto_fields(buf):
        if field == 1:
            tf_dtype = value
        elif field == 2:
            shape = _parse_shape(value)
        elif field == 3:
            shard = value
        elif field == 4:
            offset = _as_int64(value)
        elif field == 5:
            size = _as_int64(value)
        elif field == 6:
            crc = value
        elif field == 7:
            partitioned = True
    if offset < 0 or size < 0:
        raise _Malformed(f"variable {name!r} has a negative offset or size")
    dtype = _NUMPY_DTYPES.get(tf_dtype, np.dtype(object))
    return VariableInfo(name, dtype, shape, shard, offset, size, crc, tf_dtype, partitioned)


# --------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------

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


def _read_index(prefix: str) -> tuple[_Header, dict[str, VariableInfo]]:
    index = _index_path(prefix)
    try:
        table = Path(index).read_bytes()
    except FileNotFoundError:
        raise CheckpointError(f"checkpoint index {index} not found") from None
    except OSError as err:
        raise CheckpointError(f"cannot read checkpoint index {index}: {err}") from err
    try:
        entries = _read_table(table)
        if not entries or entries[0][0] != b"":
            raise _Malformed("no bundle header entry (not a TensorBundle V2 checkpoint?)")
        header = _parse_header(entries[0][1])
        variables = {}
        for key, value in entries[1:]:
            # Slices of partitioned variables live under binary keys starting with a zero
            # byte; the variable itself has its own (partitioned) entry under its name.
            if key.startswith(b"\x00"):
                continue
            name = key.decode("utf-8", errors="backslashreplace")
            variables[name] = _parse_entry(name, value)
    except _Malformed as err:
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


def _shard_path(prefix: str, shard: int, num_shards: int) -> str:
    return f"{prefix}.data-{shard:05d}-of-{num_shards:05d}"


def _check_readable(info: VariableInfo, index: str) -> None:
    if info.partitioned:
        raise CheckpointError(
            f"{index}: variable {info.name!r} is partitioned (saved in slices); not supported"
        )
    if info.tf_dtype == _DT_STRING:
        return
    if info.tf_dtype not in _NUMPY_DTYPES:
        kind = _UNSUPPORTED_DTYPE_NAMES.get(info.tf_dtype, "unknown")
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
            length, pos = _read_varint(raw, pos)
            lengths.append(length)
    except _Malformed as err:
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
        if crc != _unmask_crc(info.crc32c):
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
            if info.tf_dtype == _DT_STRING:
                yield info.name, _decode_strings(raw, info, path, verify)
                continue
            if verify and info.crc32c is not None and crc32c(raw) != _unmask_crc(info.crc32c):
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
