"""The ``nlpkit`` command line: run, predict, embed, evaluate, export, serve, report,
explain, cache info|clear, recipe show|check, plugins, and the commands that plugins add."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any, Iterator

import click

from nlpkit.errors import InputError, Interrupted, NlpkitError


class _Group(click.Group):
    """Turns nlpkit's own errors into one paragraph on stderr and exit code 2, and Ctrl-C
    into ``stopped: ...`` and exit code 130 (click would print "Aborted!" and exit 1).

    Also serves the commands that plugins add (``register_commands``), so they run under
    the same handling. They are looked up only for a name that is not the core's, so that
    ``nlpkit run`` and the like never wait for the plugins to load.
    """

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = super().get_command(ctx, cmd_name)
        return command if command is not None else _plugin_commands().get(cmd_name)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return super().list_commands(ctx) + sorted(_plugin_commands())  # no clashes: plugins.py refuses them

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The core's commands, then the plugins' under a heading of their own."""
        core = [(name, self.commands[name]) for name in super().list_commands(ctx)]
        added = sorted(_plugin_commands().items())
        limit = formatter.width - 6 - max((len(name) for name, _ in core + added), default=0)
        for title, commands in (("Commands", core), ("Plugin commands", added)):
            rows = [(name, cmd.get_short_help_str(limit)) for name, cmd in commands if not cmd.hidden]
            if rows:
                with formatter.section(title):
                    formatter.write_dl(rows)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (NlpkitError, Interrupted) as exc:
            click.echo(f"{exc.label}: {exc}", err=True)
            sys.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.echo("stopped: interrupted (Ctrl-C)", err=True)
            sys.exit(Interrupted.exit_code)


def _plugin_commands() -> dict[str, click.Command]:
    from nlpkit.plugins import registry

    return registry().commands


# Subcommands, the plugins' included, inherit the context settings: -h everywhere.
@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="nlpkit")
def main() -> None:
    """Fine-tune and pre-train BERT encoders from YAML recipes."""


