"""The ``nlpkit`` command line: run, predict, evaluate, export, report, explain, cache
info|clear, recipe show|check, plugins, and the commands that plugins add."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any, Iterator

import click

from nlpkit.errors import Interrupted, NlpkitError


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
def predict(run_dir: Path, input_path: str, output_path: Path | None, batch_size: int | None, keep: tuple[str, ...],
            fmt: str) -> None:
    """Predict INPUT with the model of RUN_DIR: one JSONL row per input line, in order,
    with its line number ("line") and a JSONL object's "id"; a file in the task's data
    format gets the task's row per example (docs/predict.md)."""
    from nlpkit.inputs import read_input
    from nlpkit.predict_file import predict_input
    from nlpkit.predictor import Predictor, read_meta

    # The quick checks first: nothing is loaded until the run, output and input are usable.
    read_meta(run_dir)
    if output_path is not None:
        _check_writable(output_path)
    source = read_input(input_path, click.get_binary_stream("stdin"))
    predictor = Predictor.load(run_dir)
    _emit(iter(predict_input(predictor, source, fmt=fmt, keep=keep, batch_size=batch_size)), output_path)


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
def evaluate(target: str, overrides: tuple[str, ...], data_path: Path | None, recipe_path: Path | None,
             predictions_path: Path | None) -> None:
    """Score TARGET on labelled data; prints metrics as JSON.

    TARGET is a run directory or an export (with --data), or with --recipe any checkpoint: a model
    directory, an alias, or a run directory, scored with the recipe's task, data and
    OVERRIDES (e.g. held-out perplexity of the encoder a pre-training run starts from).
    """
    from nlpkit.predictor import Predictor
    from nlpkit.rundir import ExportDir, RunDir

    if recipe_path is not None:
        from nlpkit.evaluation import evaluate_checkpoint

        if predictions_path is not None:
            raise NlpkitError("--predictions applies to run directories only, not to --recipe evaluations")
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

        predictor = Predictor.load(target)
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
    gradients, with captum's convergence delta) and the attention of every layer and head."""
    from nlpkit.explain import explain as explain_text, write_explanation
    from nlpkit.predictor import Predictor

    explanation = explain_text(Predictor.load(run_dir), text, steps)
    if output_path is None:
        click.echo(json.dumps(explanation.to_dict(), ensure_ascii=False))
        return
    write_explanation(explanation, output_path)
    click.echo(f"wrote {output_path}")


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

    loaded = load_recipe(recipe_path, overrides)
    click.echo(f"{recipe_path}: ok (task {loaded.task}, output {loaded.output_dir})")
    if not loaded.data.train:
        click.echo("note: no data.train, so `nlpkit run` cannot train it; `nlpkit evaluate --recipe` can use it")


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
