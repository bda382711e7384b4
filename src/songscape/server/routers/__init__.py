"""The web app's routes, one module per resource (each an ``APIRouter`` named ``router``).

``page`` (``/``, ``/vendor/plotly.min.js``), ``stats`` (``/api/stats``), ``tracks``
(``/api/tracks``, ``/api/tracks/{id}``), ``audio`` (``/api/tracks/{id}/audio``, Range
requests), ``search`` (similar tracks, distances, text search), ``maps`` (``/api/map``) and
``recommend`` (``/api/recommend``). A new route goes into the module of its resource, or a
new module included in :func:`songscape.server.app.create_app`.
"""
