"""One run, start to finish: recipe -> data -> encoder + head -> Lightning -> run directory.

Read top to bottom, this file is the whole training path; everything task-specific is
behind the :class:`nlpkit.task.Task` contract.
"""

from __future__ import annotations

import json
import logging
import math
import os
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from nlpkit import rundir
from nlpkit.errors import Interrupted, PluginError, RecipeError, RunDirError, signal_of, sigterm_raises
from nlpkit.recipe import Recipe, apply_overrides, build_recipe, dump_recipe, load_recipe

if TYPE_CHECKING:  # pragma: no cover
    from nlpkit.cpu import KeptMemoryLimit

log = logging.getLogger("nlpkit")
FORMAT_SUFFIX = {"jsonl": ".jsonl", "conll": ".conll", "squad": ".json"}


@dataclass
class RunResult:
    """What ``nlpkit.run`` returns: the run directory and the metrics per split."""

    run_dir: Path
    metrics: dict[str, dict[str, Any]] = field(default_factory=dict)


def _is_worker_process() -> bool:
    """True in the extra processes that Lightning launches for multi-device training."""
    return int(os.environ.get("LOCAL_RANK", "0")) > 0 or int(os.environ.get("NODE_RANK", "0")) > 0


def setup_logging() -> None:
    logger = logging.getLogger("nlpkit")
    if not any(getattr(h, "_nlpkit_console", False) for h in logger.handlers):
        console = logging.StreamHandler(sys.stderr)
        console.setFormatter(logging.Formatter("nlpkit: %(message)s"))
        console._nlpkit_console = True  # type: ignore[attr-defined]
        logger.addHandler(console)
    if logger.level == logging.NOTSET:  # a level the user set stays
        logger.setLevel(logging.INFO)
    logger.propagate = False


def _override_list(overrides: Sequence[str] | Mapping[str, Any]) -> list[str]:
    """Overrides as ``key.sub=value`` strings; a mapping's values are written as JSON,
    which the recipe loader reads back as YAML."""
    if isinstance(overrides, Mapping):
        return [f"{key}={json.dumps(value)}" for key, value in overrides.items()]
    if isinstance(overrides, (str, bytes)) or not all(isinstance(o, str) for o in overrides):
        raise RecipeError(
            f"overrides are a list of 'key.sub=value' strings (e.g. ['train.epochs=1']) or a mapping "
            f"({{'train.epochs': 1}}), got {overrides!r:.80}"
        )
    return list(overrides)


def run(
    recipe: str | os.PathLike[str] | Mapping[str, Any] | Recipe,
    overrides: Sequence[str] | Mapping[str, Any] = (),
    *,
    resume: bool = False,
    overwrite: bool = False,
) -> RunResult:
    """Train and evaluate a recipe; write and return its run directory, which stays locked
    against other runs while this one goes on."""
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    setup_logging()
    recipe = _loaded(recipe, overrides)
    out = recipe.output_dir
    worker = _is_worker_process()
    lock = handler = None
    if not worker:  # the main process alone prepares, locks and logs
        _check_writable(recipe)
        lock = rundir.open_run(out, resume=resume, overwrite=overwrite, keep=_users_files(recipe))
    try:
        with sigterm_raises():
            if not worker:
                if resume:
                    _check_checkpoints(out)
                handler = rundir.attach_log(out)
                (out / rundir.RECIPE).write_text(dump_recipe(recipe), encoding="utf-8")
            return _run(recipe, out, resume=resume, worker=worker)
    except Interrupted:
        raise
    except KeyboardInterrupt as exc:  # outside the training steps (those stop with TrainingInterrupted)
        raise Interrupted(rundir.interrupted(out, signal_of(exc)), signum=signal_of(exc)) from None
    except SystemExit as exc:
        stop = _stopped_lightning(exc)
        if stop is None:
            raise
        raise Interrupted(rundir.interrupted(out, signal_of(stop)), signum=signal_of(stop)) from None
    finally:
        if handler is not None:
            logging.getLogger("nlpkit").removeHandler(handler)
            handler.close()
        if lock is not None:
            lock.release()


