"""Resuming repairs the epoch log (issue 16): a run killed between its ``last.pt`` and its
``metrics.jsonl`` leaves the log one epoch short; both trainers resume through
:func:`songscape.training.checkpoints.resume_state`, which rewrites the log from
``last.pt`` (rank 0 of a Ray run too: before, a Ray run resumed with nothing left to
train kept the short log beside its final model)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.helpers import TINY

torch = pytest.importorskip("torch")


def test_resume_rewrites_a_log_one_epoch_short(tmp_path):
    from songscape.models import trained
    from songscape.training.checkpoints import RunState, resume_state, save_last
    from songscape.training.config import TrainConfig, build_net

    torch.set_num_threads(1)
    config = TrainConfig(arch="shortchunk-cnn", encoder=TINY, epochs=2)
    split = {"train": ["a.ogg"], "valid": ["b.ogg"]}
    net = build_net(config, 2)
    optimizer = torch.optim.SGD(net.parameters(), lr=0.1)
    history = [{"epoch": 1, "train_loss": 0.9}, {"epoch": 2, "train_loss": 0.7}]
    state = RunState(best_state=net.state_dict(), history=history, epoch=2)
    save_last(tmp_path / trained.LAST, config, split, state, net, optimizer,
              np.random.default_rng(0), 1.5)  # fmt: skip
    log = tmp_path / trained.METRICS
    log.write_text(json.dumps(history[0]) + "\n")  # killed before epoch 2's line

    def resume(write_log: bool) -> RunState:
        return resume_state(tmp_path, config, split, build_net(config, 2),
                            torch.optim.SGD(net.parameters(), lr=0.1),
                            np.random.default_rng(1), torch.device("cpu"), write_log)  # fmt: skip

    assert resume(write_log=False).epoch == 2  # another Ray rank: reads only
    assert log.read_text().count("\n") == 1
    resumed = resume(write_log=True)
    assert resumed.history == history
    assert [json.loads(line) for line in log.read_text().splitlines()] == history
    assert sorted(p.name for p in tmp_path.iterdir()) == [trained.LAST, trained.METRICS]
