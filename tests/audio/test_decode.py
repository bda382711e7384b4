"""Tests for songscape.audio.decode: formats, resampling, bounded memory, bad input."""

from __future__ import annotations

import csv
import dataclasses
import functools
import os
import shutil
import stat
import subprocess
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import soxr

from songscape.audio import decode, probing
from songscape.audio import ffmpeg as ffmpeg_backend
from songscape.audio.decode import (
    AudioError,
    AudioInfo,
    AudioTooLongError,
    AudioTooShortError,
    DecodeError,
    SilentAudioError,
    check_signal,
    ffmpeg_available,
    load_audio,
    probe,
    to_mono,
)

SR = 44100
SECONDS = 5.0
DATA_DIR = Path(__file__).resolve().parents[2].parent / "shared" / "data"

# (extension, libsndfile format, subtype, native rate, expected AudioInfo.format, lossy)
SOUNDFILE_FORMATS = [
    ("wav", "WAV", "PCM_16", SR, "WAV/PCM_16", False),
    ("flac", "FLAC", "PCM_16", SR, "FLAC", False),
    ("ogg", "OGG", "VORBIS", SR, "OGG/VORBIS", True),
    ("opus", "OGG", "OPUS", 48000, "OGG/OPUS", True),  # Opus only runs at 48 kHz (or less)
    ("mp3", "MP3", "MPEG_LAYER_III", SR, "MP3", True),
    ("aiff", "AIFF", "PCM_16", SR, "AIFF/PCM_16", False),
    ("au", "AU", "PCM_16", SR, "AU/PCM_16", False),
]
# (extension, ffmpeg encoder, expected AudioInfo.format)
FFMPEG_FORMATS = [("m4a", "aac", "M4A/AAC"), ("wma", "wmav2", "ASF/WMAV2")]
# Encoder priming/padding that survives decoding (AAC: 1024 frames, WMA: one block).
LOSSY_TOLERANCE_S = 0.05


@pytest.fixture(autouse=True)
def _fresh_probe_memo():
    """Tests here fake I/O failures under probe(); a memoised header would hide them."""
    probing.clear_probe_memo()
    yield
    probing.clear_probe_memo()


def tone(sr: int, seconds: float, channels: int = 2) -> np.ndarray:
    """440 Hz at -6 dBFS on the left, 660 Hz at -10.5 dBFS on the right; (frames, ch)."""
    t = np.arange(round(sr * seconds)) / sr
    left = 0.5 * np.sin(2 * np.pi * 440.0 * t)
    right = 0.3 * np.sin(2 * np.pi * 660.0 * t)
    return np.stack([left, right][:channels], axis=1).astype(np.float32)


def peak_frequency(y: np.ndarray, sr: int) -> float:
    spectrum = np.abs(np.fft.rfft(y * np.hanning(y.size)))
    return float(np.fft.rfftfreq(y.size, 1 / sr)[np.argmax(spectrum)])


@functools.cache
def ffmpeg_encoder_available(name: str) -> bool:
    if not ffmpeg_available():
        return False
    out = subprocess.run(
        ["ffmpeg", "-hide_banner", "-encoders"], capture_output=True, text=True, check=False
    ).stdout
    return any(line.split()[1:2] == [name] for line in out.splitlines() if line.strip())


def write_soundfile(path: Path, fmt: str, subtype: str, sr: int, seconds: float) -> Path:
    try:
        sf.write(path, tone(sr, seconds), sr, format=fmt, subtype=subtype)
    except (sf.SoundFileError, RuntimeError) as exc:  # pragma: no cover - build-dependent
        pytest.skip(f"this libsndfile cannot write {fmt}/{subtype}: {exc}")
    return path


def write_ffmpeg(path: Path, encoder: str, seconds: float, tmp: Path) -> Path:
    if not ffmpeg_encoder_available(encoder):
        pytest.skip(f"ffmpeg with the {encoder} encoder is not installed")
    src = tmp / f"src_{path.stem}.wav"
    sf.write(src, tone(SR, seconds), SR, subtype="PCM_16")
    subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-y", "-i", str(src), "-c:a", encoder, str(path)],
        check=True,
    )
    return path


