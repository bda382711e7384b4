"""Mixes through the Python API and the command line, on real clips: every source of
tracks, the files beside the audio, and each kind of bad input with its exit code."""

from __future__ import annotations

import json
import os
import shutil

import numpy as np
import pytest
import soundfile as sf

from songscape.catalog import model_outputs
from songscape.cli import main
from songscape.errors import MixError, TrackNotFoundError, UsageError
from songscape.ingest.pipeline import IngestOptions
from songscape.library.library import Library
from songscape.mix.plan import MixOptions
from songscape.models.registry import get_spec
from tests.helpers import shared_data


@pytest.fixture(scope="module")
def mix_library(tmp_path_factory):
    """Four real GTZAN clips (disco, pop) and a beatless noise file, fully ingested."""
    root = tmp_path_factory.mktemp("mix")
    music = root / "music"
    music.mkdir()
    gtzan = shared_data("gtzan_subset100", "audio")
    for name in ("disco/disco.00000.ogg", "disco/disco.00001.ogg", "disco/disco.00003.ogg",
                 "hiphop/hiphop.00000.ogg"):  # fmt: skip
        shutil.copy(gtzan / name, music / name.split("/")[1])
    rng = np.random.default_rng(0)
    noise = np.convolve(rng.standard_normal(22050 * 20), np.ones(30) / 30, "same")
    sf.write(music / "noise.wav", (0.2 * noise / np.abs(noise).max()).astype(np.float32), 22050)
    lib_dir = root / "lib"
    with Library(lib_dir, create=True) as lib:
        # No networks (fast); the default model's vectors are written below instead, so
        # seeds and paths have something to follow (they are not what is tested here).
        lib.ingest([str(music)], IngestOptions(workers=1, embed_models=(), tag_models=()))
        spec = get_spec(lib.default_model)
        with lib.store.transaction() as conn:
            for i, t in enumerate(sorted(lib.tracks(status="ok"), key=lambda t: t["path"])):
                vector = np.random.default_rng(i).standard_normal(spec.embedding_dim)
                model_outputs.put_embedding(conn, t["id"], spec.name, spec.version, vector)
        ids = {os.path.basename(t["path"]).split(".")[0] + t["path"][-9:-4]: t["id"]
               for t in lib.tracks(status="ok")}  # fmt: skip
    return lib_dir, music, ids


def track_ids(lib: Library) -> dict[str, str]:
    return {os.path.basename(t["path"]): t["id"] for t in lib.tracks(status="ok")}


def test_a_list_keeps_its_order_and_renders_with_its_files(mix_library, tmp_path):
    lib_dir, _, _ = mix_library
    with Library(lib_dir) as lib:
        ids = track_ids(lib)
        order = [
            ids["disco.00003.ogg"],
            ids["disco.00000.ogg"],
            ids["noise.wav"],
            ids["disco.00001.ogg"],
        ]
        plan = lib.plan_mix(order, options=MixOptions(segments="highlight", reorder=False))
        assert [s.track.track_id for s in plan.segments] == order
        kinds = [t.kind for t in plan.transitions]
        assert kinds[1] == "fade" and kinds[2] == "fade"  # the noise has no beat grid
        assert "outgoing" in plan.transitions[2].reason or "incoming" in plan.transitions[1].reason
        result = lib.render_mix(plan, tmp_path / "mix.ogg", plot=tmp_path / "mix.png")
    files = result["files"]
    for key in ("audio", "plan", "cue", "m3u8", "plot"):
        assert os.path.getsize(files[key]) > 0
    saved = json.loads(open(files["plan"]).read())
    assert [s["track_id"] for s in saved["segments"]] == order
    assert saved["render"]["duration_s"] == pytest.approx(saved["duration_s"], rel=0.01)
    assert open(files["cue"]).read().count("TRACK ") == 4
    assert open(files["m3u8"]).read().count("#EXTINF") == 4
    info = sf.info(files["audio"])
    assert abs(info.duration - saved["duration_s"]) < 0.01 * saved["duration_s"]


def test_reorder_seed_and_path_choose_and_order(mix_library):
    lib_dir, _, _ = mix_library
    with Library(lib_dir) as lib:
        ids = track_ids(lib)
        given = [
            ids["noise.wav"],
            ids["disco.00000.ogg"],
            ids["hiphop.00000.ogg"],
            ids["disco.00001.ogg"],
        ]
        plan = lib.plan_mix(given, options=MixOptions(reorder=True))
        assert plan.order_method == "exact DP"
        assert plan.mean_costs["plan"] <= plan.mean_costs["given"] + 1e-9
        seeded = lib.plan_mix(seed=ids["disco.00000.ogg"], count=3)
        assert (
            seeded.segments[0].track.track_id == ids["disco.00000.ogg"]
            and len(seeded.segments) == 3
        )
        path = lib.plan_mix(start=ids["disco.00000.ogg"], end=ids["hiphop.00000.ogg"], count=4)
        assert path.segments[0].track.track_id == ids["disco.00000.ogg"]
        assert path.segments[-1].track.track_id == ids["hiphop.00000.ogg"]


