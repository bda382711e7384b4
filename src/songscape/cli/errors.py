"""Exit codes, and the one table that turns an error into one.

Exit codes (docs/cli.md): 0 the run completed (even if some files failed: they are
listed), 1 nothing could be done (library unreadable, unknown track, undecodable file, a
missing extra), 2 usage error (bad flag or argument), 130 interrupted.

A command lets the errors of :mod:`songscape.errors` rise; :func:`exit_status` looks the
error's class up in :data:`EXIT_CODES` (the first of its bases that is listed, so
``DecodeError`` gets ``AudioError``'s code). Where a command gives an error another
meaning than its usual one (a ``DatasetError`` while reading ``--labels`` is a usage
error), the command raises :class:`~songscape.errors.UsageError` or
:class:`~songscape.errors.CommandError` from it.
"""

from __future__ import annotations

from songscape.errors import (
    AudioError,
    CheckpointError,
    CommandError,
    DatasetError,
    FingerprintError,
    ImportFormatError,
    LibraryError,
    LyricsError,
    MissingExtraError,
    MixError,
    NoEventsError,
    NoVectorError,
    PlaylistFormatError,
    PlaylistNotFoundError,
    PretrainedWeightsError,
    QueryError,
    RayClusterError,
    TagWriteError,
    TextModelError,
    TrackNotFoundError,
    TrainedModelError,
    TrainingBusyError,
    TrainingError,
    UnknownItemError,
    UnknownModelError,
    UnknownUserError,
    UnknownWordsError,
    UsageError,
    VectorIndexError,
)

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130

#: Error class -> exit code. Every class of :mod:`songscape.errors` that a command can meet
#: is covered (itself or a base); an error not covered is a bug and keeps its traceback.
EXIT_CODES: dict[type[Exception], int] = {
    # the command line's own
    UsageError: EXIT_USAGE,
    CommandError: EXIT_FAILED,
    MissingExtraError: EXIT_FAILED,  # the message names the extra to install
    # a name or a filter the user typed
    UnknownModelError: EXIT_USAGE,
    QueryError: EXIT_USAGE,
    # the library and its tracks
    LibraryError: EXIT_FAILED,
    TrackNotFoundError: EXIT_FAILED,
    NoVectorError: EXIT_FAILED,
    VectorIndexError: EXIT_FAILED,
    TextModelError: EXIT_FAILED,
    # audio files and models
    AudioError: EXIT_FAILED,
    PretrainedWeightsError: EXIT_FAILED,
    CheckpointError: EXIT_FAILED,
    TrainedModelError: EXIT_FAILED,
    FingerprintError: EXIT_FAILED,  # no Chromaprint, or a library without fingerprints
    LyricsError: EXIT_FAILED,  # lyrics that are not text (binary junk, empty file)
    # training data and training
    DatasetError: EXIT_FAILED,
    TrainingError: EXIT_FAILED,
    TrainingBusyError: EXIT_FAILED,  # the same name trained by another process
    RayClusterError: EXIT_FAILED,  # --ray-address: unreachable, or the token refused
    # listening data and recommendations
    ImportFormatError: EXIT_FAILED,
    UnknownUserError: EXIT_FAILED,
    UnknownItemError: EXIT_FAILED,
    UnknownWordsError: EXIT_FAILED,
    NoEventsError: EXIT_FAILED,
    PlaylistNotFoundError: EXIT_FAILED,
    MixError: EXIT_FAILED,
    PlaylistFormatError: EXIT_FAILED,  # a playlist file that is not M3U, a bad name
    TagWriteError: EXIT_FAILED,
}


def error_text(err: BaseException) -> str:
    """The user-facing message of ``err``: ``str(err)``, without the quotes a ``KeyError``
    puts around its message."""
    if isinstance(err, KeyError) and len(err.args) == 1:
        return str(err.args[0])
    return str(err)


def exit_code(err: BaseException) -> int | None:
    """The exit code :data:`EXIT_CODES` gives ``err``'s class (or its nearest listed base);
    None for an error that is not songscape's own."""
    for cls in type(err).__mro__:
        code = EXIT_CODES.get(cls)
        if code is not None:
            return code
    return None


def exit_status(err: BaseException) -> tuple[str, int] | None:
    """``(message, exit code)`` for a songscape error, None for any other error.

    Parameters
    ----------
    err : BaseException
        What a command raised.

    Returns
    -------
    tuple of (str, int) or None
        The one line to print after ``songscape: error:`` and the code to exit with; None
        when ``err`` is not one of :mod:`songscape.errors` (a bug: let its traceback show).
    """
    code = exit_code(err)
    return None if code is None else (error_text(err), code)
