"""Training objectives: supervised tag / class losses and MoCo contrastive learning.

* :func:`multilabel_loss`: binary cross-entropy on logits (auto-tagging).
* :func:`classification_loss`: cross-entropy on logits (one class per clip).
* :class:`MoCo`: momentum contrast (He et al., CVPR 2020): a query encoder trained
  with InfoNCE against a momentum-averaged key encoder and a queue of past keys,
  with optional per-sample hard negatives (views made by a "negative" augmentation,
  see :func:`songscape.audio.augment.AugmentationPolicy.make_views`).

The TJAE autoencoder's reconstruction loss is returned by its own forward
(``encoder(x)["loss"]``).
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from songscape.models.architectures import Encoder


def multilabel_loss(logits: Tensor, targets: Tensor, pos_weight: Tensor | None = None) -> Tensor:
    """Mean binary cross-entropy of independent tags.

    Parameters
    ----------
    logits : Tensor, shape (batch, n_tags)
        Pre-sigmoid scores.
    targets : Tensor, shape (batch, n_tags)
        0/1 (or soft) labels.
    pos_weight : Tensor, shape (n_tags,), optional
        Weight of the positive term per tag (for rare tags).

    Returns
    -------
    Tensor
        Scalar loss in nats per tag.
    """
    return F.binary_cross_entropy_with_logits(
        logits, targets.to(logits.dtype), pos_weight=pos_weight
    )


def classification_loss(logits: Tensor, labels: Tensor, label_smoothing: float = 0.0) -> Tensor:
    """Mean cross-entropy of mutually exclusive classes.

    Parameters
    ----------
    logits : Tensor, shape (batch, n_classes)
        Pre-softmax scores.
    labels : Tensor of int, shape (batch,)
        Class indices.
    label_smoothing : float
        Label smoothing in [0, 1).

    Returns
    -------
    Tensor
        Scalar loss in nats.
    """
    return F.cross_entropy(logits, labels.long(), label_smoothing=label_smoothing)


def info_nce_logits(
    q: Tensor,
    k: Tensor,
    queue: Tensor | None = None,
    extra: Tensor | None = None,
    temperature: float = 0.07,
) -> Tensor:
    """InfoNCE logits with the positive in column 0.

    Parameters
    ----------
    q : Tensor, shape (batch, dim)
        L2-normalised queries.
    k : Tensor, shape (batch, dim)
        L2-normalised positive keys (row ``i`` is the positive of query ``i``).
    queue : Tensor, shape (dim, n_queue), optional
        L2-normalised negative keys shared by all queries.
    extra : Tensor, shape (batch, n_extra, dim), optional
        L2-normalised per-query negative keys.
    temperature : float
        Softmax temperature.

    Returns
    -------
    Tensor, shape (batch, 1 + n_extra + n_queue)
        Cosine similarities over ``temperature``: positive, extra negatives, queue.
    """
    columns = [(q * k).sum(dim=1, keepdim=True)]
    if extra is not None:
        columns.append(torch.einsum("bd,bmd->bm", q, extra))
    if queue is not None:
        columns.append(q @ queue)
    return torch.cat(columns, dim=1) / temperature


def projection_head(in_dim: int, out_dim: int, hidden_dim: int | None = None) -> nn.Sequential:
    """Two-layer MLP projection head (MoCo v2 / SimCLR): dense -> ReLU -> dense."""
    hidden_dim = in_dim if hidden_dim is None else hidden_dim
    return nn.Sequential(nn.Linear(in_dim, hidden_dim), nn.ReLU(), nn.Linear(hidden_dim, out_dim))


class MoCo(nn.Module):
    """Momentum contrast around an :class:`~songscape.models.architectures.Encoder`.

    Parameters
    ----------
    encoder_q : Encoder
        The query encoder, trained by back-propagation; it is the embedding model
        kept after training. The key encoder is a deep copy that receives no
        gradients.
    projection_dim : int
        Width of the L2-normalised projections compared by the loss.
    queue_size : int
        Negative keys kept from past batches.
    momentum : float
        Key encoder update ``theta_k <- m theta_k + (1 - m) theta_q``.
    temperature : float
        Softmax temperature of InfoNCE.
    hidden_dim : int or None
        Hidden units of the projection MLP (``None``: the embedding width).

    Attributes
    ----------
    queue : Tensor, shape (projection_dim, queue_size)
        Buffer of L2-normalised keys (columns); random unit vectors at first.
    queue_ptr : Tensor of int, shape (1,)
        Column the next key is written to.

    Notes
    -----
    In training mode :meth:`forward` calls :meth:`momentum_update` before encoding
    the keys and :meth:`enqueue` after computing the logits, as the reference
    implementation does, so a training step is just ``loss.backward();
    optimizer.step()``. There is no shuffled batch-norm (single device).
    """

    def __init__(
        self,
        encoder_q: Encoder,
        projection_dim: int = 128,
        queue_size: int = 4096,
        momentum: float = 0.999,
        temperature: float = 0.07,
        hidden_dim: int | None = None,
    ):
        super().__init__()
        if queue_size < 1 or projection_dim < 1:
            raise ValueError("queue_size and projection_dim must be positive")
        if not 0.0 <= momentum <= 1.0:
            raise ValueError(f"momentum must be in [0, 1], got {momentum}")
        if temperature <= 0:
            raise ValueError(f"temperature must be positive, got {temperature}")
        self.momentum, self.temperature = float(momentum), float(temperature)
        self.queue_size, self.projection_dim = int(queue_size), int(projection_dim)
        self.encoder_q = encoder_q
        self.projector_q = projection_head(encoder_q.embedding_dim, projection_dim, hidden_dim)
        self.encoder_k = copy.deepcopy(encoder_q)
        self.projector_k = copy.deepcopy(self.projector_q)
        for p in self._key_parameters():
            p.requires_grad_(False)
        self.register_buffer("queue", F.normalize(torch.randn(projection_dim, queue_size), dim=0))
        self.register_buffer("queue_ptr", torch.zeros(1, dtype=torch.long))

    def _query_parameters(self) -> list[nn.Parameter]:
        return [*self.encoder_q.parameters(), *self.projector_q.parameters()]

    def _key_parameters(self) -> list[nn.Parameter]:
        return [*self.encoder_k.parameters(), *self.projector_k.parameters()]

    @torch.no_grad()
    def momentum_update(self) -> None:
        """``theta_k <- m theta_k + (1 - m) theta_q`` for the encoder and projection head."""
        for k, q in zip(self._key_parameters(), self._query_parameters(), strict=True):
            k.mul_(self.momentum).add_(q.detach(), alpha=1.0 - self.momentum)

    @torch.no_grad()
    def enqueue(self, keys: Tensor) -> None:
        """Write keys (batch, projection_dim) into the queue at ``queue_ptr``, wrapping around.

        The oldest keys are overwritten; a batch larger than the queue keeps its
        last ``queue_size`` keys.
        """
        keys = keys.detach()[-self.queue_size :]
        ptr = int(self.queue_ptr)
        index = (ptr + torch.arange(keys.shape[0], device=keys.device)) % self.queue_size
        self.queue[:, index] = keys.T.to(self.queue.dtype)
        self.queue_ptr[0] = (ptr + keys.shape[0]) % self.queue_size

    def project_query(self, x: Tensor) -> Tensor:
        """Waveforms (batch, samples) -> L2-normalised query projections (batch, projection_dim)."""
        return F.normalize(self.projector_q(self.encoder_q(x)["embedding"]), dim=1)

    @torch.no_grad()
    def project_key(self, x: Tensor) -> Tensor:
        """Waveforms (batch, samples) -> L2-normalised key projections (no gradient)."""
        return F.normalize(self.projector_k(self.encoder_k(x)["embedding"]), dim=1)

    def forward(
        self, x_q: Tensor, x_k: Tensor, extra_negatives: Tensor | None = None
    ) -> dict[str, Tensor]:
        """One contrastive step's loss.

        Parameters
        ----------
        x_q : Tensor, shape (batch, samples)
            Anchor views (query encoder).
        x_k : Tensor, shape (batch, samples)
            Positive views (key encoder).
        extra_negatives : Tensor, shape (batch, n_extra, samples), optional
            Per-sample hard negative views, encoded by the key encoder.

        Returns
        -------
        dict
            ``"loss"`` (scalar InfoNCE, nats), ``"logits"`` (batch, 1 + n_extra +
            queue_size) with the positive in column 0, then the extra negatives, then
            the queue, ``"labels"`` (batch,) zeros.
        """
        if self.training:
            self.momentum_update()
        q = self.project_query(x_q)
        k = self.project_key(x_k)
        extra = None
        if extra_negatives is not None:
            if extra_negatives.ndim != 3 or extra_negatives.shape[0] != x_q.shape[0]:
                raise ValueError(
                    "extra_negatives must be (batch, n_extra, samples), got "
                    f"{tuple(extra_negatives.shape)}"
                )
            b, m, n = extra_negatives.shape
            extra = self.project_key(extra_negatives.reshape(b * m, n)).reshape(b, m, -1)
        logits = info_nce_logits(q, k, self.queue.clone().detach(), extra, self.temperature)
        labels = torch.zeros(logits.shape[0], dtype=torch.long, device=logits.device)
        loss = F.cross_entropy(logits, labels)
        if self.training:
            self.enqueue(k)
        return {"loss": loss, "logits": logits, "labels": labels}
