"""The pure-numpy TensorFlow checkpoint reader, on the real musicnn checkpoints and tiny fakes."""

from __future__ import annotations

import importlib.resources
import itertools
import shutil
import struct
from pathlib import Path

import numpy as np
import pytest

from songscape.models.tf_checkpoint import (
    CheckpointError,
    VariableInfo,
    checkpoint_prefix,
    crc32c,
    list_variables,
    read_checkpoint,
)
from songscape.models.tf_checkpoint.bundle import NUMPY_DTYPES
from songscape.models.tf_checkpoint.checksum import crc32c_bytewise
from tests.helpers import SHARED_DATA

MODELS = ("MSD_musicnn", "MTT_musicnn", "MSD_vgg", "MTT_vgg")
REFERENCE_WEIGHTS = SHARED_DATA.parent / "reference" / "musicnn" / "weights"


def musicnn_checkpoint(model: str) -> Path:
    """The checkpoint directory shipped in the musicnn wheel (skips when it is not installed)."""
    pytest.importorskip("musicnn")  # its __init__ is empty: importing it pulls in nothing
    folder = Path(str(importlib.resources.files("musicnn"))) / model
    if not (folder / ".index").is_file():
        pytest.skip(f"{folder} has no checkpoint")
    return folder


def reference_weights(model: str) -> np.lib.npyio.NpzFile:
    path = REFERENCE_WEIGHTS / f"{model}.npz"
    if not path.is_file():
        pytest.skip(f"{path} not present (the shared reference data sits beside the repo)")
    return np.load(path)


def copy_checkpoint(model: str, dest: Path) -> Path:
    """A private copy of a musicnn checkpoint (tests corrupt it)."""
    source = musicnn_checkpoint(model)
    dest.mkdir(parents=True)
    for name in (".index", ".data-00000-of-00001"):
        shutil.copyfile(source / name, dest / name)
    return dest


# ---- the real checkpoints -----------------------------------------------------------------


@pytest.mark.parametrize("model", MODELS)
def test_reads_every_reference_weight_bit_exactly(model: str) -> None:
    reference = reference_weights(model)
    arrays = read_checkpoint(musicnn_checkpoint(model))
    for name in reference.files:
        expected = reference[name]
        got = arrays[name]
        assert got.dtype == expected.dtype, name
        assert got.shape == expected.shape, name
        assert np.array_equal(got, expected), name
        assert got.flags.c_contiguous and got.flags.writeable, name

    # The only extra entries are the Adam optimiser state: two slots per *trainable* variable
    # (batch-norm moving statistics have none) and the two bias-correction powers.
    trainable = [name for name in reference.files if "/moving_" not in name]
    adam = {f"{name}/{slot}" for name in trainable for slot in ("Adam", "Adam_1")}
    extra = set(arrays) - set(reference.files)
    assert extra == adam | {"beta1_power", "beta2_power"}
    assert len(extra) == (86 if "musicnn" in model else 50)
    assert arrays["beta1_power"].shape == ()


@pytest.mark.parametrize(
    ("model", "n_variables", "n_params"),
    [("MSD_musicnn", 64, 792_079), ("MTT_musicnn", 64, 792_079), ("MSD_vgg", 36, 607_030)],
)
def test_shapes_and_parameter_counts(model: str, n_variables: int, n_params: int) -> None:
    variables = list_variables(musicnn_checkpoint(model))
    assert list(variables) == sorted(variables)
    model_vars = {
        name: info
        for name, info in variables.items()
        if not name.endswith(("/Adam", "/Adam_1")) and not name.startswith("beta")
    }
    assert len(model_vars) == n_variables
    assert sum(info.num_elements for info in model_vars.values()) == n_params
    if "musicnn" in model:
        assert variables["conv2d/kernel"].shape == (7, 38, 1, 204)
        assert variables["conv2d_1/kernel"].shape == (7, 67, 1, 204)
        assert variables["dense/kernel"].shape == (1506, 200)
        assert variables["dense_1/kernel"].shape == (200, 50)
    else:
        assert variables["1CNN/kernel"].shape == (3, 3, 1, 128)
        assert variables["dense/kernel"].shape == (256, 50)


def test_variable_info_describes_the_data_layout() -> None:
    folder = musicnn_checkpoint("MSD_vgg")
    data_size = (folder / ".data-00000-of-00001").stat().st_size
    variables = list_variables(folder)
    for info in variables.values():
        assert isinstance(info, VariableInfo)
        assert info.dtype == np.float32 and info.tf_dtype == 1
        assert info.shard == 0 and not info.partitioned
        assert info.size == 4 * info.num_elements
        assert 0 <= info.offset and info.offset + info.size <= data_size
        assert info.crc32c is not None
    spans = sorted((info.offset, info.offset + info.size) for info in variables.values())
    assert all(end <= start for (_, end), (start, _) in itertools.pairwise(spans))  # no overlap
    with pytest.raises(AttributeError):
        variables["dense/bias"].size = 0  # type: ignore[misc]


