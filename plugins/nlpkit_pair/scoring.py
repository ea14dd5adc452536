"""Next-sentence scores from a checkpoint that already has an NSP head, or from a run.

    nlpkit nsp-score SOURCE FILE [--max-length N] [--predictions OUT.jsonl]

SOURCE is a ``BertForPreTraining``/``BertForNextSentencePrediction`` checkpoint (its
``cls.seq_relationship`` weights), an nlpkit pre-training run's ``model/`` folder, or an
nlpkit ``task: nsp`` run directory. FILE is read like ``task: nsp`` data: a corpus (pairs
built from it with the default eval seed) or labelled pairs (TSV/CSV/JSONL ``text_a``,
``text_b``, ``label``). Prints the metrics as JSON. To score a recipe's held-out split
(e.g. the articles that ``recipes/nsp-wikitext.yaml`` holds out), use
``nlpkit evaluate SOURCE --recipe recipes/nsp-wikitext.yaml``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:  # pragma: no cover
    from nlpkit.predictor import Predictor


def load_nsp(source: str | Path, *, max_length: int = 128, batch_size: int = 64) -> "Predictor":
    """A predictor of ``P(b follows a)``: ``load_nsp(src).predict(("a", "b"))["probability"]``."""
    from nlpkit.encoder import load_encoder, load_tokenizer
    from nlpkit.errors import NlpkitError
    from nlpkit.model import TaskModel
    from nlpkit.predictor import MODEL_DIR, TASK_FILE, Predictor
    from nlpkit.recipe import build_recipe
    from nlpkit.plugins import resolve_encoder
    from nlpkit.task import TaskSettings
    from nlpkit_pair.heads import nsp_state
    from nlpkit_pair.nsp import NspTask

    path = Path(source)
    if (path / MODEL_DIR / TASK_FILE).is_file():
        task_name = json.loads((path / MODEL_DIR / TASK_FILE).read_text(encoding="utf-8")).get("task")
        if task_name == NspTask.name:
            return Predictor.load(path)
        path = path / MODEL_DIR  # another run (pre-training): its model folder holds the heads
    recipe = build_recipe(
        {"task": NspTask.name, "encoder": {"name": str(path if path.exists() else source), "max_length": max_length}},
        f"<nsp scorer for {source}>",
        check_paths=False,
    )
    if not nsp_state(resolve_encoder(recipe.encoder.name)):
        # A random head would score pairs at chance without saying so.
        raise NlpkitError(f"{source} has no next-sentence-prediction head (cls.seq_relationship): train one with task: nsp")
    task = NspTask(TaskSettings.of(recipe))
    tokenizer = load_tokenizer(recipe.encoder)
    encoder = load_encoder(recipe.encoder, len(tokenizer))
    head = task.build_head(encoder)  # loads the checkpoint's NSP weights
    return Predictor(task, tokenizer, TaskModel(encoder, head), batch_size=batch_size)


def score_file(predictor: "Predictor", path: str | Path) -> tuple[list[Any], list[dict[str, Any]], dict[str, Any]]:
    """Examples, predictions and metrics of a corpus or a file of labelled pairs."""
    examples = predictor.task.read(Path(path), "test")
    predictions, metrics = predictor.evaluate(examples)
    return examples, predictions, metrics


@click.command("nsp-score")
@click.argument("source")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--max-length", type=int, default=128, show_default=True, help="Longest pair, in tokens (an nsp run keeps its own).")
@click.option("--predictions", "predictions_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write one JSON line per pair here.")
def nsp_score(source: str, file: Path, max_length: int, predictions_path: Path | None) -> None:
    """Score the pairs of FILE with the next-sentence head of SOURCE.

    SOURCE is a checkpoint with a next-sentence-prediction head (BertForPreTraining), a
    pre-training run or a task: nsp run directory. FILE is a corpus (pairs built with the
    default eval seed) or labelled pairs (text_a, text_b, label). Prints the metrics as JSON.
    """
    predictor = load_nsp(source, max_length=max_length)
    examples, predictions, metrics = score_file(predictor, file)
    if predictions_path is not None:
        from nlpkit.rundir import write_lines

        count = write_lines(predictions_path, predictor.render(examples, predictions))  # whole or not at all
        click.echo(f"wrote {count} lines to {predictions_path}", err=True)
    click.echo(json.dumps(metrics, indent=2))
