"""Every recommender by name (:data:`MODELS`, :func:`make_model`), and the names of the
modules that define them, so ``from songscape.recommend.recommenders import ...`` reaches
any of them.

The interface and the popularity baseline are in :mod:`~songscape.recommend.base`, ALS
and the BPRs in :mod:`~songscape.recommend.factorization`, item2vec in
:mod:`~songscape.recommend.item2vec`, the blend in :mod:`~songscape.recommend.hybrid`.
"""

from __future__ import annotations

from songscape.recommend.base import (
    EmbeddingRecommender,
    PopularityRecommender,
    Recommender,
    top_k,
)
from songscape.recommend.factorization import (
    ALSRecommender,
    BPRRecommender,
    PopBPRRecommender,
    confidence,
    negative_cdf,
    sample_negatives,
)
from songscape.recommend.hybrid import DEFAULT_HYBRID_WEIGHTS, HybridRecommender
from songscape.recommend.item2vec import Item2VecRecommender, train_skipgram, user_sentences

__all__ = [
    "DEFAULT_HYBRID_WEIGHTS",
    "MODELS",
    "ALSRecommender",
    "BPRRecommender",
    "EmbeddingRecommender",
    "HybridRecommender",
    "Item2VecRecommender",
    "PopBPRRecommender",
    "PopularityRecommender",
    "Recommender",
    "confidence",
    "make_model",
    "negative_cdf",
    "sample_negatives",
    "top_k",
    "train_skipgram",
    "user_sentences",
]

#: Model name -> class (the names ``songscape recommend --model`` and the API accept).
MODELS: dict[str, type[Recommender]] = {
    "popularity": PopularityRecommender,
    "als": ALSRecommender,
    "bpr": BPRRecommender,
    "bpr-pop": PopBPRRecommender,
    "item2vec": Item2VecRecommender,
    "hybrid": HybridRecommender,
}


def make_model(name: str, seed: int = 0) -> Recommender:
    """A new, unfitted recommender of :data:`MODELS` with its default parameters."""
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r} (choose from {', '.join(MODELS)})")
    return MODELS[name](seed=seed)