def test_prefix_forms_resolve_to_the_same_checkpoint(tmp_path: Path) -> None:
    folder = musicnn_checkpoint("MSD_vgg")
    prefix = str(folder) + "/"
    assert checkpoint_prefix(folder) == prefix
    assert checkpoint_prefix(prefix) == prefix
    assert checkpoint_prefix(folder / ".index") == prefix
    names = ["dense/bias", "1CNN/kernel"]
    first = read_checkpoint(folder, names)
    assert list(first) == sorted(names)
    second = read_checkpoint(prefix, iter(names))
    assert all(np.array_equal(first[name], second[name]) for name in names)
    # A conventional layout: named prefix, found through the TF `checkpoint` state file whose
    # recorded path is stale (absolute, from the training machine).
    moved = tmp_path / "run"
    moved.mkdir()
    for suffix in (".index", ".data-00000-of-00001"):
        (moved / f"model.ckpt-7{suffix}").symlink_to(folder / suffix)
    (moved / "checkpoint").write_text('model_checkpoint_path: "/home/someone/run/model.ckpt-7"\n')
    assert checkpoint_prefix(moved) == str(moved / "model.ckpt-7")
    assert np.array_equal(read_checkpoint(moved, ["dense/bias"])["dense/bias"], first["dense/bias"])


def test_unknown_variable_name_is_reported() -> None:
    with pytest.raises(CheckpointError, match="no variable.*'nope/kernel'"):
        read_checkpoint(musicnn_checkpoint("MSD_vgg"), ["dense/bias", "nope/kernel"])


# ---- crc32c ---------------------------------------------------------------------------------


def test_crc32c_known_vectors() -> None:
    # RFC 3720 (iSCSI) test vectors and the customary "123456789" check value.
    assert crc32c(b"") == 0
    assert crc32c(b"123456789") == 0xE3069283
    assert crc32c(bytes(32)) == 0x8A9136AA
    assert crc32c(b"\xff" * 32) == 0x62A8AB43
    assert crc32c(bytes(range(32))) == 0x46DD794E


@pytest.mark.parametrize("size", [4095, 4096, 4099, 65_537, 300_001])
def test_crc32c_vectorised_path_matches_byte_loop(size: int) -> None:
    data = np.random.default_rng(size).integers(0, 256, size, dtype=np.uint8).tobytes()
    expected = crc32c_bytewise(data)
    assert crc32c(data) == expected
    assert crc32c(np.frombuffer(data, dtype=np.uint8)) == expected
    cut = size // 3
    assert crc32c(data[cut:], crc32c(data[:cut])) == expected


def test_verify_accepts_the_real_checkpoint() -> None:
    arrays = read_checkpoint(musicnn_checkpoint("MSD_musicnn"), verify=True)
    assert len(arrays) == 150


def test_verify_detects_a_flipped_byte(tmp_path: Path) -> None:
    folder = copy_checkpoint("MSD_musicnn", tmp_path / "ckpt")
    info = list_variables(folder)["conv2d/kernel"]
    data_path = folder / ".data-00000-of-00001"
    data = bytearray(data_path.read_bytes())
    data[info.offset + info.size // 2] ^= 0x10
    data_path.write_bytes(bytes(data))

    good = read_checkpoint(musicnn_checkpoint("MSD_musicnn"), ["conv2d/kernel"])["conv2d/kernel"]
    unverified = read_checkpoint(folder, ["conv2d/kernel"])["conv2d/kernel"]
    assert np.count_nonzero(unverified != good) == 1
    with pytest.raises(CheckpointError, match=r"crc32c mismatch.*'conv2d/kernel'"):
        read_checkpoint(folder, verify=True)
    assert read_checkpoint(folder, ["conv2d_1/kernel"], verify=True)


# ---- broken files ---------------------------------------------------------------------------


def test_truncated_index(tmp_path: Path) -> None:
    folder = copy_checkpoint("MSD_vgg", tmp_path / "ckpt")
    index = folder / ".index"
    index.write_bytes(index.read_bytes()[:-100])
    with pytest.raises(CheckpointError, match=r"corrupt .*\.index: bad table magic"):
        list_variables(folder)


def test_corrupted_index_block_fails_its_crc(tmp_path: Path) -> None:
    folder = copy_checkpoint("MSD_vgg", tmp_path / "ckpt")
    index = folder / ".index"
    data = bytearray(index.read_bytes())
    data[100] ^= 0x01
    index.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="crc32c check"):
        list_variables(folder)


