"""Recognise recordings: identify clips by acoustic fingerprint, link copies of a song.

:mod:`~songscape.recordings.index` (inverted index over Chromaprint words),
:mod:`~songscape.recordings.identify` (a clip -> track and offset),
:mod:`~songscape.recordings.links` (whole-track matches: same recording or related),
:mod:`~songscape.recordings.duplicates` (groups, best copy, moves).
"""