def _loaded(
    recipe: str | os.PathLike[str] | Mapping[str, Any] | Recipe, overrides: Sequence[str] | Mapping[str, Any]
) -> Recipe:
    overrides = _override_list(overrides)
    if isinstance(recipe, Recipe):
        if overrides:
            source = recipe.source or "<recipe>"
            recipe = build_recipe(apply_overrides(recipe.to_dict(), overrides, source), source)
    elif isinstance(recipe, (str, os.PathLike, Mapping)):
        recipe = load_recipe(recipe, overrides)
    else:
        raise RecipeError(f"a recipe is a YAML path, a mapping or a Recipe, got {type(recipe).__name__}")
    if not recipe.data.train:
        raise RecipeError(f"{recipe.source}: data.train is required to run a recipe")
    return recipe


def _check_writable(recipe: Recipe) -> None:
    """Say now, before any data is read, that the run could not write its results or cache."""
    out = recipe.output_dir
    if (why := rundir.unwritable(out)) is not None:
        raise RunDirError(
            f"output.dir {out} cannot be written: {why}; choose another with output.dir=..., or make it writable"
        )
    if recipe.data.cache:
        from nlpkit.data import cache_dir

        cache = cache_dir(recipe)
        if (why := rundir.unwritable(cache)) is not None:
            raise RecipeError(
                f"{recipe.source}: the feature cache {cache} cannot be written: {why}; set data.cache_dir (or "
                "$NLPKIT_CACHE) to a writable directory, or turn the cache off with data.cache=false"
            )


def _users_files(recipe: Recipe) -> list[str]:
    """What ``--overwrite`` must never delete: the recipe file, the data, a local encoder."""
    files = [getattr(recipe.data, split) for split in ("train", "validation", "test")]
    files += [name for name in (recipe.source, recipe.encoder.name) if name and Path(name).exists()]
    return [f for f in files if f]


def _check_checkpoints(out: Path) -> None:
    """``--resume``: refuse a checkpoint that is more than data before anything is read."""
    from nlpkit.callbacks import check_checkpoint

    for path in sorted((out / rundir.CHECKPOINTS).glob("*.ckpt")):
        check_checkpoint(path)


def _stopped_lightning(exc: SystemExit) -> KeyboardInterrupt | None:
    """The signal behind a ``SystemExit`` of Lightning's, if any: inside ``fit`` or
    ``validate`` it answers a KeyboardInterrupt (ours for SIGTERM included) with
    ``sys.exit(1)``, and its own SIGTERM handling (a run on several processes) with a
    SIGTERMException, exit code 0."""
    from pytorch_lightning.utilities.exceptions import SIGTERMException

    from nlpkit.errors import Terminated

    if isinstance(exc, SIGTERMException):
        return Terminated()
    return exc.__context__ if isinstance(exc.__context__, KeyboardInterrupt) else None