def test_random_bytes_as_index(tmp_path: Path) -> None:
    (tmp_path / ".index").write_bytes(np.random.default_rng(1).bytes(3000))
    with pytest.raises(CheckpointError, match="corrupt checkpoint index"):
        read_checkpoint(tmp_path)
    (tmp_path / ".index").write_bytes(b"tiny")
    with pytest.raises(CheckpointError, match="shorter than the 48-byte footer"):
        read_checkpoint(tmp_path)


def test_missing_files(tmp_path: Path) -> None:
    folder = copy_checkpoint("MSD_vgg", tmp_path / "ckpt")
    (folder / ".data-00000-of-00001").unlink()
    assert len(list_variables(folder)) == 86  # the index alone suffices for listing
    with pytest.raises(CheckpointError, match=r"data shard .*\.data-00000-of-00001 not found"):
        read_checkpoint(folder)
    with pytest.raises(CheckpointError, match=r"index .*nothing\.index not found"):
        list_variables(tmp_path / "nothing")
    with pytest.raises(CheckpointError, match="no '.index' file"):
        list_variables(tmp_path)


def test_truncated_data_shard(tmp_path: Path) -> None:
    folder = copy_checkpoint("MSD_vgg", tmp_path / "ckpt")
    data_path = folder / ".data-00000-of-00001"
    data_path.write_bytes(data_path.read_bytes()[:1000])
    with pytest.raises(CheckpointError, match="truncated"):
        read_checkpoint(folder)


# ---- synthetic bundles: dtypes, strings, shards and unsupported features --------------------


def _varint(value: int) -> bytes:
    value &= (1 << 64) - 1
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _field(number: int, value: int | bytes, wire: int | None = None) -> bytes:
    if isinstance(value, bytes):
        return _varint(number << 3 | 2) + _varint(len(value)) + value
    if wire == 5:
        return _varint(number << 3 | 5) + struct.pack("<I", value)
    return _varint(number << 3) + _varint(value)


def _masked(crc: int) -> int:
    return ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + 0xA282EAD8) & 0xFFFFFFFF


def _block(entries: list[tuple[bytes, bytes]]) -> bytes:
    # No prefix sharing and a single restart point: valid, just not compact.
    body = b"".join(_varint(0) + _varint(len(k)) + _varint(len(v)) + k + v for k, v in entries)
    return body + struct.pack("<II", 0, 1)


def _write_table(path: Path, entries: list[tuple[bytes, bytes]], compression: int = 0) -> None:
    out = bytearray()

    def add(block: bytes) -> bytes:
        handle = _varint(len(out)) + _varint(len(block))
        crc = crc32c(block + bytes([compression]))
        out.extend(block + bytes([compression]) + struct.pack("<I", _masked(crc)))
        return handle

    data_handle = add(_block(sorted(entries)))
    meta_handle = add(_block([]))
    index_handle = add(_block([(b"\xff", data_handle)]))
    footer = (meta_handle + index_handle).ljust(40, b"\0") + struct.pack("<Q", 0xDB4775248B80FB57)
    path.write_bytes(bytes(out) + footer)


def _entry(
    tf_dtype: int, shape: tuple[int, ...], shard: int, offset: int, payload: bytes, crc: int
) -> bytes:
    dims = b"".join(_field(2, _field(1, size)) for size in shape)
    return (
        _field(1, tf_dtype)
        + _field(2, dims)
        + _field(3, shard)
        + _field(4, offset)
        + _field(5, len(payload))
        + _field(6, _masked(crc), wire=5)
        + _field(99, b"future field, ignored")
    )


def _string_payload(values: list[bytes]) -> tuple[bytes, int]:
    lengths = b"".join(_varint(len(v)) for v in values)
    length_crc = crc32c(b"".join(struct.pack("<I", len(v)) for v in values))
    checksum = struct.pack("<I", _masked(length_crc))
    return lengths + checksum + b"".join(values), crc32c(checksum + b"".join(values), length_crc)


def write_bundle(
    prefix: Path,
    tensors: dict[str, np.ndarray | list[bytes]],
    *,
    num_shards: int = 2,
    extra_entries: tuple[tuple[bytes, bytes], ...] = (),
) -> None:
    """A tiny TensorBundle V2 checkpoint, tensors spread round-robin over the shards."""
    dtype_codes = {np.dtype(v): k for k, v in NUMPY_DTYPES.items()}
    shards = [bytearray() for _ in range(num_shards)]
    entries = [(b"", _field(1, num_shards) + _field(3, _field(1, 1)))]
    for i, (name, value) in enumerate(sorted(tensors.items())):
        shard = shards[i % num_shards]
        if isinstance(value, list):
            payload, crc = _string_payload(value)
            code, shape = 7, (len(value),)
        else:
            payload, crc = value.astype(value.dtype.newbyteorder("<")).tobytes(), crc32c(value)
            code, shape = dtype_codes[value.dtype], value.shape
        entries.append(
            (name.encode(), _entry(code, shape, i % num_shards, len(shard), payload, crc))
        )
        shard.extend(payload)
    entries.extend(extra_entries)
    _write_table(Path(f"{prefix}.index"), entries)
    for i, shard in enumerate(shards):
        Path(f"{prefix}.data-{i:05d}-of-{num_shards:05d}").write_bytes(bytes(shard))


