"""Optional dependency groups: which extra a feature needs, and one clear error when it is
missing.

``pip install songscape`` gives ingest, analysis, the models and search; the web app,
training, recommendations and the scale-out backends come with the extras named in
:data:`EXTRAS` (``pip install 'songscape[server]'``; ``[all]`` installs every one).
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from types import ModuleType

from songscape.errors import MissingExtraError

#: Extra -> the third-party modules it provides.
EXTRAS: dict[str, tuple[str, ...]] = {
    "server": ("fastapi", "uvicorn", "umap", "plotly", "sklearn", "limits"),
    "train": ("sklearn",),
    "recommend": ("implicit", "gensim", "sklearn"),
    "scale": ("redis", "pymilvus", "ray"),
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


def is_installed(module: str) -> bool:
    """Whether ``module`` can be imported, found without importing it (so a check costs
    nothing at start-up); a module blocked in ``sys.modules`` (set to None) counts as missing."""
    top = module.split(".")[0]
    if top in sys.modules:
        return sys.modules[top] is not None
    return importlib.util.find_spec(top) is not None


def require_installed(extra: str, feature: str) -> None:
    """Raise :class:`~songscape.errors.MissingExtraError` unless every module of ``extra``
    (:data:`EXTRAS`) is installed; nothing is imported."""
    for module in EXTRAS[extra]:
        if not is_installed(module):
            raise MissingExtraError(extra, module, feature)
