"""Held-out MLM perplexity of *any* checkpoint, with the masks of a pre-training recipe.

``nlpkit evaluate RUN_DIR --data FILE`` scores a finished run; this module also scores
the checkpoint a run starts from (or any BERT checkpoint), which has no run directory::

    python -m nlpkit_pretrain.evaluate RECIPE [CHECKPOINT_OR_RUN_DIR] [key=value ...]

It builds the task from the recipe, reads the recipe's validation split (e.g. its held-out
articles), and runs the core's own prediction path (``nlpkit.predictor.Predictor``), so
the masks are the ones the run's validation used: derived from ``head.eval_seed`` and
each sequence's tokens. Numbers are comparable between checkpoints that share a tokenizer.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Mapping, Sequence


def evaluate_checkpoint(
    recipe: str | Path | Mapping[str, Any],
    checkpoint: str | Path | None = None,
    overrides: Sequence[str] = (),
    *,
    split: str = "validation",
) -> dict[str, Any]:
    """Metrics (perplexity, mlm_loss, mlm_accuracy, nsp_accuracy) of ``checkpoint`` (default:
    the recipe's ``encoder.name``) on the recipe's ``split``.

    ``checkpoint`` may be a BERT directory, an alias, or an nlpkit run directory (its
    ``model/`` folder, heads included, is used).
    """
    from nlpkit.encoder import load_encoder, load_tokenizer
    from nlpkit.errors import RecipeError
    from nlpkit.model import TaskModel
    from nlpkit.plugins import get_task
    from nlpkit.predictor import MODEL_DIR, TASK_FILE, Predictor
    from nlpkit.recipe import load_recipe

    extra = list(overrides)
    if checkpoint is not None:
        path = Path(checkpoint)
        if (path / MODEL_DIR / TASK_FILE).is_file():
            path = path / MODEL_DIR
        extra += [f"encoder.name={path if path.exists() else checkpoint}", "encoder.init=pretrained", "encoder.train_tokenizer=false"]
    loaded = load_recipe(recipe, extra)
    if loaded.encoder.init == "scratch" or loaded.encoder.train_tokenizer:
        raise RecipeError("evaluate a checkpoint: this recipe builds a new encoder; name a checkpoint or a run directory")
    data_path = getattr(loaded.data, split)
    if not data_path:
        raise RecipeError(f"{loaded.source}: data.{split} is not set")
    task = get_task(loaded.task)(loaded)
    examples = task.read(Path(data_path), split)
    tokenizer = load_tokenizer(loaded.encoder)
    encoder = load_encoder(loaded.encoder, len(tokenizer))
    model = TaskModel(encoder, task.build_head(encoder))
    predictor = Predictor(task, tokenizer, model, batch_size=loaded.train.eval_batch_size, precision=loaded.train.precision)
    _, metrics = predictor.evaluate(examples)
    return metrics


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help"):
        print(__doc__.strip())
        return 0 if args else 2
    recipe, rest = args[0], args[1:]
    checkpoint = rest.pop(0) if rest and "=" not in rest[0] else None
    from nlpkit.errors import NlpkitError

    try:
        metrics = evaluate_checkpoint(recipe, checkpoint, rest)
    except NlpkitError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    print(json.dumps(metrics, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
