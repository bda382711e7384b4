"""CRC-32C (Castagnoli), the checksum of TensorFlow checkpoints and their SSTable blocks.

:func:`crc32c` checksums bytes (short inputs byte by byte, long ones chunk-parallel in
numpy); :func:`crc32c_bytewise` is the plain table-driven loop, the reference the fast
path is tested against; :func:`unmask_crc` undoes the "masking" TF and LevelDB apply to
the checksums they store.
"""

from __future__ import annotations

import math
import struct

import numpy as np

__all__ = ["crc32c", "crc32c_bytewise", "unmask_crc"]

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


def _as_uint8(data: bytes | bytearray | memoryview | np.ndarray) -> np.ndarray:
    if isinstance(data, np.ndarray):
        return np.ascontiguousarray(data).reshape(-1).view(np.uint8)
    return np.frombuffer(memoryview(data).cast("B"), dtype=np.uint8)


def crc32c_bytewise(data: bytes | bytearray | memoryview | np.ndarray, crc: int = 0) -> int:
    """CRC-32C of ``data`` by the plain byte-at-a-time table loop (slow, obviously right).

    Same parameters and result as :func:`crc32c`, which uses this loop for short inputs
    only; it is the reference the chunk-parallel path is checked against.
    """
    raw = _as_uint8(data).tobytes()
    return _crc_register_small(raw, crc ^ 0xFFFFFFFF) ^ 0xFFFFFFFF


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
    raw = _as_uint8(data)
    register = crc ^ 0xFFFFFFFF
    if raw.size < _CRC_SMALL:
        return _crc_register_small(raw.tobytes(), register) ^ 0xFFFFFFFF
    # A register value R before the data is equivalent to a zero register with the data's
    # first 4 bytes XORed with R (little-endian): that lets the parallel path start at 0.
    head = np.frombuffer(struct.pack("<I", register), dtype=np.uint8)
    raw = raw.copy()
    raw[:4] ^= head
    return _crc_register_vectorised(raw) ^ 0xFFFFFFFF


def unmask_crc(masked: int) -> int:
    """The crc32c behind a *masked* one, as TF and LevelDB store them.

    They store crcs rotated and offset because a crc over data that embeds crcs is
    otherwise prone to degenerate values.
    """
    rotated = (masked - _CRC_MASK_DELTA) & 0xFFFFFFFF
    return ((rotated >> 17) | (rotated << 15)) & 0xFFFFFFFF