def _run(recipe: Recipe, out: Path, *, resume: bool, worker: bool) -> RunResult:
    import pytorch_lightning as pl

    _quiet_lightning()
    from nlpkit.cpu import KeptMemoryLimit, keep_freed_memory
    from nlpkit.data import eval_loader, train_loader
    from nlpkit.module import TaskModule
    from nlpkit.plugins import get_task

    started = time.time()
    precision = resolve_precision(recipe.train.precision)
    if recipe.train.precision == "auto" and not worker:
        log.info("train.precision auto: %s", precision)
    recipe = recipe.model_copy(update={"train": recipe.train.model_copy(update={"precision": precision})})
    pl.seed_everything(recipe.train.seed, workers=True, verbose=False)
    task = get_task(recipe.task)(recipe)
    splits = _read_data(task, recipe)
    train = splits["train"]
    tokenizer, model = _tokenizer_and_model(task, recipe, splits)
    # No page faults on the embedding gradient each step; kept memory has a ceiling (nlpkit/cpu.py).
    kept_memory = KeptMemoryLimit() if keep_freed_memory() else None

    validation = splits.get("validation")
    monitor = recipe.train.monitor or task.monitor
    mode = recipe.train.monitor_mode or task.monitor_mode
    source = f"{recipe.source}: train.monitor" if recipe.train.monitor else f"task {task.name}'s monitor"
    module = TaskModule(
        task, model, recipe.train,
        validation.examples if validation else (), validation.features if validation else (),
        monitor=monitor if validation else None, monitor_source=source,
    )
    trainer, best = _trainer(recipe, out, monitor if validation else None, mode, kept_memory)
    if recipe.train.num_workers > 0:
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    batches = train_loader(task, train.features, tokenizer, recipe)
    _check_validation_interval(recipe, math.ceil(len(batches) / trainer.world_size))
    val_loader = eval_loader(task, validation.features, tokenizer, recipe.train.eval_batch_size) if validation else None
    _fit(trainer, module, batches, val_loader, out / rundir.CHECKPOINTS / rundir.LAST if resume else None)
    if kept_memory is not None and kept_memory.trims:
        log.info("resident memory passed %.1f GB %d times; freed memory was handed back each time",
                 kept_memory.limit / 2**30, kept_memory.trims)
    final_is_best = False
    if validation is not None and best is not None:
        final_is_best = _score_the_last_steps(trainer, module, best, monitor, mode, val_loader)
    if worker or not trainer.is_global_zero:
        return RunResult(out)

    if best is not None and best.best_model_path and not final_is_best:
        _load_best(module, best, monitor)
    _export(out, recipe, task, tokenizer, module.model)

    metrics: dict[str, dict[str, Any]] = {"training": _training_metrics(trainer)}
    metrics.update(_evaluate_splits(out, recipe, splits))
    metrics["training"]["wall_seconds"] = round(time.time() - started, 1)
    rundir.write_json(out / rundir.METRICS, metrics)
    rundir.plot_learning_curve(out, monitor)
    if not recipe.output.keep_checkpoints:
        shutil.rmtree(out / rundir.CHECKPOINTS, ignore_errors=True)
    log.info("run directory: %s", out)
    return RunResult(out, metrics)


def _load_best(module: Any, best: Any, monitor: str) -> None:
    from nlpkit.callbacks import load_checkpoint

    log.info("loading the best checkpoint (%s = %.4f)", f"val_{monitor}", float(best.best_model_score))
    module.load_state_dict(load_checkpoint(best.best_model_path)["state_dict"])


def _quiet_lightning() -> None:
    import warnings

    warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\).*")
    # On --resume: the checkpoints are there to be resumed from, and keep_earlier_log has
    # already moved the earlier metrics.csv aside (Lightning says it would delete it).
    warnings.filterwarnings("ignore", message=r"Checkpoint directory .* exists and is not empty")
    warnings.filterwarnings("ignore", message=r"Experiment logs directory .* exists and is not empty")


def _read_data(task: Any, recipe: Recipe) -> dict[str, Any]:
    """The splits, read; the task set up on the training examples and its warnings said."""
    from nlpkit.data import read_splits

    splits = read_splits(task, recipe)
    task.setup(splits["train"].examples)
    _check_task_state(task)
    for name in ("validation", "test"):
        if name in splits:
            for warning in task.check(splits[name].examples, name):
                log.warning("data.%s: %s", name, warning)
    return splits


