"""Finding music in a library: by example (vectors), by words, and on a map.

``index``
    :class:`~songscape.search.index.VectorIndex`, the faiss index of one model's track
    embeddings kept in step with the catalog (``index_params``: its kinds and parameters;
    ``index_rows``: the faiss index and its row table; ``index_files``: the files on disk).
``similar``
    Similar-track search with filters and explanations, and paths between two songs.
``text_query``
    Text queries ("calm piano for studying"); ``text_intent`` reads a query,
    ``vocabulary`` holds the words it knows (``data/vocabulary.json``), ``text_encoder``
    the sentence model and its embedding caches.
``maps``
    The library map: 3-D coordinates of every healthy track and k-means clusters.
"""
