"""Highlights and sections of tracks for people: choosing, exporting clips, plotting.

The computations live below (``analysis.structure``, ``analysis.highlight``,
``models.highlight_attention``); this package picks the stored result or recomputes one
for a non-default length or method (:mod:`~songscape.highlights.choose`), writes
clips with fades (:mod:`~songscape.highlights.export`), draws the timeline
(:mod:`~songscape.highlights.plot`) and trains the attention model
(:mod:`~songscape.highlights.training`).
"""