def _tokenizer_and_model(task: Any, recipe: Recipe, splits: Mapping[str, Any]) -> tuple[Any, Any]:
    """The tokenizer (trained or extended as the recipe says), every split encoded with it,
    and the encoder with the task's head."""
    from nlpkit.data import encode_split
    from nlpkit.encoder import load_encoder, load_tokenizer
    from nlpkit.model import TaskModel
    from nlpkit.vocab import extend_vocabulary

    tokenizer = load_tokenizer(recipe.encoder, texts=task.texts(splits["train"].examples))
    if recipe.encoder.extend_vocab:
        added = extend_vocabulary(tokenizer, task.texts(splits["train"].examples), recipe.encoder.extend_vocab_min_count)
        log.info("encoder.extend_vocab: added %d tokens from the training data", added)
    encoder = load_encoder(recipe.encoder, len(tokenizer))
    for split in splits.values():
        encode_split(task, split, tokenizer, recipe)
    return tokenizer, TaskModel(encoder, task.build_head(encoder))


def _fit(trainer: Any, module: Any, batches: Any, val_loader: Any, resume_from: Path | None) -> None:
    """``trainer.fit``, stopped by Ctrl-C or SIGTERM after a whole step that is then saved."""
    from nlpkit.callbacks import StopOnInterrupt

    interrupt = next(c for c in trainer.callbacks if isinstance(c, StopOnInterrupt))
    with interrupt.armed(enabled=trainer.world_size == 1):
        try:
            trainer.fit(module, train_dataloaders=batches, val_dataloaders=val_loader,
                        ckpt_path=str(resume_from) if resume_from else None)
        except StopOnInterrupt.Stop:
            raise interrupt.interrupted(trainer) from None
    interrupt.stop_if_requested(trainer)  # a signal in the last validation: training is over, but stop as asked


def _training_metrics(trainer: Any) -> dict[str, Any]:
    from nlpkit.callbacks import Throughput

    timing = next(c for c in trainer.callbacks if isinstance(c, Throughput))
    return {
        "epochs": trainer.current_epoch,
        "optimizer_steps": trainer.global_step,
        "train_seconds": round(timing.train_seconds, 2),
        # Every process sees its own shard: rank 0's count times the world size.
        "train_examples_per_second": round(
            timing.examples * trainer.world_size / timing.train_seconds, 2
        ) if timing.train_seconds > 0 else None,  # None: a resumed run with no step left
    }


def _check_task_state(task: Any) -> None:
    """The task's state is saved as JSON with the model when training ends: say now, not
    after the training, that it cannot be."""
    from nlpkit.plugins import task_plugin_info

    try:
        json.dumps(task.state_dict())
    except (TypeError, ValueError) as exc:
        plugin = task_plugin_info(task.name).name
        raise PluginError(
            f"task {task.name} (plugin '{plugin}'): state_dict() must be JSON-serialisable, it is saved in "
            f"model/task.json: {exc}"
        ) from None


def resolve_precision(precision: str) -> str:
    """``auto`` -> ``bf16-mixed`` on hardware with bf16 matrix units (CUDA with bf16,
    CPUs with AVX512-BF16 or AMX), else ``32``. Emulated bf16 on an AVX2-only CPU runs
    matrix products about 200x slower than fp32 (docs/benchmarks.md)."""
    if precision != "auto":
        return precision
    import torch

    if torch.cuda.is_available():
        return "bf16-mixed" if torch.cuda.is_bf16_supported() else "32"
    try:
        flags = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="ignore")
    except OSError:
        return "32"
    return "bf16-mixed" if ("avx512_bf16" in flags or "amx_bf16" in flags) else "32"


