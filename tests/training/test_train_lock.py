"""Two trainings of the same name at once (issue 16): the second exits at once with a clear
message naming the running one, and touches nothing of its folder; the lock dies with its
process (a SIGKILL too), and other names train meanwhile.

The running training is a process holding the lock the way ``train`` does
(:func:`songscape.training.run_lock.training_lock`), waiting for a word on stdin: a real
training would take this test a minute and could end before the second one starts.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from songscape.cli import main
from songscape.training.run_lock import lock_path, training_lock
from tests.helpers import TINY, tiny_csv

HOLD = (
    "import sys; from pathlib import Path; from songscape.training.run_lock import "
    "training_lock\nwith training_lock(Path(sys.argv[1]), sys.argv[2]):\n"
    "    print('held', flush=True); sys.stdin.readline()"
)


def _hold(models: Path, name: str) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(models), name, "train", "--name", name],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert proc.stdout.readline() == "held\n"
    return proc


def test_a_second_training_of_the_same_name_exits_naming_the_first(tmp_path, monkeypatch,
                                                                   capsys):  # fmt: skip
    models = tmp_path / "models"
    monkeypatch.setenv("SONGSCAPE_MODELS", str(models))
    monkeypatch.setenv("SONGSCAPE_CACHE", str(tmp_path / "cache"))
    # what the running training has written so far: its temp files and set-aside folder
    folder = models / "duo"
    folder.mkdir(parents=True)
    in_progress = [folder / "last.pt.tmp", folder / "metrics.jsonl"]
    for path in in_progress:
        path.write_bytes(b"being written")
    aside = models / ".duo.replaced-1"
    aside.mkdir()
    holder = _hold(models, "duo")
    try:
        argv = ["train", "--name", "duo", "--arch", "shortchunk-cnn", "--labels",
                str(tiny_csv(tmp_path)), "--epochs", "1",
                "--encoder", json.dumps(TINY), "--threads", "1", "-q"]  # fmt: skip
        for extra in ([], ["--overwrite"], ["--resume"]):
            assert main([*argv, *extra]) == 1
            err = capsys.readouterr().err
            assert f"model 'duo' is being trained by process {holder.pid}" in err, err
            assert "train --name duo" in err and "Traceback" not in err
        assert all(p.read_bytes() == b"being written" for p in in_progress)
        assert aside.is_dir() and sorted(os.listdir(folder)) == ["last.pt.tmp", "metrics.jsonl"]
        with training_lock(models, "other"):  # another name is not blocked
            pass
    finally:
        holder.kill()  # SIGKILL: the kernel releases the lock with the process
        holder.wait()
    assert holder.returncode == -signal.SIGKILL
    assert lock_path(models, "duo").exists()  # the killed holder's file, reused:
    with training_lock(models, "duo") as path:  # free again
        assert path == lock_path(models, "duo")
        assert json.loads(path.read_text())["pid"] == os.getpid()
    assert not path.exists()  # a run that ends removes it


def test_a_process_cannot_take_a_lock_held_by_another(tmp_path):
    with training_lock(tmp_path, "solo"):
        holder = subprocess.run(
            [sys.executable, "-c", HOLD, str(tmp_path), "solo"],
            input="", capture_output=True, text=True,
        )  # fmt: skip
        assert holder.returncode == 1
        assert "TrainingBusyError: model 'solo' is being trained by process" in holder.stderr
        assert str(os.getpid()) in holder.stderr
