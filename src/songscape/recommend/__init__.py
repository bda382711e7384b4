"""Recommendations from listening history: data, models, metrics and offline evaluation."""

from songscape.recommend.data import (
    Interactions,
    clean,
    read_csv,
    read_events,
    read_hetrec,
    read_jsonl,
)
from songscape.recommend.models import (
    MODELS,
    ALSRecommender,
    BPRRecommender,
    Item2VecRecommender,
    PopularityRecommender,
    Recommender,
    make_model,
)

__all__ = [
    "MODELS",
    "ALSRecommender",
    "BPRRecommender",
    "Interactions",
    "Item2VecRecommender",
    "PopularityRecommender",
    "Recommender",
    "clean",
    "make_model",
    "read_csv",
    "read_events",
    "read_hetrec",
    "read_jsonl",
]
