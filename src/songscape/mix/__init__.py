"""DJ mixes (issue 13): from a handful of tracks, a seed, words, a listener or a path to
a planned, rendered, beat-matched mix with its tracklist.

* :mod:`~songscape.mix.tracks`: what each track brings (grid, sections, highlight,
  energy, key, embedding) and whether its beat grid can be trusted;
* :mod:`~songscape.mix.segments`: which part of each track plays, cut on downbeats at
  phrase boundaries;
* :mod:`~songscape.mix.cost`: the cost of a transition, part by part;
* :mod:`~songscape.mix.order`: the order (exact DP for small sets, beam search
  otherwise), chains over a whole catalog, and the energy arc;
* :mod:`~songscape.mix.plan`: the timeline (master tempo, overlaps, kinds);
* :mod:`~songscape.mix.render`: streaming the audio to a file;
* :mod:`~songscape.mix.outputs` and :mod:`~songscape.mix.plot`: JSON, CUE, M3U8, picture.
"""
