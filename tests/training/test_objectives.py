"""Training objectives: supervised losses and MoCo (queue, momentum, InfoNCE)."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from songscape.models.architectures import build_encoder
from songscape.training.objectives import (
    MoCo,
    classification_loss,
    info_nce_logits,
    multilabel_loss,
)

N_SAMPLES = 4096


@pytest.fixture
def moco() -> MoCo:
    torch.manual_seed(0)
    encoder = build_encoder(
        "shortchunk-cnn", channels=[4, 4, 8], embedding_dim=8, chunk_samples=N_SAMPLES
    )
    return MoCo(encoder, projection_dim=6, queue_size=5, momentum=0.9, temperature=0.1)


def batch(n: int = 3, seed: int = 0) -> torch.Tensor:
    return torch.randn(n, N_SAMPLES, generator=torch.Generator().manual_seed(seed)) * 0.1


def test_supervised_losses_by_hand():
    # BCE of logit 0 is log 2 whatever the target; of logit log 3 with target 1 is log(4/3)
    logits = torch.tensor([[0.0, math.log(3.0)]])
    targets = torch.tensor([[1.0, 1.0]])
    expected = (math.log(2) + math.log(4 / 3)) / 2
    assert float(multilabel_loss(logits, targets)) == pytest.approx(expected, rel=1e-6)
    # cross-entropy of [0, log 3] with label 1: -log(3 / 4)
    loss = classification_loss(logits, torch.tensor([1]))
    assert float(loss) == pytest.approx(-math.log(3 / 4), rel=1e-6)


def test_queue_is_normalised_and_pointer_wraps(moco):
    assert moco.queue.shape == (6, 5) and int(moco.queue_ptr) == 0
    torch.testing.assert_close(moco.queue.norm(dim=0), torch.ones(5))
    first, second = F.normalize(torch.randn(3, 6), dim=1), F.normalize(torch.randn(3, 6), dim=1)
    moco.enqueue(first)
    assert int(moco.queue_ptr) == 3
    moco.enqueue(second)  # 3 keys into a queue of 5 at column 3: columns 3, 4, 0
    assert int(moco.queue_ptr) == 1
    torch.testing.assert_close(moco.queue[:, [3, 4, 0]], second.T)
    torch.testing.assert_close(moco.queue[:, [1, 2]], first[1:].T)
    moco.enqueue(F.normalize(torch.randn(7, 6), dim=1))  # larger than the queue
    assert int(moco.queue_ptr) == (1 + 5) % 5


def test_momentum_update_formula(moco):
    with torch.no_grad():
        for p in [*moco.encoder_q.parameters(), *moco.projector_q.parameters()]:
            p.add_(torch.randn_like(p))
    keys = [p.clone() for p in [*moco.encoder_k.parameters(), *moco.projector_k.parameters()]]
    queries = [p.clone() for p in [*moco.encoder_q.parameters(), *moco.projector_q.parameters()]]
    moco.momentum_update()
    updated = [*moco.encoder_k.parameters(), *moco.projector_k.parameters()]
    assert len(updated) == len(keys) == len(queries)
    for new, k, q in zip(updated, keys, queries, strict=True):
        torch.testing.assert_close(new, 0.9 * k + 0.1 * q)


def test_training_step_grads_and_queue(moco):
    out = moco(batch(3, 0), batch(3, 1))
    assert out["logits"].shape == (3, 1 + 5) and out["labels"].tolist() == [0, 0, 0]
    out["loss"].backward()
    assert all(p.grad is None and not p.requires_grad for p in moco.encoder_k.parameters())
    assert all(p.grad is None for p in moco.projector_k.parameters())
    assert all(p.grad is not None for p in moco.encoder_q.parameters())
    assert int(moco.queue_ptr) == 3  # the batch's keys were enqueued
    torch.testing.assert_close(moco.queue.norm(dim=0), torch.ones(5))


def test_logits_and_loss_by_hand(moco):
    moco.eval()  # no momentum update or enqueue, fixed batch-norm statistics
    x_q, x_k = batch(2, 0), batch(2, 1)
    queue = moco.queue.clone()
    out = moco(x_q, x_k)
    with torch.no_grad():
        q, k = moco.project_query(x_q), moco.project_key(x_k)
    positive = (q * k).sum(dim=1) / 0.1
    torch.testing.assert_close(out["logits"][:, 0], positive)
    torch.testing.assert_close(out["logits"][:, 1:], q @ queue / 0.1)
    logits = out["logits"].detach()
    expected = -(logits[:, 0] - torch.logsumexp(logits, dim=1)).mean()
    torch.testing.assert_close(out["loss"].detach(), expected)
    torch.testing.assert_close(moco.queue, queue)


def test_info_nce_tiny_case():
    # 2-d unit vectors: q = (1, 0), positive k = (0.6, 0.8), queue negatives (0, 1), (-1, 0)
    q, k = torch.tensor([[1.0, 0.0]]), torch.tensor([[0.6, 0.8]])
    queue = torch.tensor([[0.0, -1.0], [1.0, 0.0]])
    extra = torch.tensor([[[0.8, 0.6]]])
    logits = info_nce_logits(q, k, queue, extra, temperature=0.5)
    torch.testing.assert_close(logits, torch.tensor([[1.2, 1.6, 0.0, -2.0]]))
    loss = F.cross_entropy(logits, torch.zeros(1, dtype=torch.long))
    hand = -math.log(math.exp(1.2) / (math.exp(1.2) + math.exp(1.6) + 1 + math.exp(-2.0)))
    assert float(loss) == pytest.approx(hand, rel=1e-6)


def test_extra_negatives_add_logit_columns(moco):
    extra = torch.stack([batch(2, 2), batch(2, 3)], dim=1)  # (batch 2, 2 negatives, samples)
    out = moco(batch(2, 0), batch(2, 1), extra_negatives=extra)
    assert out["logits"].shape == (2, 1 + 2 + 5)
    assert torch.isfinite(out["loss"])
    with pytest.raises(ValueError, match="extra_negatives"):
        moco(batch(2, 0), batch(2, 1), extra_negatives=batch(2, 2))


def test_constructor_validation():
    encoder = build_encoder("sample-cnn", channels=[4], frontend_channels=4, embedding_dim=4)
    for kwargs in [{"queue_size": 0}, {"momentum": 1.5}, {"temperature": 0.0}]:
        with pytest.raises(ValueError):
            MoCo(encoder, **kwargs)
