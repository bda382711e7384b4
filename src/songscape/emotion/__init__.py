"""Emotion of the library's tracks (issue 19): what the ``emotion`` stage stored, lyrics
import and re-fusion, summaries for the CLI, the API and the map.

The computations live below the catalog (:mod:`songscape.models.emotion`,
:mod:`songscape.models.lyrics`, :mod:`songscape.models.emotion_fusion`); this package is
the user-facing side, reached through :class:`~songscape.library.library.Library`.
"""
