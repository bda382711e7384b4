"""Read TensorFlow checkpoints (TensorBundle V2) with numpy only — no TensorFlow needed.

The pretrained musicnn weights ship as such checkpoints; this package reads them.

* :mod:`~songscape.models.tf_checkpoint.reader`: the API — :func:`checkpoint_prefix`,
  :func:`list_variables`, :func:`read_checkpoint` — and the data shards;
* :mod:`~songscape.models.tf_checkpoint.bundle`: the ``.index`` file (an SSTable of
  protobuf-encoded entries), parsed by hand;
* :mod:`~songscape.models.tf_checkpoint.checksum`: CRC-32C, the checksum of both.
"""

from __future__ import annotations

from songscape.errors import CheckpointError
from songscape.models.tf_checkpoint.bundle import VariableInfo
from songscape.models.tf_checkpoint.checksum import crc32c
from songscape.models.tf_checkpoint.reader import (
    checkpoint_prefix,
    list_variables,
    read_checkpoint,
)

__all__ = [
    "CheckpointError",
    "VariableInfo",
    "checkpoint_prefix",
    "crc32c",
    "list_variables",
    "read_checkpoint",
]