def test_synthetic_bundle_round_trips_dtypes_strings_and_shards(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    tensors: dict[str, np.ndarray | list[bytes]] = {
        "a/float64": rng.standard_normal((3, 4)),
        "b/int32": rng.integers(-(2**31), 2**31 - 1, (5,), dtype=np.int32),
        "c/int64": np.array([-1, 2**40, -(2**62)], dtype=np.int64),
        "d/uint8": rng.integers(0, 256, (2, 2, 2), dtype=np.uint8),
        "e/bool": np.array([True, False, True]),
        "f/half": rng.standard_normal(7).astype(np.float16),
        "g/int8_scalar": np.array(-5, dtype=np.int8),
        "h/empty": np.zeros((0, 3), dtype=np.float32),
        "i/strings": [b"", b"hello", "h\u00e9".encode()],
    }
    prefix = tmp_path / "model.ckpt"
    write_bundle(prefix, tensors)
    variables = list_variables(prefix)
    assert list(variables) == sorted(tensors)
    assert {info.shard for info in variables.values()} == {0, 1}
    assert variables["i/strings"].dtype == object
    arrays = read_checkpoint(prefix, verify=True)
    for name, expected in tensors.items():
        if isinstance(expected, list):
            assert arrays[name].tolist() == expected
            continue
        assert arrays[name].dtype == expected.dtype
        assert arrays[name].shape == expected.shape
        assert np.array_equal(arrays[name], expected)


def test_synthetic_bundle_rejects_unsupported_entries(tmp_path: Path) -> None:
    prefix = tmp_path / "model.ckpt"
    ok = np.arange(4, dtype=np.float32)
    bad_size = _entry(1, (3,), 0, 0, ok.tobytes(), crc32c(ok))  # 16 bytes for 3 floats
    bfloat16 = _entry(14, (2,), 0, 0, ok.tobytes()[:4], crc32c(ok.tobytes()[:4]))
    partitioned = _entry(1, (4,), 0, 0, b"", 0) + _field(7, _field(1, b""))
    extra = (
        (b"bad_size", bad_size),
        (b"bfloat16", bfloat16),
        (b"partitioned", partitioned),
        (b"\x00\x01partitioned/slice", b""),  # slice entries are not variables
    )
    write_bundle(prefix, {"ok": ok}, num_shards=1, extra_entries=extra)
    variables = list_variables(prefix)
    assert sorted(variables) == ["bad_size", "bfloat16", "ok", "partitioned"]
    assert variables["bfloat16"].dtype == object and variables["bfloat16"].tf_dtype == 14
    assert variables["partitioned"].partitioned
    assert np.array_equal(read_checkpoint(prefix, ["ok"], verify=True)["ok"], ok)
    with pytest.raises(CheckpointError, match="'bad_size' stores 16 bytes .* needs 12"):
        read_checkpoint(prefix, ["bad_size"])
    with pytest.raises(CheckpointError, match="'bfloat16' has unsupported dtype bfloat16"):
        read_checkpoint(prefix, ["ok", "bfloat16"])
    with pytest.raises(CheckpointError):  # reading everything trips over the bad entries
        read_checkpoint(prefix)
    with pytest.raises(CheckpointError, match="'partitioned' is partitioned"):
        read_checkpoint(prefix, ["partitioned"])


def test_synthetic_bundle_header_and_block_checks(tmp_path: Path) -> None:
    prefix = tmp_path / "model.ckpt"
    ok = np.arange(4, dtype=np.float32)
    entry = _entry(1, (4,), 3, 0, ok.tobytes(), crc32c(ok))
    _write_table(Path(f"{prefix}.index"), [(b"", _field(1, 2)), (b"ok", entry)])
    with pytest.raises(CheckpointError, match="'ok' is in shard 3 of 2"):
        list_variables(prefix)
    _write_table(Path(f"{prefix}.index"), [(b"", _field(1, 1) + _field(2, 1))])
    with pytest.raises(CheckpointError, match="big-endian"):
        list_variables(prefix)
    _write_table(Path(f"{prefix}.index"), [(b"ok", entry)])
    with pytest.raises(CheckpointError, match="no bundle header"):
        list_variables(prefix)
    _write_table(Path(f"{prefix}.index"), [(b"", _field(1, 1))], compression=1)
    with pytest.raises(CheckpointError, match="snappy"):
        list_variables(prefix)