def cut(src: Path, dst: Path, keep: float) -> Path:
    data = src.read_bytes()
    dst.write_bytes(data[: int(len(data) * keep)])
    return dst


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One 5 s stereo file per format, written once for the module."""
    tmp = tmp_path_factory.mktemp("formats")
    out = {}
    for ext, fmt, subtype, sr, _, _ in SOUNDFILE_FORMATS:
        out[ext] = write_soundfile(tmp / f"tone.{ext}", fmt, subtype, sr, SECONDS)
    return out


@pytest.fixture(scope="module")
def m4a(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 5 s stereo AAC file, shared by the module's tests (read only)."""
    tmp = tmp_path_factory.mktemp("m4a")
    return write_ffmpeg(tmp / "tone.m4a", "aac", SECONDS, tmp)


# ------------------------------------------------------------------------- formats


@pytest.mark.parametrize(
    ("ext", "fmt_name", "native_sr", "lossy"),
    [(e, name, sr, lossy) for e, _, _, sr, name, lossy in SOUNDFILE_FORMATS],
)
def test_soundfile_formats_decode(
    files: dict[str, Path], ext: str, fmt_name: str, native_sr: int, lossy: bool
) -> None:
    info = probe(files[ext])
    assert info == AudioInfo(fmt_name, native_sr, 2, pytest.approx(SECONDS, abs=0.03), "soundfile")

    y, loaded = load_audio(files[ext], sr=22050)
    assert y.dtype == np.float32 and y.ndim == 1
    assert loaded.decoder == "soundfile" and loaded.sample_rate == native_sr
    if lossy:
        assert abs(y.size / 22050 - SECONDS) < LOSSY_TOLERANCE_S
    else:
        assert y.size == round(SECONDS * 22050)
    # The louder 440 Hz left channel dominates the down-mix.
    assert peak_frequency(y, 22050) == pytest.approx(440.0, abs=1.0)


@pytest.mark.parametrize(("ext", "encoder", "fmt_name"), FFMPEG_FORMATS)
def test_ffmpeg_formats_decode(tmp_path: Path, ext: str, encoder: str, fmt_name: str) -> None:
    path = write_ffmpeg(tmp_path / f"tone.{ext}", encoder, SECONDS, tmp_path)
    info = probe(path)
    assert (info.format, info.sample_rate, info.channels, info.decoder) == (
        fmt_name, SR, 2, "ffmpeg",
    )  # fmt: skip
    assert abs(info.duration_s - SECONDS) < LOSSY_TOLERANCE_S

    y, loaded = load_audio(path, sr=22050)
    assert y.dtype == np.float32 and y.ndim == 1
    assert abs(y.size / 22050 - SECONDS) < LOSSY_TOLERANCE_S
    assert loaded.duration_s == pytest.approx(y.size / 22050, abs=1e-3)
    assert peak_frequency(y, 22050) == pytest.approx(440.0, abs=1.0)

    stereo, _ = load_audio(path, sr=None, mono=False, block_frames=1000)
    assert stereo.shape[0] == 2
    assert peak_frequency(stereo[1], SR) == pytest.approx(660.0, abs=1.0)


def test_tagged_mp3_with_cover_art_decodes(files: dict[str, Path], tmp_path: Path) -> None:
    from mutagen.id3 import APIC, ID3, TIT2

    path = tmp_path / "tagged.mp3"
    shutil.copy(files["mp3"], path)
    tags = ID3()
    tags.add(TIT2(encoding=3, text="x"))
    tags.add(APIC(encoding=3, mime="image/png", type=3, desc="", data=os.urandom(300_000)))
    tags.save(path)
    y, info = load_audio(path, sr=None)
    assert info.decoder == "soundfile"
    assert abs(y.size / SR - SECONDS) < LOSSY_TOLERANCE_S


