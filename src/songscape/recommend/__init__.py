"""Recommendations from listening history: data, models, metrics, offline evaluation,
importing events/playlists into a library, item2vec with words, cold start and serving."""

from songscape.recommend.data import (
    Interactions,
    clean,
    read_csv,
    read_events,
    read_hetrec,
    read_jsonl,
)
from songscape.recommend.recommenders import (
    MODELS,
    ALSRecommender,
    BPRRecommender,
    HybridRecommender,
    Item2VecRecommender,
    PopBPRRecommender,
    PopularityRecommender,
    Recommender,
    make_model,
)

__all__ = [
    "MODELS",
    "ALSRecommender",
    "BPRRecommender",
    "HybridRecommender",
    "Interactions",
    "Item2VecRecommender",
    "PopBPRRecommender",
    "PopularityRecommender",
    "Recommender",
    "clean",
    "make_model",
    "read_csv",
    "read_events",
    "read_hetrec",
    "read_jsonl",
]
