"""Synthetic data for tests and benchmarks, built in one place: libraries with tracks,
descriptors, embeddings and tags (:mod:`~songscape.synthetic.catalogs`), and listening
data with planted structure (:mod:`~songscape.synthetic.listening`).

It sits in the layer of :mod:`songscape.library`, above ingest, search and recommend, so
it can build what those layers read.
"""
