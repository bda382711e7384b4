"""Every error songscape raises on purpose, in one place.

The CLI maps these classes to exit codes and the server to HTTP statuses (see
``songscape.cli.errors`` and ``songscape.server.errors``); no caller recognises an error by
its class name. Each class keeps the built-in base it had (``LookupError``, ``ValueError``…)
so ``except ValueError`` around a call still works.
"""

from __future__ import annotations


class MissingExtraError(ImportError):
    """An optional dependency group is not installed (``pip install 'songscape[EXTRA]'``)."""

    def __init__(self, extra: str, module: str, feature: str):
        self.extra, self.module, self.feature = extra, module, feature
        super().__init__(
            f"{feature} needs the '{extra}' extra ({module} is not installed): "
            f"pip install 'songscape[{extra}]'"
        )


# ---- raised by audio.decode


class AudioError(Exception):
    """Base class: ``str(err)`` is a short, user-facing reason the file was rejected.

    It is what ``songscape tracks --failed`` shows next to the file name.
    """


class DecodeError(AudioError):
    """The file cannot be read as audio.

    Missing, unreadable, empty, not audio, unknown format, corrupt or truncated.
    """


class AudioTooLongError(AudioError):
    """The audio is longer than the ``max_duration_s`` limit."""


class AudioTooShortError(AudioError):
    """The audio is shorter than ``min_duration_s``."""


class SilentAudioError(AudioError):
    """The audio's peak level is below the silence threshold."""


class VoiceCheckError(AudioError):
    """A recording of a voice cannot be used to sing from (``songscape sing``): silent,
    clipped, too little singing, or speech rather than singing; the message says which."""


# ---- raised by models.registry


class UnknownModelError(KeyError):
    """A model name that is not in the registry."""

    def __str__(self) -> str:  # KeyError would print the message in quotes
        return str(self.args[0])


# ---- raised by models.pretrained and models.beatnet


class PretrainedWeightsError(RuntimeError):
    """Pretrained weights (musicnn's checkpoints, BeatNet's) are not installed or unreadable."""


# ---- raised by models.tf_checkpoint


class CheckpointError(ValueError):
    """A checkpoint is missing, corrupt, or uses a feature this reader does not support."""


# ---- raised by models.trained


class TrainedModelError(RuntimeError):
    """A trained model's files are missing, corrupt or inconsistent."""


# ---- raised by datasets


class DatasetError(ValueError):
    """Bad or unusable training data (the message says which file or row)."""


# ---- raised by training.trainer


class TrainingError(RuntimeError):
    """Training cannot start or go on (bad configuration, name taken, no checkpoint)."""


class TrainingBusyError(TrainingError):
    """Another process is training a model of the same name (the message names it)."""


class RayClusterError(ConnectionError):
    """The Ray cluster named by ``--ray-address`` cannot be reached or refuses the token
    (raised by training.ray_runtime, for ``ingest`` and ``train --engine ray``)."""


# ---- raised by catalog.store


class LibraryError(Exception):
    """The library cannot be used (unreadable, newer schema, locked by another writer)."""


class TrackNotFoundError(LookupError):
    """No track matches the given id, id prefix or path."""


# ---- raised by catalog.listening


class CatalogBusyError(LibraryError):
    """The catalog stayed locked by another connection (a long write) through every retry."""


# ---- raised by search.similar


class QueryError(ValueError):
    """A malformed filter or an impossible query (shown to the user as is)."""


# ---- raised by search.index


class VectorIndexError(RuntimeError):
    """The vector index cannot do what was asked (bad query, unknown model, bad params)."""


# ---- raised by search.text_query


class TextModelError(RuntimeError):
    """The offline sentence model is not installed or cannot be loaded."""


# ---- raised by recommend.importer


class ImportFormatError(ValueError):
    """A malformed row (the message names the file and line)."""


# ---- raised by recommend.service


class UnknownUserError(LookupError):
    """No events for this user in the library."""


class UnknownItemError(LookupError):
    """A seed that is neither a library track nor an item of the events."""


class NoEventsError(ValueError):
    """The library has no listening events (run ``songscape import-events``)."""


class UnknownWordsError(LookupError):
    """None of a query's words occurs in the library's playlists (the message suggests
    some that do)."""


# ---- raised by audio.chromaprint and recordings


class FingerprintError(RuntimeError):
    """Acoustic fingerprints cannot be made or used (Chromaprint is not installed, the
    library has no fingerprints yet: ``songscape ingest`` adds them)."""


# ---- raised by server


class NoVectorError(LookupError):
    """A track has no vector of the model asked for (``songscape ingest --model`` adds it)."""


class RangeNotSatisfiableError(ValueError):
    """An HTTP ``Range`` header that is malformed or lies outside the file."""


# ---- raised by models.lyrics and emotion


class LyricsError(ValueError):
    """Lyrics that cannot be used as text: binary junk in a lyrics tag or file, an empty or
    unreadable lyrics file; the message says which."""


# ---- raised by playlists and tag writing (issue 17)


class PlaylistNotFoundError(LookupError):
    """No saved playlist of this name (``songscape playlist list`` shows them)."""


class PlaylistFormatError(ValueError):
    """A playlist file that cannot be read (not text, not M3U/M3U8), a bad playlist name,
    or an export format songscape does not write; the message says which."""


class TagWriteError(RuntimeError):
    """Tags that cannot be written into an audio file (unsupported format, read-only
    file); the message names the file."""


# ---- raised by mixes (issue 13)


class MixError(RuntimeError):
    """A mix that cannot be planned or rendered as asked: a source file gone from disk,
    an output that cannot be written, more minutes than the library holds; the message
    says which and what to do."""


# ---- raised by cli (checks the argument parser cannot make)


class UsageError(Exception):
    """A bad option value or combination found after parsing: a path that does not exist,
    two flags that exclude each other (exit code 2, like the parser's own errors)."""


class CommandError(Exception):
    """The command cannot do what was asked, for a reason its message gives: no vectors to
    export, a picture that cannot be written (exit code 1)."""