@main.command()
@click.argument("recipe", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("overrides", nargs=-1)
@click.option("--resume", is_flag=True, help="Continue an interrupted run from its last checkpoint.")
@click.option("--overwrite", is_flag=True, help="Replace an earlier run in the output directory.")
def run(recipe: Path, overrides: tuple[str, ...], resume: bool, overwrite: bool) -> None:
    """Train and evaluate RECIPE; OVERRIDES are key.sub=value pairs."""
    from nlpkit.train import run as run_recipe

    result = run_recipe(recipe, overrides, resume=resume, overwrite=overwrite)
    if result.metrics:
        for split in ("validation", "test"):
            if split in result.metrics:
                flat = {k: round(v, 4) for k, v in result.metrics[split].items() if isinstance(v, float)}
                click.echo(f"{split}: {json.dumps(flat)}")
        click.echo(f"run directory: {result.run_dir}")


def _check_writable(path: Path) -> None:
    """Refuse an --output path that cannot be written before the model loads and runs.
    Missing folders are created when writing (as before); the nearest existing one must
    be a writable directory. (Permission bits do not stop root; a file in the way does.)"""
    folder = path.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not folder.is_dir():
        raise NlpkitError(f"--output {path} cannot be written: {folder} is a file, not a directory")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise NlpkitError(f"--output {path} cannot be written: the directory {folder} is not writable")


def _keep(ctx: click.Context, param: click.Parameter, value: tuple[str, ...]) -> tuple[str, ...]:
    """``--keep a --keep b`` or ``--keep a,b``."""
    return tuple(name.strip() for item in value for name in item.split(",") if name.strip())


QUANTIZE_HELP = "int8: predict with onnxruntime's int8 graph of the model, made once and cached (docs/distill.md)."


@main.command()
@click.argument("run_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--input", "input_path", required=True, type=click.Path(exists=True, dir_okay=False, allow_dash=True),
              help="Plain text (one text per line), JSONL (one input per line), a file in the task's data format "
              "(CoNLL, SQuAD JSON, a TSV/CSV table), a Parquet or Arrow file, or - for standard input.")
@click.option("--output", "output_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Write here instead of standard output.")
@click.option("--batch-size", type=click.IntRange(min=1), help="Inputs per forward pass (default: the run's "
              "train.eval_batch_size); predictions do not depend on it.")
@click.option("--keep", multiple=True, callback=_keep, metavar="FIELD",
              help="Copy this field of each JSONL input (or 'text', a plain line's text) into its output row; "
              "repeat it or give a comma-separated list.")
@click.option("--format", "fmt", default="jsonl", show_default=True, help="Output format (jsonl, or a task's own).")
@click.option("--quantize", type=click.Choice(["int8"]), help=QUANTIZE_HELP)
def predict(run_dir: Path, input_path: str, output_path: Path | None, batch_size: int | None, keep: tuple[str, ...],
            fmt: str, quantize: str | None) -> None:
    """Predict INPUT with the model of RUN_DIR: one JSONL row per input line, in order,
    with its line number ("line") and a JSONL object's "id"; a file in the task's data
    format gets the task's row per example (docs/predict.md)."""
    from nlpkit.inputs import read_input
    from nlpkit.predict_file import predict_input
    from nlpkit.predictor import read_meta
    from nlpkit.quantize import load

    # The quick checks first: nothing is loaded until the run, output and input are usable.
    read_meta(run_dir)
    if output_path is not None:
        _check_writable(output_path)
    source = read_input(input_path, click.get_binary_stream("stdin"))
    predictor = load(run_dir, quantize)
    _emit(iter(predict_input(predictor, source, fmt=fmt, keep=keep, batch_size=batch_size)), output_path)


@main.command()
@click.argument("source", metavar="MODEL")
@click.option("--input", "input_path", required=True, type=click.Path(exists=True, dir_okay=False, allow_dash=True),
              help="One text per line, JSONL (a string or an object with \"text\" per line), or - for standard input.")
@click.option("--output", "output_path", type=click.Path(dir_okay=False, path_type=Path),
              help="X.npy (an array, one row per line) or X.jsonl; default: JSONL on standard output.")
@click.option("--pooling", type=click.Choice(["mean", "cls"]), default="mean", show_default=True,
              help="mean: the mean over real tokens; cls: the [CLS] token's state.")
@click.option("--normalize", is_flag=True, help="Scale each vector to unit length (cosine = dot product).")
@click.option("--batch-size", type=click.IntRange(min=1), help="Texts per forward pass.")
def embed(source: str, input_path: str, output_path: Path | None, pooling: str, normalize: bool,
          batch_size: int | None) -> None:
    """Sentence embeddings of INPUT from MODEL: a run directory, an export, an encoder
    alias (minilm) or a transformers model folder."""
    from nlpkit import embedder
    from nlpkit.embed import jsonl_rows, texts_of, write_embeddings
    from nlpkit.inputs import is_jsonl, parse_lines, read_input

    if output_path is not None:
        if output_path.suffix.lower() not in (".npy", ".jsonl"):
            raise NlpkitError(f"--output {output_path}: name a .npy or a .jsonl file")
        _check_writable(output_path)
    given = read_input(input_path, click.get_binary_stream("stdin"))
    parsed = parse_lines(given, is_jsonl(given))
    texts = texts_of(parsed, given.name)
    vectors = embedder(source).embed(texts, batch_size=batch_size, pooling=pooling, normalize=normalize)
    lines = [line for line, _ in parsed]
    if output_path is None:
        _emit(jsonl_rows(vectors, lines), None)
        return
    write_embeddings(vectors, output_path, lines)
    click.echo(f"wrote {len(lines)} embeddings of dimension {vectors.shape[1]} to {output_path}", err=True)


@main.command()
@click.argument("source", metavar="MODEL", type=click.Path(file_okay=False, path_type=Path))
@click.option("--host", default="127.0.0.1", show_default=True,
              help="The address to listen on; 0.0.0.0 opens the server to the network.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535))
@click.option("--workers", default=1, show_default=True, type=click.IntRange(min=1),
              help="Processes, each with its own copy of the model (they share the cores).")
@click.option("--threads", type=click.IntRange(min=1),
              help="torch threads per worker [default: the cores, divided among the workers].")
@click.option("--max-batch-size", default=32, show_default=True, type=click.IntRange(min=1),
              help="Inputs per forward pass; 1 turns dynamic batching off.")
@click.option("--max-wait-ms", default=5.0, show_default=True, type=click.FloatRange(min=0),
              help="How long an input waits for others to join its batch.")
@click.option("--max-body-bytes", default=1_000_000, show_default=True, type=click.IntRange(min=1))
@click.option("--max-inputs", default=256, show_default=True, type=click.IntRange(min=1),
              help="Inputs (or texts to embed) per request.")
@click.option("--max-chars", default=20_000, show_default=True, type=click.IntRange(min=1),
              help="Characters per text (each text of an input).")
def serve(source: Path, **options: Any) -> None:
    """Serve MODEL (a run directory or an export) over HTTP: POST /predict, POST /embed,
    GET /health, GET /info, and the OpenAPI schema at /docs and /openapi.json."""
    from nlpkit.predictor import read_meta

    read_meta(source)  # a missing or damaged model is said now, before the server starts
    try:
        from nlpkit.serve import ServeSettings, serve as run_server
    except ImportError as exc:
        raise NlpkitError(f"nlpkit serve needs the serve extra ({exc}): pip install 'nlpkit[serve]'") from None
    run_server(source, ServeSettings(**options))


@main.command()
@click.argument("target")
@click.argument("overrides", nargs=-1)
@click.option("--data", "data_path", type=click.Path(exists=True, path_type=Path),
              help="A labelled file in the format of the recipe, or a table: Parquet, Arrow, a datasets directory "
              "(default with --recipe: its validation data).")
@click.option("--recipe", "recipe_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Score TARGET as a plain checkpoint (no run directory) with this recipe's task and data.")
@click.option("--predictions", "predictions_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write the predictions (JSONL) here (run directories).")
@click.option("--quantize", type=click.Choice(["int8"]), help=QUANTIZE_HELP)
def evaluate(target: str, overrides: tuple[str, ...], data_path: Path | None, recipe_path: Path | None,
             predictions_path: Path | None, quantize: str | None) -> None:
    """Score TARGET on labelled data; prints metrics as JSON.

    TARGET is a run directory or an export (with --data), or with --recipe any checkpoint: a model
    directory, an alias, or a run directory, scored with the recipe's task, data and
    OVERRIDES (e.g. held-out perplexity of the encoder a pre-training run starts from).
    """
    from nlpkit.quantize import load
    from nlpkit.rundir import ExportDir, RunDir

    if recipe_path is not None:
        from nlpkit.evaluation import evaluate_checkpoint

        given = [name for name, value in (("--predictions", predictions_path), ("--quantize", quantize)) if value]
        if given:
            raise NlpkitError(f"{given[0]} applies to run directories only, not to --recipe evaluations")
        metrics = evaluate_checkpoint(recipe_path, target, overrides, data=data_path)
    else:
        if not RunDir(target).finished and not ExportDir(Path(target)).is_export:
            raise NlpkitError(
                f"{target} is neither a finished nlpkit run directory nor an export; to score a plain checkpoint "
                "give a recipe: nlpkit evaluate CHECKPOINT --recipe RECIPE"
            )
        if data_path is None:
            raise NlpkitError("nlpkit evaluate RUN_DIR needs --data FILE (a labelled file)")
        if overrides:
            raise NlpkitError("overrides apply to --recipe evaluations only")
        from nlpkit.data import read_examples

        predictor = load(target, quantize)
        hint = "the model's recipe reads data in that encoding (data.encoding): convert the file"
        examples = read_examples(predictor.task, data_path, "evaluation", hint)
        for warning in predictor.task.check(examples, "evaluation"):
            click.echo(f"warning: {data_path}: {warning}", err=True)
        predictions, metrics = predictor.evaluate(examples)
        if predictions_path:
            _emit(predictor.render(examples, predictions, "jsonl"), predictions_path)
    click.echo(json.dumps(metrics, indent=2, ensure_ascii=False))


@main.command()
@click.argument("run_dir", type=click.Path(file_okay=False, path_type=Path))
@click.argument("out", type=click.Path(path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["hf", "onnx"]), default="hf", show_default=True,
              help="hf: plain transformers (AutoModelFor..., pipeline); onnx: onnxruntime.")
@click.option("--quantize", type=click.Choice(["int8"]), help="Quantize the weights (onnx only).")
@click.option("--overwrite", is_flag=True, help="Replace an earlier export in OUT.")
def export(run_dir: Path, out: Path, fmt: str, quantize: str | None, overwrite: bool) -> None:
    """Export the model of RUN_DIR into OUT, a new or empty directory, with a model card;
    the export is checked against the run's model before it is kept."""
    from nlpkit.export import export as export_run

    path = export_run(run_dir, out, format=fmt, quantize=quantize, overwrite=overwrite)
    click.echo(f"export directory: {path}")


def _emit(lines: Iterator[str], path: Path | None) -> None:
    if path is None:
        for line in lines:
            click.echo(line)
        return
    from nlpkit.rundir import write_lines

    count = write_lines(path, lines)
    click.echo(f"wrote {count} lines to {path}", err=True)


@main.command()
@click.argument("run_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--split", type=click.Choice(["validation", "test"]), default=None,
              help="The split to report on (default: validation if the run scored it, else test).")
@click.option("--output", "output_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="The HTML file to write (default: RUN_DIR/report.html, or report-test.html for --split test).")
def report(run_dir: Path, split: str | None, output_path: Path | None) -> None:
    """Write an HTML report of a finished run: the run, its learning curves, and what its
    saved predictions show (per class or entity type, errors, calibration)."""
    from nlpkit.report import write_report

    click.echo(f"wrote {write_report(run_dir, split, output_path)}")


@main.command()
@click.argument("run_dir", type=click.Path(file_okay=False, path_type=Path))
@click.argument("text")
@click.option("--output", "output_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="explain.html (a page) or explain.json (for programs); default: JSON on stdout.")
@click.option("--steps", type=click.IntRange(min=1), default=50, show_default=True,
              help="Integration steps of integrated gradients.")
def explain(run_dir: Path, text: str, output_path: Path | None, steps: int) -> None:
    """Explain the prediction of a finished run for TEXT: token attributions (integrated
    gradients, with captum's convergence delta) for the predicted label, each entity found
    or the answer's start and end, and the attention of every layer and head. TEXT is a
    JSON object for a task whose input has fields: '{"question": ..., "context": ...}'."""
    from nlpkit.predictor import Predictor

    explanation = Predictor.load(run_dir).explain(_explained_input(text), steps=steps)
    if output_path is None:
        click.echo(json.dumps(explanation.to_dict(), ensure_ascii=False))
        return
    from nlpkit.explain import write_explanation

    write_explanation(explanation, output_path)
    click.echo(f"wrote {output_path}")


def _explained_input(text: str) -> Any:
    """TEXT as given, or the object it spells if it is a JSON object."""
    if not text.lstrip().startswith("{"):
        return text
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"TEXT starts with '{{' but is not a JSON object: {exc}") from None


@main.group()
def cache() -> None:
    """The feature cache: where it is, what it holds, emptying it."""


_CACHE_DIR = click.option(
    "--dir", "root", type=click.Path(file_okay=False, path_type=Path),
    help="The cache's root, as data.cache_dir (default: $NLPKIT_CACHE, else ~/.cache/nlpkit).",
)


@cache.command()
@_CACHE_DIR
@click.option("--json", "as_json", is_flag=True, help="Print JSON (for programs).")
def info(root: Path | None, as_json: bool) -> None:
    """Where the feature cache lives, how big it is, and each store: task, split,
    features, size, when it was written."""
    from nlpkit.cache import ENVIRONMENT, entries, features_dir, info_json, info_lines

    folder = features_dir(root)
    found = entries(folder)
    if as_json:
        click.echo(json.dumps(info_json(folder, found), indent=2))
        return
    origin = "--dir" if root else f"${ENVIRONMENT}" if os.environ.get(ENVIRONMENT) else "the default"
    for line in info_lines(folder, found, origin):
        click.echo(line)


@cache.command()
@_CACHE_DIR
@click.option("--task", help="Only the stores of this task.")
def clear(root: Path | None, task: str | None) -> None:
    """Delete the feature stores (runs encode their data again); other files in the
    folder are left alone."""
    from nlpkit.cache import clear as clear_stores, features_dir, size_text

    folder = features_dir(root)
    removed = clear_stores(folder, task)
    freed = size_text(sum(e.size for e in removed))
    click.echo(f"removed {len(removed)} store{'' if len(removed) == 1 else 's'} ({freed}) from {folder}")


@main.group()
def recipe() -> None:
    """Inspect recipes without training."""


@recipe.command()
@click.argument("recipe_path", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("overrides", nargs=-1)
def show(recipe_path: Path, overrides: tuple[str, ...]) -> None:
    """Print the fully resolved RECIPE (defaults, environment and overrides applied)."""
    from nlpkit.recipe import dump_recipe, load_recipe

    click.echo(dump_recipe(load_recipe(recipe_path, overrides)), nl=False)


@recipe.command()
@click.argument("recipe_path", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("overrides", nargs=-1)
def check(recipe_path: Path, overrides: tuple[str, ...]) -> None:
    """Validate RECIPE: keys, types, data files and task; trains nothing."""
    from nlpkit.recipe import load_recipe
    from nlpkit.unlabelled import check_unlabelled

    loaded = load_recipe(recipe_path, overrides)
    check_unlabelled(loaded)  # every line an input of the task, as a run reads them
    click.echo(f"{recipe_path}: ok (task {loaded.task}, output {loaded.output_dir})")
    if not loaded.data.train:
        click.echo("note: no data.train, so `nlpkit run` cannot train it; `nlpkit evaluate --recipe` can use it")


@recipe.command()
@click.argument("recipe_path", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("overrides", nargs=-1)
@click.option("--split", type=click.Choice(["train", "validation", "test"]), default="train", show_default=True,
              help="The split whose texts are written, after the recipe's limits and held-out parts.")
@click.option("--output", "output_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Write here instead of standard output.")
def texts(recipe_path: Path, overrides: tuple[str, ...], split: str, output_path: Path | None) -> None:
    """Write the raw texts of RECIPE's data, one a line: the text a pre-training run
    adapts the encoder to before fine-tuning (docs/tasks/pretrain.md). The training split
    is the one the recipe trains on, so a held-out part never reaches it."""
    from nlpkit.data import read_splits
    from nlpkit.plugins import get_task
    from nlpkit.recipe import load_recipe
    from nlpkit.task import TaskSettings

    loaded = load_recipe(recipe_path, overrides)
    if output_path is not None:
        _check_writable(output_path)
    task = get_task(loaded.task)(TaskSettings.of(loaded))
    splits = read_splits(task, loaded)
    if split not in splits:
        raise NlpkitError(f"{recipe_path}: the recipe has no {split} data")
    # A text with a line break would read back as two: a text file keeps one a line.
    lines = [" ".join(text.split()) for text in task.texts(splits[split].examples)]
    body = "".join(f"{line}\n" for line in lines if line)
    if output_path is None:
        click.echo(body, nl=False)
        return
    output_path.parent.mkdir(parents=True, exist_ok=True)
    partial = output_path.with_name(f".{output_path.name}.partial")
    partial.write_text(body, encoding="utf-8")
    partial.replace(output_path)
    click.echo(f"{output_path}: {body.count(chr(10))} texts of the {split} split", err=True)


@main.command()
def plugins() -> None:
    """List the loaded plugins: versions, tasks, encoders, commands."""
    from nlpkit.plugins import registry

    failed = False
    for info in registry().plugins.values():
        provides = []
        if info.tasks:
            provides.append("tasks: " + ", ".join(info.tasks))
        if info.encoders:
            provides.append("encoders: " + ", ".join(info.encoders))
        if info.commands:
            provides.append("commands: " + ", ".join(info.commands))
        status = f"FAILED: {info.error}" if info.error else "; ".join(provides) or "(nothing registered)"
        failed |= info.error is not None
        click.echo(f"{info.name} {info.version}  {status}")
    if failed:
        sys.exit(1)