def _trainer(
    recipe: Recipe, out: Path, monitor: str | None, mode: str, kept_memory: "KeptMemoryLimit | None" = None
) -> tuple[Any, Any]:
    """The Lightning Trainer from our defaults and the recipe's ``trainer`` section."""
    import importlib.util

    import pytorch_lightning as pl
    from pytorch_lightning.loggers import CSVLogger, TensorBoardLogger

    from nlpkit.callbacks import SafeCheckpointIO

    lightning_log = logging.getLogger("pytorch_lightning.utilities.rank_zero")
    if not any(isinstance(f, _NoAdvert) for f in lightning_log.filters):
        lightning_log.addFilter(_NoAdvert())
    callbacks, best = _callbacks(recipe, out / rundir.CHECKPOINTS, monitor, mode, kept_memory)
    rundir.keep_earlier_log(out)  # on --resume Lightning would overwrite metrics.csv
    loggers: list[Any] = [CSVLogger(out, name=rundir.LOGS, version="")]
    if importlib.util.find_spec("tensorboard") is not None:
        loggers.append(TensorBoardLogger(out, name=rundir.LOGS, version="tensorboard", default_hp_metric=False))
    kwargs: dict[str, Any] = {
        "max_epochs": recipe.train.epochs,
        "max_steps": recipe.train.max_steps,
        "precision": recipe.train.precision,
        "gradient_clip_val": recipe.train.max_grad_norm,
        "callbacks": callbacks,
        "logger": loggers,
        "default_root_dir": str(out),
        "log_every_n_steps": recipe.train.log_every_n_steps,
        "num_sanity_val_steps": 0,
        "enable_model_summary": False,
    }
    kwargs.update(recipe.trainer)  # keys checked against the Trainer's arguments when the recipe loaded
    # Every checkpoint read or written goes through nlpkit's IO: data only, written whole.
    kwargs["plugins"] = [*_as_list(recipe.trainer.get("plugins")), SafeCheckpointIO()]
    from pytorch_lightning.utilities.exceptions import MisconfigurationException

    try:
        return pl.Trainer(**kwargs), best
    except (TypeError, ValueError, MisconfigurationException) as exc:  # Lightning's own checks of values
        raise RecipeError(f"{recipe.source}: trainer section: {exc}") from None


def _callbacks(
    recipe: Recipe, ckpt_dir: Path, monitor: str | None, mode: str, kept_memory: "KeptMemoryLimit | None"
) -> tuple[list[Any], Any]:
    """The Trainer's callbacks, and the best-checkpoint one among them (None without a monitor)."""
    import importlib.util

    from pytorch_lightning.callbacks import EarlyStopping, ModelCheckpoint

    from nlpkit.callbacks import LastCheckpoint, ReleaseKeptMemory, StopOnInterrupt, Throughput

    last = LastCheckpoint(ckpt_dir, recipe.train.checkpoint_every_n_steps)
    callbacks: list[Any] = [last, Throughput(), StopOnInterrupt(ckpt_dir / rundir.LAST)]
    if recipe.trainer.get("enable_progress_bar", True) and importlib.util.find_spec("rich") is not None:
        from pytorch_lightning.callbacks import RichProgressBar

        # Lightning's default Rich bar draws on stdout, among the metrics that `nlpkit run`
        # prints there; on stderr, `nlpkit run ... > out` keeps out clean (as tqdm does).
        callbacks.append(RichProgressBar(console_kwargs={"stderr": True}))
    if kept_memory is not None:
        callbacks.append(ReleaseKeptMemory(kept_memory))
    best = None
    if monitor:
        best = ModelCheckpoint(
            dirpath=ckpt_dir, filename="best", monitor=f"val_{monitor}", mode=mode, save_top_k=1,
            enable_version_counter=False,
        )
        callbacks.append(best)
        if recipe.train.early_stopping_patience:
            callbacks.append(EarlyStopping(f"val_{monitor}", patience=recipe.train.early_stopping_patience, mode=mode))
    return callbacks, best


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