def test_bad_requests_are_clear(mix_library, tmp_path):
    lib_dir, music, _ = mix_library
    with Library(lib_dir) as lib:
        ids = track_ids(lib)
        a, b = ids["disco.00000.ogg"], ids["disco.00001.ogg"]
        with pytest.raises(TrackNotFoundError):
            lib.plan_mix(["nope", a])
        with pytest.raises(UsageError, match="two different"):
            lib.plan_mix([a])
        with pytest.raises(UsageError, match="exactly one"):
            lib.plan_mix([a, b], seed=a)
        with pytest.raises(MixError, match="minutes"):
            lib.plan_mix(seed=a, minutes=600)
        plan = lib.plan_mix([a, b])
        with pytest.raises(MixError, match="cannot write"):
            lib.render_mix(plan, tmp_path / "missing-folder" / "mix.flac")
        with pytest.raises(MixError, match="cannot write"):
            lib.render_mix(plan, tmp_path / "mix.aac")


def test_cli_mix_and_exit_codes(mix_library, tmp_path, capsys):
    lib_dir, music, _ = mix_library
    with Library(lib_dir) as lib:
        ids = track_ids(lib)
    a, b, c = ids["disco.00000.ogg"], ids["disco.00001.ogg"], ids["disco.00003.ogg"]
    base = ["--library", str(lib_dir), "mix"]
    out = tmp_path / "cli.flac"
    assert main(base + [a, b, c, "--reorder", "--out", str(out), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["files"]["audio"] == str(out) and out.exists()
    assert {"duration_s", "segments", "transitions", "order", "render"} <= set(result)
    assert main(base + [a, b, "--plan-only"]) == 0
    assert "mix of 2 tracks" in capsys.readouterr().out
    assert main(base + ["nope", a, "--plan-only"]) == 1
    assert main(base + [a, "--plan-only"]) == 2
    assert main(base + [a, b]) == 2  # neither --out nor --plan-only
    assert main(base + [a, b, "--out", str(tmp_path / "no" / "x.flac")]) == 1
    assert main(base + ["--seed", a, "--minutes", "900", "--plan-only"]) == 1
    with pytest.raises(SystemExit) as bad_flag:
        main(base + [a, b, "--bars", "0", "--plan-only"])
    assert bad_flag.value.code == 2
    read_only = tmp_path / "ro"
    read_only.mkdir()
    read_only.chmod(0o500)
    if not os.access(read_only, os.W_OK):  # root writes anywhere
        assert main(base + [a, b, "--out", str(read_only / "x.flac")]) == 1
    capsys.readouterr()
    # a file deleted after ingest: a clear message, not a traceback
    gone = music / "disco.00001.ogg"
    moved = tmp_path / "moved.ogg"
    shutil.move(gone, moved)
    try:
        assert main(base + [a, b, "--plan-only"]) == 1
        assert "is gone" in capsys.readouterr().err
    finally:
        shutil.move(moved, gone)


@pytest.mark.parametrize("delay_s", [2.0, 5.0])
def test_a_killed_render_leaves_no_audio_and_the_next_run_completes(mix_library, tmp_path, delay_s):
    import signal
    import subprocess
    import sys
    import time

    lib_dir, _, _ = mix_library
    with Library(lib_dir) as lib:
        ids = track_ids(lib)
    out = tmp_path / "killed.flac"
    tracks = [ids["disco.00000.ogg"], ids["disco.00001.ogg"], ids["disco.00003.ogg"]]
    argv = [sys.executable, "-m", "songscape.cli", "--library", str(lib_dir), "mix", *tracks,
            "--out", str(out)]  # fmt: skip
    child = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(delay_s)
    child.send_signal(signal.SIGKILL)
    child.wait()
    # Either the render finished before the kill, or nothing but its partial is left.
    names = sorted(p.name for p in tmp_path.iterdir())
    if out.exists():
        assert sf.info(str(out)).duration > 10
    else:
        assert all(n.startswith(".killed.flac.partial-") for n in names), names
    assert main(argv[3:]) == 0  # the next run completes and clears the dead partial
    assert sf.info(str(out)).duration > 10
    assert not list(tmp_path.glob(".killed.flac.partial-*"))


def test_a_listeners_recommendations_make_a_mix(mix_library, tmp_path, capsys):
    lib_dir, _, _ = mix_library
    with Library(lib_dir) as lib:
        ids = track_ids(lib)
    rows = ["user,item,count,timestamp"]
    plays = {
        "alice": ["disco.00000.ogg"],
        "bob": ["disco.00000.ogg", "disco.00001.ogg", "disco.00003.ogg"],
        "carol": ["disco.00001.ogg", "hiphop.00000.ogg", "disco.00003.ogg"],
    }
    for user, names in plays.items():
        rows += [f"{user},{ids[name]},{3 + i},{100 + i}" for i, name in enumerate(names)]
    events = tmp_path / "events.csv"
    events.write_text("\n".join(rows) + "\n")
    base = ["--library", str(lib_dir)]
    assert main(base + ["import-events", str(events), "--format", "csv", "--json"]) == 0
    capsys.readouterr()
    assert main(base + ["mix", "--user", "alice", "--count", "3", "--plan-only", "--json"]) == 0
    plan = json.loads(capsys.readouterr().out)
    chosen = {s["track_id"] for s in plan["segments"]}
    assert len(chosen) >= 2 and ids["disco.00000.ogg"] not in chosen  # her own play is left out
    assert main(base + ["mix", "--user", "nobody", "--plan-only"]) == 1