def test_vbr_mp3_without_xing_header_decodes_to_the_end(tmp_path: Path) -> None:
    # libsndfile guesses such a file's length from its first frame and stops there.
    if not ffmpeg_encoder_available("libmp3lame"):
        pytest.skip("ffmpeg with libmp3lame is needed to write a VBR MP3 without Xing header")
    rng = np.random.default_rng(1)
    loud = rng.standard_normal((SR, 2)) * 0.3  # 320 kbit/s frames first ...
    quiet = tone(SR, 9.0) * 0.01  # ... then cheap ones
    src = tmp_path / "src.wav"
    sf.write(src, np.concatenate([loud, quiet]).astype(np.float32), SR, subtype="PCM_16")
    path = tmp_path / "vbr.mp3"
    subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-i", str(src), "-c:a", "libmp3lame",
         "-q:a", "4", "-write_xing", "0", str(path)],
        check=True,
    )  # fmt: skip
    if abs(sf.info(path).duration - 10.0) < 0.5:
        pytest.skip("this libsndfile measures VBR MP3s without a Xing header correctly")
    y, info = load_audio(path, sr=22050)
    assert info.decoder == "ffmpeg" and info.format == "MP3"
    assert abs(y.size / 22050 - 10.0) < LOSSY_TOLERANCE_S


def test_ogg_with_theora_cover_stream_falls_back_to_ffmpeg(tmp_path: Path) -> None:
    if not ffmpeg_encoder_available("libtheora"):
        pytest.skip("ffmpeg with libtheora is needed to write an Ogg file with a video stream")
    src = tmp_path / "src.wav"
    sf.write(src, tone(SR, 3.0), SR, subtype="PCM_16")
    path = tmp_path / "with_cover.ogg"
    subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-f", "lavfi", "-i", "color=c=red:s=64x64:r=1:d=1",
         "-i", str(src), "-map", "0:v", "-map", "1:a", "-c:v", "libtheora", "-c:a", "libvorbis",
         str(path)],
        check=True,
    )  # fmt: skip
    with pytest.raises(sf.SoundFileError):
        sf.info(path)  # the reason for the fallback
    y, info = load_audio(path, sr=22050)
    assert (info.format, info.decoder) == ("OGG/VORBIS", "ffmpeg")
    assert abs(y.size / 22050 - 3.0) < LOSSY_TOLERANCE_S


# ---------------------------------------------------------------------- resampling


@pytest.mark.parametrize(("native", "target"), [(44100, 22050), (48000, 22050), (16000, 22050)])
def test_streamed_resampling_matches_soxr_on_whole_signal(
    tmp_path: Path, native: int, target: int
) -> None:
    x = np.random.default_rng(0).standard_normal(3 * native).astype(np.float32) * 0.1
    path = tmp_path / "noise.wav"
    sf.write(path, x, native, subtype="FLOAT")
    y, _ = load_audio(path, sr=target, block_frames=1000)
    expected = soxr.resample(x, native, target, quality=decode.RESAMPLE_QUALITY)
    assert y.shape == expected.shape
    edge = target // 10
    np.testing.assert_allclose(y[edge:-edge], expected[edge:-edge], rtol=0, atol=1e-6)


def test_resampling_preserves_frequency_and_level(tmp_path: Path) -> None:
    native = 48000
    t = np.arange(3 * native) / native
    path = tmp_path / "sine.wav"
    sf.write(path, (0.5 * np.sin(2 * np.pi * 1000.0 * t)).astype(np.float32), native, "FLOAT")
    y, info = load_audio(path, sr=22050)
    assert info.sample_rate == native and y.size == 3 * 22050
    assert peak_frequency(y, 22050) == pytest.approx(1000.0, abs=0.5)
    inner = y[2205:-2205]
    assert np.sqrt(np.mean(inner**2)) == pytest.approx(0.5 / np.sqrt(2), rel=1e-3)

    native_y, _ = load_audio(path, sr=None)
    assert native_y.size == 3 * native


def test_stereo_to_mono_is_channel_mean(tmp_path: Path) -> None:
    x = tone(SR, 1.5)
    path = tmp_path / "stereo.wav"
    sf.write(path, x, SR, subtype="FLOAT")
    y, info = load_audio(path, sr=None, mono=True)
    assert info.channels == 2
    np.testing.assert_allclose(y, x.mean(axis=1), atol=1e-7)
    np.testing.assert_allclose(to_mono(x.T), y, atol=1e-7)


