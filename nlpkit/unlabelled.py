"""Unlabelled transfer data (``distill.unlabelled``): extra training inputs whose only
target is the teacher's output.

The file is read as ``nlpkit predict --input`` reads one (:mod:`nlpkit.predict_file`):
one text, or one JSON value (a pair, a question with its context), a line; or a file in
the task's own data format, whose labels, if any, are not used. Its examples are encoded
as training data and cached like a split (the ``unlabelled`` split), and join the training
features marked :data:`~nlpkit.data.TEACHER_ONLY`: the hard loss leaves those rows out,
the soft and hidden-state losses cover them (:mod:`nlpkit.distill`).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from nlpkit.errors import RecipeError
from nlpkit.sections import Recipe

if TYPE_CHECKING:  # pragma: no cover
    from nlpkit.data import Split
    from nlpkit.task import Task

log = logging.getLogger("nlpkit")


def read_unlabelled(task: "Task", recipe: Recipe) -> "Split | None":
    """The examples of ``distill.unlabelled`` (the first ``distill.unlabelled_limit``), as
    a split; None when the recipe names no such file. A file that cannot be read is a
    recipe error, a bad line a data error that names its line."""
    from nlpkit.data import UNLABELLED, Split
    from nlpkit.inputs import read_input
    from nlpkit.predict_file import input_examples

    settings = recipe.distill
    if settings is None or settings.unlabelled is None:
        return None
    path = settings.unlabelled
    try:
        source = read_input(path)
    except FileNotFoundError:
        raise RecipeError(f"{recipe.source}: distill.unlabelled = {path}: no such file") from None
    except IsADirectoryError:
        raise RecipeError(f"{recipe.source}: distill.unlabelled = {path}: a directory, not a file of inputs") from None
    except OSError as exc:
        raise RecipeError(f"{recipe.source}: distill.unlabelled = {path}: cannot be read ({exc.strerror})") from None
    read = input_examples(task, source)
    examples = read.examples[: settings.unlabelled_limit]
    described = f"{path} ({read.data_format}, labels unused)" if read.data_format else path
    split = Split(UNLABELLED, examples, path, described)
    log.info("distill.unlabelled: %d inputs from %s", len(examples), described)
    return split


def check_unlabelled(recipe: Recipe) -> None:
    """What ``nlpkit recipe check`` can tell of ``distill.unlabelled``: the file is there,
    readable, and every line an input of the recipe's task."""
    from nlpkit.plugins import get_task
    from nlpkit.task import TaskSettings

    if recipe.distill is not None and recipe.distill.unlabelled is not None:
        read_unlabelled(get_task(recipe.task)(TaskSettings.of(recipe)), recipe)
