"""Optional dependency groups: which extra a feature needs, and one clear error when it is
missing.

``pip install songscape`` gives ingest, analysis, the models and search; the web app,
training, recommendations and the scale-out backends come with the extras named in
:data:`EXTRAS` (``pip install 'songscape[server]'``; ``[all]`` installs every one).
"""

from __future__ import annotations

import importlib
from types import ModuleType

from songscape.errors import MissingExtraError

#: Extra -> the third-party modules it provides.
EXTRAS: dict[str, tuple[str, ...]] = {
    "server": ("fastapi", "uvicorn", "umap", "plotly", "sklearn"),
    "train": ("sklearn",),
    "recommend": ("implicit", "gensim", "sklearn"),
    "scale": ("redis",),
}


def require(module: str, extra: str, feature: str) -> ModuleType:
    """Import ``module`` or raise :class:`~songscape.errors.MissingExtraError`.

    Parameters
    ----------
    module : str
        The third-party module, e.g. ``"fastapi"``.
    extra : str
        The extra that installs it (a key of :data:`EXTRAS`).
    feature : str
        What the user asked for, for the message (``"songscape serve"``).
    """
    if extra not in EXTRAS or module.split(".")[0] not in EXTRAS[extra]:
        raise ValueError(f"{module!r} is not provided by an extra named {extra!r}")
    try:
        return importlib.import_module(module)
    except ImportError as err:
        if err.name is not None and err.name.split(".")[0] != module.split(".")[0]:
            raise  # the module is there but one of its own dependencies is broken
        raise MissingExtraError(extra, module, feature) from err