def test_mono_false_keeps_channels(tmp_path: Path) -> None:
    x = tone(SR, 1.5)
    path = tmp_path / "stereo.wav"
    sf.write(path, x, SR, subtype="FLOAT")
    y, _ = load_audio(path, sr=None, mono=False, block_frames=777)
    assert y.shape == (2, x.shape[0]) and y.flags.c_contiguous
    np.testing.assert_array_equal(y, x.T)

    resampled, _ = load_audio(path, sr=22050, mono=False, block_frames=777)
    expected = soxr.resample(x, SR, 22050, quality=decode.RESAMPLE_QUALITY).T
    assert resampled.shape == expected.shape
    np.testing.assert_allclose(resampled[:, 500:-500], expected[:, 500:-500], atol=1e-6)


def test_mono_file_with_mono_false_has_channel_axis(tmp_path: Path) -> None:
    path = tmp_path / "mono.flac"
    sf.write(path, tone(SR, 1.5, channels=1), SR)
    y, info = load_audio(path, sr=22050, mono=False)
    assert info.channels == 1 and y.shape == (1, round(1.5 * 22050))


def test_to_mono_passes_1d_through() -> None:
    y = np.arange(4, dtype=np.float32)
    assert to_mono(y) is y
    assert to_mono(np.stack([y, -y])).tolist() == [0.0, 0.0, 0.0, 0.0]


# ------------------------------------------------------------------ bounded memory


def test_small_blocks_give_identical_output(tmp_path: Path) -> None:
    path = write_soundfile(tmp_path / "long.ogg", "OGG", "VORBIS", SR, 20.0)
    one_shot, _ = load_audio(path, sr=22050, block_frames=10**7)
    blocked, _ = load_audio(path, sr=22050, block_frames=1021)
    np.testing.assert_array_equal(blocked, one_shot)


@pytest.mark.parametrize("ext", ["wav", "m4a"])
def test_peak_memory_is_output_plus_a_block(tmp_path: Path, ext: str) -> None:
    seconds = 20.0
    if ext == "m4a":
        path = write_ffmpeg(tmp_path / "long.m4a", "aac", seconds, tmp_path)
    else:
        path = write_soundfile(tmp_path / "long.wav", "WAV", "PCM_16", SR, seconds)
    native_bytes = int(seconds * SR) * 2 * 4  # the whole file as float32 stereo
    tracemalloc.start()
    try:
        y, _ = load_audio(path, sr=22050)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    block_bytes = decode.DEFAULT_BLOCK_FRAMES * 2 * 4
    assert peak < y.nbytes + 4 * block_bytes, (peak, y.nbytes)
    assert peak < native_bytes / 2


# -------------------------------------------------------------------- max duration


