"""Held-out MLM perplexity of *any* checkpoint, with the masks of a pre-training recipe.

``nlpkit evaluate RUN_DIR --data FILE`` scores a finished run; ``nlpkit evaluate
CHECKPOINT --recipe RECIPE`` (or this module) scores the checkpoint a run starts from, or
any BERT checkpoint, which has no run directory::

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
    """Metrics of ``checkpoint`` on the recipe's ``split``: the core's
    :func:`nlpkit.evaluation.evaluate_checkpoint` (also ``nlpkit evaluate --recipe``)."""
    from nlpkit.evaluation import evaluate_checkpoint as evaluate

    return evaluate(recipe, checkpoint, overrides, split=split)


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