class _NoAdvert(logging.Filter):
    """Lightning 2.6 advertises a cloud logging service at the start of every run."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "litlogger" not in str(record.msg)


def _score_the_last_steps(trainer: Any, module: Any, best: Any, monitor: str, mode: str, val_loader: Any) -> bool:
    """Validate the final weights if training went on after the last validation; True
    when they beat the best checkpoint (they are then the model to export).

    Lightning validates every ``int(batches * val_check_interval)`` batches, so unless that
    divides the epoch the last steps of a run are never scored and could never be the
    model kept; likewise a run cut short by ``max_steps`` mid-epoch.
    """
    if trainer.global_step == 0 or module.validated_step == trainer.global_step or trainer.world_size > 1:
        return False
    unscored = trainer.global_step - (module.validated_step or 0)
    trainer.validate(module, dataloaders=val_loader, verbose=False)
    score = module.last_validation.get(monitor)
    if not isinstance(score, (int, float)) or not math.isfinite(score):
        return False
    previous = None if best.best_model_score is None else float(best.best_model_score)
    better = previous is None or (score > previous if mode == "max" else score < previous)
    if trainer.is_global_zero:
        log.info("the last %d steps were not validated yet: val_%s = %.4f at step %d (%s)", unscored, monitor,
                 score, trainer.global_step, "the best: kept as the model" if better else "not better than the best")
    if better and best.best_model_path:  # best.ckpt stays the exported model (output.keep_checkpoints)
        trainer.save_checkpoint(best.best_model_path, weights_only=False)
    return better


def _check_validation_interval(recipe: Recipe, batches: int) -> None:
    """Lightning checks a whole-step ``val_check_interval`` against the epoch only inside
    ``fit`` (a traceback); say it as a recipe error instead."""
    interval = recipe.trainer.get("val_check_interval")
    if (
        isinstance(interval, int) and not isinstance(interval, bool) and interval > batches
        and recipe.trainer.get("check_val_every_n_epoch", 1) is not None
        and "limit_train_batches" not in recipe.trainer
    ):
        raise RecipeError(
            f"{recipe.source}: trainer.val_check_interval = {interval} steps, but an epoch has only {batches} "
            f"training batches; use at most {batches}, or a fraction of an epoch (0.25: four validations an epoch)"
        )


def _export(out: Path, recipe: Recipe, task: Any, tokenizer: Any, model: Any) -> None:
    """Save everything ``nlpkit.load`` needs: encoder, tokenizer, head, task state."""
    from safetensors.torch import save_model

    from nlpkit import __version__
    from nlpkit.plugins import task_plugin_info
    from nlpkit.predictor import HEAD_FILE, MODEL_DIR, TASK_FILE

    model_dir = out / MODEL_DIR
    model_dir.mkdir(parents=True, exist_ok=True)
    model.encoder.save_pretrained(model_dir)
    tokenizer.save_pretrained(model_dir)
    save_model(model.head, str(model_dir / HEAD_FILE))
    plugin = task_plugin_info(task.name)
    rundir.write_json(
        model_dir / TASK_FILE,
        {
            "task": task.name,
            "plugin": plugin.name,
            "plugin_version": plugin.version,
            "nlpkit_version": __version__,
            "state": task.state_dict(),
            "eval_batch_size": recipe.train.eval_batch_size,
            "precision": recipe.train.precision,
        },
    )
    (model_dir / rundir.RECIPE).write_text(dump_recipe(recipe), encoding="utf-8")


def _evaluate_splits(out: Path, recipe: Recipe, splits: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Score validation and test with the exported model: what ``nlpkit.load`` predicts."""
    from nlpkit.predictor import Predictor

    predictor = Predictor.load(out)
    results: dict[str, dict[str, Any]] = {}
    for name in ("validation", "test"):
        split = splits.get(name)
        if split is None:
            continue
        predictions = predictor.predict_examples(split.examples, split.features)
        if predictor.task.has_labels(split.examples):
            results[name] = predictor.task.compute_metrics(split.examples, predictions)
            summary = ", ".join(f"{k} {v:.4f}" for k, v in results[name].items() if isinstance(v, float))
            log.info("%s: %s", name, summary)
        if recipe.output.save_predictions:
            for fmt in predictor.task.prediction_formats:
                path = out / rundir.PREDICTIONS / f"{name}{FORMAT_SUFFIX.get(fmt, '.' + fmt)}"
                rundir.write_lines(path, predictor.task.render(split.examples, predictions, fmt))
    return results
