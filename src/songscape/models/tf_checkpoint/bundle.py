"""The ``.index`` file of a TensorBundle V2 checkpoint, parsed from its bytes.

The index is a LevelDB-style sorted string table (SSTable). Its entry with the empty key is
a ``BundleHeaderProto`` (number of data shards, byte order); every other key is a variable
name whose value is a ``BundleEntryProto`` (dtype, shape, shard, byte offset/size, crc32c).
Both containers are small and simple, so they are parsed by hand here: the protobuf wire
format (varints, fixed-width and length-delimited fields) and the SSTable block layout.

Parse failures raise :class:`~songscape.errors.CheckpointError` with a message that does
not name the file; :mod:`songscape.models.tf_checkpoint.reader` adds the file name.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from songscape.errors import CheckpointError
from songscape.models.tf_checkpoint.checksum import crc32c, unmask_crc

__all__ = [
    "DT_STRING",
    "NUMPY_DTYPES",
    "UNSUPPORTED_DTYPE_NAMES",
    "BundleHeader",
    "VariableInfo",
    "parse_index",
    "read_varint",
]

#: TensorFlow ``DataType`` enum values (tensorflow/core/framework/types.proto) that map
#: one-to-one onto a numpy dtype. Everything is stored little-endian.
NUMPY_DTYPES: dict[int, np.dtype] = {
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
#: ``DT_STRING``: variable-length byte strings, stored with their own layout.
DT_STRING = 7
#: Names, for error messages, of the types we know about but cannot turn into numpy arrays.
UNSUPPORTED_DTYPE_NAMES = {
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
        True for a variable saved in slices (partitioned); the reader rejects it.
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


@dataclass(frozen=True)
class BundleHeader:
    """The ``BundleHeaderProto`` of a checkpoint index.

    Attributes
    ----------
    num_shards : int
        Number of ``.data-*`` files.
    big_endian : bool
        Byte order of the tensor data.
    min_consumer : int
        Oldest bundle-format version of a reader that may read this checkpoint.
    """

    num_shards: int
    big_endian: bool
    min_consumer: int


# ---- protobuf wire format -------------------------------------------------------------------


def read_varint(buf: bytes | bytearray, pos: int) -> tuple[int, int]:
    """Decode a base-128 varint at ``pos``; returns ``(value, next_pos)``.

    Raises
    ------
    CheckpointError
        If the varint is truncated or longer than 10 bytes.
    """
    value = 0
    for shift in range(0, 70, 7):
        if pos >= len(buf):
            raise CheckpointError("truncated varint")
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
    raise CheckpointError("varint longer than 10 bytes")


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
        tag, pos = read_varint(buf, pos)
        field, wire = tag >> 3, tag & 7
        if wire == 0:
            value, pos = read_varint(buf, pos)
        elif wire == 1 or wire == 5:
            width = 8 if wire == 1 else 4
            if pos + width > len(buf):
                raise CheckpointError("truncated fixed-width protobuf field")
            value = int.from_bytes(buf[pos : pos + width], "little")
            pos += width
        elif wire == 2:
            length, pos = read_varint(buf, pos)
            if pos + length > len(buf):
                raise CheckpointError("truncated length-delimited protobuf field")
            value = bytes(buf[pos : pos + length])
            pos += length
        else:
            raise CheckpointError(f"unsupported protobuf wire type {wire} (field {field})")
        if field == 0:
            raise CheckpointError("protobuf field number 0")
        yield field, wire, value


# ---- SSTable --------------------------------------------------------------------------------

_FOOTER_LEN = 48  # two BlockHandles padded to 40 bytes + 8-byte magic
_TABLE_MAGIC = 0xDB4775248B80FB57
_BLOCK_TRAILER_LEN = 5  # 1 byte compression type + 4 bytes masked crc32c


def _decode_block_handle(buf: bytes, pos: int = 0) -> tuple[tuple[int, int], int]:
    offset, pos = read_varint(buf, pos)
    size, pos = read_varint(buf, pos)
    return (offset, size), pos


def _read_block(table: bytes, handle: tuple[int, int]) -> bytes:
    """The contents of the block at ``handle``, after checking its trailer and crc."""
    offset, size = handle
    end = offset + size
    if end + _BLOCK_TRAILER_LEN > len(table) - _FOOTER_LEN:
        raise CheckpointError(f"block [{offset}, {end}) runs past the end of the table")
    contents = table[offset:end]
    compression = table[end]
    (stored,) = struct.unpack_from("<I", table, end + 1)
    # The block crc covers the contents *and* the compression-type byte.
    if crc32c(table[offset : end + 1]) != unmask_crc(stored):
        raise CheckpointError(f"block [{offset}, {end}) fails its crc32c check")
    if compression == 1:
        raise CheckpointError("snappy-compressed blocks are not supported")
    if compression != 0:
        raise CheckpointError(f"unknown block compression type {compression}")
    return contents


def _iter_block_entries(block: bytes) -> Iterator[tuple[bytes, bytes]]:
    """Yield the ``(key, value)`` entries of one block.

    Keys are prefix-compressed against the previous key; the trailing restart-point array
    only serves binary search, so a full scan just needs to know where it starts.
    """
    if len(block) < 4:
        raise CheckpointError("block shorter than its restart count")
    (n_restarts,) = struct.unpack_from("<I", block, len(block) - 4)
    data_end = len(block) - 4 * (n_restarts + 1)
    if data_end < 0:
        raise CheckpointError(f"block restart count {n_restarts} exceeds the block size")
    pos, key = 0, b""
    while pos < data_end:
        shared, pos = read_varint(block, pos)
        non_shared, pos = read_varint(block, pos)
        value_len, pos = read_varint(block, pos)
        if shared > len(key) or pos + non_shared + value_len > data_end:
            raise CheckpointError("block entry overruns its block")
        key = key[:shared] + block[pos : pos + non_shared]
        pos += non_shared
        yield key, block[pos : pos + value_len]
        pos += value_len


def _read_table(table: bytes) -> list[tuple[bytes, bytes]]:
    """All ``(key, value)`` entries of an SSTable held in memory, in key order."""
    if len(table) < _FOOTER_LEN:
        raise CheckpointError(
            f"file is {len(table)} bytes, shorter than the {_FOOTER_LEN}-byte footer"
        )
    footer = table[-_FOOTER_LEN:]
    (magic,) = struct.unpack_from("<Q", footer, _FOOTER_LEN - 8)
    if magic != _TABLE_MAGIC:
        raise CheckpointError(
            f"bad table magic 0x{magic:016x} (truncated or not a checkpoint index)"
        )
    _metaindex, pos = _decode_block_handle(footer)
    index_handle, _ = _decode_block_handle(footer, pos)
    entries = []
    for _separator, handle_bytes in _iter_block_entries(_read_block(table, index_handle)):
        handle, _ = _decode_block_handle(handle_bytes)
        entries.extend(_iter_block_entries(_read_block(table, handle)))
    return entries


# ---- bundle protos --------------------------------------------------------------------------


def _parse_header(buf: bytes) -> BundleHeader:
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
    return BundleHeader(num_shards, endianness == 1, min_consumer)


def _parse_shape(buf: bytes) -> tuple[int, ...]:
    dims = []
    for field, _wire, value in _iter_proto_fields(buf):
        if field == 2:  # repeated Dim {int64 size = 1; string name = 2}
            size = 0
            for sub, _w, sub_value in _iter_proto_fields(value):
                if sub == 1:
                    size = _as_int64(sub_value)
            if size < 0:
                raise CheckpointError(f"dimension of unknown size ({size})")
            dims.append(size)
        elif field == 3 and value:
            raise CheckpointError("tensor of unknown rank")
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
        raise CheckpointError(f"variable {name!r} has a negative offset or size")
    dtype = NUMPY_DTYPES.get(tf_dtype, np.dtype(object))
    return VariableInfo(name, dtype, shape, shard, offset, size, crc, tf_dtype, partitioned)


def parse_index(table: bytes) -> tuple[BundleHeader, dict[str, VariableInfo]]:
    """The header and the variables of a checkpoint's ``.index`` file.

    Parameters
    ----------
    table : bytes
        The whole ``.index`` file.

    Returns
    -------
    header : BundleHeader
    variables : dict of str to VariableInfo
        In key (name) order; slices of partitioned variables are left out.

    Raises
    ------
    CheckpointError
        If the bytes are not a well-formed TensorBundle V2 index (the message does not
        name the file).
    """
    entries = _read_table(table)
    if not entries or entries[0][0] != b"":
        raise CheckpointError("no bundle header entry (not a TensorBundle V2 checkpoint?)")
    header = _parse_header(entries[0][1])
    variables = {}
    for key, value in entries[1:]:
        # Slices of partitioned variables live under binary keys starting with a zero
        # byte; the variable itself has its own (partitioned) entry under its name.
        if key.startswith(b"\x00"):
            continue
        name = key.decode("utf-8", errors="backslashreplace")
        variables[name] = _parse_entry(name, value)
    return header, variables