def test_too_long_is_rejected_from_the_header_before_decoding(
    files: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_decoding(*args: object) -> None:
        raise AssertionError("decoded although the header already said it is too long")

    monkeypatch.setattr(decode, "soundfile_blocks", no_decoding)
    monkeypatch.setattr(decode, "ffmpeg_blocks", no_decoding)
    with pytest.raises(AudioTooLongError) as err:
        load_audio(files["ogg"], max_duration_s=4.0)
    assert str(err.value) == (
        "too long: 5.0 s exceeds the 4.0 s limit (raise max_duration_s to accept it)"
    )


def test_exactly_at_the_limit_is_accepted(files: dict[str, Path]) -> None:
    y, _ = load_audio(files["flac"], sr=None, max_duration_s=SECONDS)
    assert y.size == SECONDS * SR


def test_stream_running_past_the_limit_is_stopped(
    files: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    real_probe = decode.probe_file

    def lying_probe(path: Path) -> probing.Probed:
        probed = real_probe(path)
        return dataclasses.replace(probed, info=dataclasses.replace(probed.info, duration_s=1.0))

    monkeypatch.setattr(decode, "probe_file", lying_probe)
    with pytest.raises(AudioTooLongError) as err:
        load_audio(files["wav"], max_duration_s=2.0, block_frames=4096)
    assert str(err.value).startswith("too long: still playing at 2.")
    assert "past the 2.0 s limit, though its header said less" in str(err.value)


# ----------------------------------------------------------------------- bad input


def test_missing_file(tmp_path: Path) -> None:
    for fn in (probe, load_audio):
        with pytest.raises(DecodeError) as err:
            fn(tmp_path / "nope.mp3")
        assert str(err.value) == "file not found"
        assert isinstance(err.value.__cause__, FileNotFoundError)


def test_folder_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(DecodeError, match="^is a folder, not a file$"):
        load_audio(tmp_path)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_named_pipe_is_refused_without_blocking(tmp_path: Path) -> None:
    path = tmp_path / "pipe.wav"
    os.mkfifo(path)  # opening it for reading would block until a writer appears
    with pytest.raises(DecodeError, match=r"^not a regular file \(pipe, socket or device\)$"):
        probe(path)


def test_zero_byte_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.wav"
    path.touch()
    for fn in (probe, load_audio):
        with pytest.raises(DecodeError, match=r"^empty file \(0 bytes\)$"):
            fn(path)


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root ignores permissions")
def test_unreadable_file(files: dict[str, Path], tmp_path: Path) -> None:
    path = tmp_path / "locked.wav"
    shutil.copy(files["wav"], path)
    path.chmod(0)
    try:
        with pytest.raises(DecodeError, match="^permission denied: the file is not readable$"):
            load_audio(path)
    finally:
        path.chmod(stat.S_IRUSR | stat.S_IWUSR)


def test_unreadable_file_simulated(files: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    # Runs as root too: the probing module's open() raises as it would for a chmod 000 file.
    def denied(*args: object, **kwargs: object) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(probing, "open", denied, raising=False)
    with pytest.raises(DecodeError) as err:
        probe(files["wav"])
    assert str(err.value) == "permission denied: the file is not readable"
    assert isinstance(err.value.__cause__, PermissionError)


def test_text_renamed_to_mp3(tmp_path: Path) -> None:
    path = tmp_path / "notes.mp3"
    path.write_text("These are my favourite songs:\n1. ...\n" * 20)
    for fn in (probe, load_audio):
        with pytest.raises(DecodeError, match=r"^not an audio file \(it contains text\)$"):
            fn(path)


def test_image_renamed_to_flac(tmp_path: Path) -> None:
    path = tmp_path / "cover.flac"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(200))
    with pytest.raises(DecodeError, match=r"^not an audio file \(looks like a PNG image\)$"):
        load_audio(path)


@pytest.mark.parametrize("ext", ["wav", "flac", "ogg", "mp3", "m4a"])
def test_random_bytes_with_audio_extension(tmp_path: Path, ext: str) -> None:
    path = tmp_path / f"corrupt.{ext}"
    path.write_bytes(np.random.default_rng(7).bytes(40_000))
    with pytest.raises(DecodeError) as err:
        load_audio(path)
    message = str(err.value)
    if ffmpeg_available():
        assert message.startswith(
            ("not a recognised audio file, or corrupt (", "corrupt or truncated MP4/M4A")
        ), message
        assert "misdetection possible" not in message  # ffprobe warnings are not the reason
    else:
        assert "not a recognised audio file" in message or "needs ffmpeg" in message


def test_corrupt_flac_body(files: dict[str, Path], tmp_path: Path) -> None:
    data = bytearray(files["flac"].read_bytes())
    middle = len(data) // 2
    data[middle : middle + 5000] = np.random.default_rng(3).bytes(5000)
    path = tmp_path / "damaged.flac"
    path.write_bytes(bytes(data))
    with pytest.raises(DecodeError) as err:
        load_audio(path)
    assert str(err.value).startswith("truncated or corrupt: decoding failed at ")
    assert "of 5.0 s declared" in str(err.value)
    assert err.value.__cause__ is not None


@pytest.mark.parametrize("ext", ["wav", "aiff", "au"])
def test_truncated_pcm_is_caught_from_the_header(
    files: dict[str, Path], tmp_path: Path, ext: str
) -> None:
    path = cut(files[ext], tmp_path / f"cut.{ext}", keep=0.5)
    for fn in (probe, load_audio):
        with pytest.raises(DecodeError) as err:
            fn(path)
        assert (
            str(err.value) == "truncated: the file holds 2.5 s of the 5.0 s declared in its header"
        )


def test_truncated_mp3(files: dict[str, Path], tmp_path: Path) -> None:
    path = cut(files["mp3"], tmp_path / "cut.mp3", keep=0.5)
    with pytest.raises(DecodeError, match=r"^truncated: decoded 2\.\d s of 5\.0 s declared$"):
        load_audio(path)


@pytest.mark.parametrize("ext", ["ogg", "opus"])
def test_truncated_ogg(files: dict[str, Path], tmp_path: Path, ext: str) -> None:
    path = cut(files[ext], tmp_path / f"cut.{ext}", keep=0.6)
    with pytest.raises(DecodeError, match=r"^truncated: the file ends inside an Ogg page after"):
        load_audio(path)


def test_truncated_flac(files: dict[str, Path], tmp_path: Path) -> None:
    path = cut(files["flac"], tmp_path / "cut.flac", keep=0.5)
    with pytest.raises(DecodeError, match=r"^truncated or corrupt: decoding failed at \d\.\d s"):
        load_audio(path)


def test_truncated_m4a(m4a: Path, tmp_path: Path) -> None:
    path = cut(m4a, tmp_path / "cut.m4a", keep=0.5)
    with pytest.raises(DecodeError) as err:
        load_audio(path)
    assert str(err.value) == "corrupt or truncated MP4/M4A: its index (moov atom) is missing"


def test_small_shortfall_is_not_truncation(files: dict[str, Path], tmp_path: Path) -> None:
    # 1% (0.05 s) missing is below both thresholds: decode what is there.
    path = cut(files["wav"], tmp_path / "nearly.wav", keep=0.99)
    y, info = load_audio(path, sr=None)
    assert 4.9 < info.duration_s < 5.0 and y.size == round(info.duration_s * SR)


def test_streamed_wav_with_unknown_length_is_not_truncation(
    files: dict[str, Path], tmp_path: Path
) -> None:
    # Writers that cannot seek back (ffmpeg to a pipe) leave the sizes at 0xFFFFFFFF.
    data = bytearray(files["wav"].read_bytes())
    data[4:8] = b"\xff\xff\xff\xff"
    at = data.index(b"data") + 4
    data[at : at + 4] = b"\xff\xff\xff\xff"
    path = tmp_path / "streamed.wav"
    path.write_bytes(bytes(data))
    y, info = load_audio(path, sr=None)
    assert info.duration_s == SECONDS and y.size == SECONDS * SR


def test_non_finite_samples(tmp_path: Path) -> None:
    x = np.zeros(SR, dtype=np.float32)
    x[SR // 2] = np.nan
    path = tmp_path / "nan.wav"
    sf.write(path, x, SR, subtype="FLOAT")
    with pytest.raises(DecodeError, match=r"^corrupt audio: non-finite samples"):
        load_audio(path)


# ---------------------------------------------------------------- ffmpeg problems


def fake_tool(bin_dir: Path, name: str, script: str) -> None:
    path = bin_dir / name
    path.write_text("#!/bin/sh\n" + script + "\n")
    path.chmod(0o755)


def test_m4a_without_ffmpeg(m4a: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    assert not ffmpeg_available()
    with pytest.raises(DecodeError) as err:
        probe(m4a)
    assert str(err.value) == "m4a needs ffmpeg, which is not installed"


def test_hanging_ffmpeg_is_killed(
    m4a: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake_tool(bin_dir, "ffprobe", f'exec {shutil.which("ffprobe")} "$@"')
    fake_tool(bin_dir, "ffmpeg", "exec sleep 30")
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setattr(ffmpeg_backend, "FFMPEG_MIN_TIMEOUT_S", 0.5)
    monkeypatch.setattr(ffmpeg_backend, "FFMPEG_MIN_SPEED", 1e9)
    with pytest.raises(DecodeError, match=r"^ffmpeg did not finish decoding within 0\.5 s$"):
        load_audio(m4a)


def test_hanging_ffprobe_is_killed(
    m4a: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake_tool(bin_dir, "ffprobe", "exec sleep 30")
    fake_tool(bin_dir, "ffmpeg", "exit 0")
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setattr(ffmpeg_backend, "FFPROBE_TIMEOUT_S", 0.5)
    with pytest.raises(DecodeError, match=r"^ffprobe gave no answer within 0\.5 s$"):
        probe(m4a)


def test_failing_ffmpeg_reports_its_error(
    m4a: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake_tool(bin_dir, "ffprobe", f'exec {shutil.which("ffprobe")} "$@"')
    fake_tool(bin_dir, "ffmpeg", "echo '[aac @ 0x1234] Decoder exploded' >&2; exit 1")
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    with pytest.raises(DecodeError) as err:
        load_audio(m4a)
    assert str(err.value) == "ffmpeg could not decode it (Decoder exploded)"


# -------------------------------------------------------------------- check_signal


def test_check_signal_accepts_normal_audio(files: dict[str, Path]) -> None:
    y, _ = load_audio(files["flac"])
    assert check_signal(y, 22050) is None


def test_silent_file(tmp_path: Path) -> None:
    path = tmp_path / "silence.wav"
    sf.write(path, np.zeros((3 * SR, 2), dtype=np.float32), SR)
    y, _ = load_audio(path)
    with pytest.raises(
        SilentAudioError, match=r"^silent: every sample is zero \(digital silence\)$"
    ):
        check_signal(y, 22050)


def test_very_quiet_audio_is_silent() -> None:
    sr = 22050
    y = (10 ** (-80 / 20) * np.sin(np.arange(2 * sr) * 0.1)).astype(np.float32)
    with pytest.raises(SilentAudioError) as err:
        check_signal(y, sr)
    assert str(err.value) == "silent: peak level -80.0 dBFS is below -70 dBFS"
    check_signal(y, sr, silence_dbfs=-90.0)  # a lower threshold lets it through


def test_sub_second_clip(tmp_path: Path) -> None:
    path = tmp_path / "blip.wav"
    sf.write(path, tone(SR, 0.5), SR)
    y, info = load_audio(path)
    assert info.duration_s == 0.5
    with pytest.raises(AudioTooShortError) as err:
        check_signal(y, 22050)
    assert str(err.value) == "too short: 0.50 s (the minimum is 1 s)"
    assert isinstance(err.value, AudioError)


# ---------------------------------------------------------------------- real music


def _labelled(dataset: str, per_genre: int | None = None) -> list[tuple[Path, float]]:
    labels = DATA_DIR / dataset / "labels.csv"
    if not labels.is_file():
        return []
    rows, seen = [], {}
    with labels.open(newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            folder = Path(row["path"]).parent
            if per_genre is not None and seen.get(folder, 0) >= per_genre:
                continue
            seen[folder] = seen.get(folder, 0) + 1
            rows.append((DATA_DIR / dataset / row["path"], float(row["duration_s"])))
    return rows


REAL_MUSIC = _labelled("gtzan_subset100", per_genre=1)[:5] + _labelled("jamendolyrics_subset10")


@pytest.mark.slow
@pytest.mark.skipif(not REAL_MUSIC, reason=f"no shared data set under {DATA_DIR}")
@pytest.mark.parametrize(
    ("path", "label_s"), REAL_MUSIC, ids=[p.name for p, _ in REAL_MUSIC] or None
)
def test_real_music_decodes(path: Path, label_s: float) -> None:
    if not path.is_file():
        pytest.skip(f"{path} is listed in labels.csv but absent")
    header = probe(path)
    assert header.duration_s == pytest.approx(label_s, abs=0.05)
    y, info = load_audio(path, sr=22050)
    assert y.size / 22050 == pytest.approx(label_s, abs=0.05)
    assert info.duration_s == pytest.approx(header.duration_s, abs=0.05)
    check_signal(y, 22050)


def test_header_is_probed_once_for_probe_then_load(tmp_path, monkeypatch):
    path = tmp_path / "tone.wav"
    sr = 22050
    sf.write(path, (0.3 * np.sin(2 * np.pi * 440 * np.arange(2 * sr) / sr)).astype("float32"), sr)
    calls = []
    real = probing._probe_uncached
    monkeypatch.setattr(probing, "_probe_uncached", lambda p: calls.append(p) or real(p))
    decode.probe(path)
    decode.load_audio(path)
    assert len(calls) == 1
    # A changed file is probed again, never served from the memo.
    sf.write(path, np.zeros(3 * sr, dtype="float32") + 0.1, sr)
    os.utime(path, ns=(0, 10**9))
    assert decode.probe(path).duration_s == pytest.approx(3.0)
    assert len(calls) == 2
