"""DSP descriptors: rhythm, key, loudness, energy, spectral shape.

Each descriptor is a small pure function over a numpy signal in its own module;
:func:`songscape.analysis.descriptors.describe` runs them all on one track.
"""
