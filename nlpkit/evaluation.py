"""Scoring a checkpoint that has no run directory (e.g. the encoder a run starts from)
with a recipe's task, data and settings: the same prediction path as a finished run."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Sequence


def evaluate_checkpoint(
    recipe: str | Path | Mapping[str, Any],
    checkpoint: str | Path | None = None,
    overrides: Sequence[str] = (),
    *,
    split: str = "validation",
    data: str | Path | None = None,
) -> dict[str, Any]:
    """Metrics of ``checkpoint`` (default: the recipe's ``encoder.name``) on ``data`` or
    the recipe's ``split``, read as a run would read it (e.g. held-out documents).

    ``checkpoint`` may be a model directory, an alias, or a run directory (its ``model/``
    is used). The head comes from ``Task.build_head`` on that encoder, so this is
    meaningful for tasks whose head is part of the checkpoint (pre-training heads).
    """
    from nlpkit.data import read_examples, read_splits
    from nlpkit.encoder import load_encoder, load_tokenizer
    from nlpkit.vocab import grow_embeddings
    from nlpkit.errors import RecipeError
    from nlpkit.model import TaskModel
    from nlpkit.plugins import get_task
    from nlpkit.precision import resolve_precision
    from nlpkit.predictor import Predictor
    from nlpkit.recipe import load_recipe
    from nlpkit.rundir import model_dir
    from nlpkit.task import TaskSettings

    extra = list(overrides)
    if checkpoint is not None:
        path = model_dir(checkpoint).path
        name = path if path.exists() else checkpoint
        extra += [f"encoder.name={name}", "encoder.init=pretrained", "encoder.train_tokenizer=false"]
    loaded = load_recipe(recipe, extra)
    if loaded.encoder.extend_vocab:
        raise RecipeError(f"{loaded.source}: evaluating a checkpoint with encoder.extend_vocab is not supported")
    task = get_task(loaded.task)(TaskSettings.of(loaded))
    splits = read_splits(task, loaded)
    if "train" in splits:
        task.setup(splits["train"].examples)  # label maps, as in the run
    if data is not None:
        examples = read_examples(task, data, "evaluation")
    elif split in splits:
        examples = splits[split].examples
    else:
        raise RecipeError(f"{loaded.source}: the recipe has no {split} data (data.{split}); give --data")
    tokenizer = load_tokenizer(loaded.encoder)
    encoder = load_encoder(loaded.encoder, len(tokenizer))
    grow_embeddings(encoder, tokenizer)  # a row per token, as in the run
    import torch

    torch.manual_seed(loaded.train.seed)  # heads missing from the checkpoint start the same way
    model = TaskModel(encoder, task.build_head(encoder))
    precision = resolve_precision(loaded.train.precision)
    predictor = Predictor(task, tokenizer, model, batch_size=loaded.train.eval_batch_size, precision=precision,
                          pad_to_multiple_of=loaded.train.pad_to_multiple_of)
    _, metrics = predictor.evaluate(examples)
    return metrics
