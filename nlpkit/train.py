"""One run, start to finish, in four stages that read top to bottom in :func:`_run`:

1. :func:`prepare_data`: the task, its splits read, the tokenizer, every split encoded;
2. :func:`build_model`: the encoder with the task's head, in the LightningModule;
3. :func:`fit`: the Lightning Trainer and its loaders, stopped cleanly by Ctrl-C or SIGTERM;
4. :func:`export` and :func:`score`: the best weights saved as ``model/``, then loaded back
   to score the validation and test data, as ``nlpkit.load`` would.

:func:`run` wraps them: it loads the recipe, makes the run directory ready and locks it
(:mod:`nlpkit.rundir`, which owns its layout), and turns an interrupt into a message
that says what was kept. Everything task-specific is behind the
:class:`nlpkit.task.Task` contract.
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
from nlpkit.precision import with_resolved_precision
from nlpkit.recipe import Recipe, apply_overrides, build_recipe, dump_recipe, load_recipe
from nlpkit.rundir import ModelDir, RunDir

if TYPE_CHECKING:  # pragma: no cover
    from nlpkit.cpu import KeptMemoryLimit
    from nlpkit.data import Split
    from nlpkit.distill import Distiller
    from nlpkit.module import TaskModule
    from nlpkit.monitor import Monitor
    from nlpkit.task import Task

log = logging.getLogger("nlpkit")


@dataclass
class RunResult:
    """What ``nlpkit.run`` returns: the run directory and the metrics per split."""

    run_dir: Path
    metrics: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass
class Data:
    """What :func:`prepare_data` hands on: the task (set up on the training examples),
    the splits with their features, and the tokenizer that encoded them."""

    task: "Task"
    splits: dict[str, "Split"]
    tokenizer: Any

    @property
    def validation(self) -> "Split | None":
        return self.splits.get("validation")

    @property
    def training_features(self) -> Sequence[Any]:
        """The training split's features, then those of ``distill.unlabelled``, if any."""
        from nlpkit.data import UNLABELLED, JoinedFeatures

        train, unlabelled = self.splits["train"], self.splits.get(UNLABELLED)
        return train.features if unlabelled is None else JoinedFeatures(train.features, unlabelled.features)


# -- the run ---------------------------------------------------------------------------


def run(
    recipe: str | os.PathLike[str] | Mapping[str, Any] | Recipe,
    overrides: Sequence[str] | Mapping[str, Any] = (),
    *,
    data: Mapping[str, Any] | None = None,
    resume: bool = False,
    overwrite: bool = False,
) -> RunResult:
    """Train and evaluate a recipe; write and return its run directory, which stays locked
    against other runs while this one goes on. ``data``: splits given in memory."""
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    setup_logging()
    recipe = _loaded(recipe, overrides, given=data or {})
    run_dir = RunDir(recipe.output_dir)
    worker = _is_worker_process()
    lock = handler = None
    if not worker:  # the main process alone prepares, locks and logs
        _check_writable(recipe)
        lock = rundir.open_run(run_dir.path, resume=resume, overwrite=overwrite, keep=_users_files(recipe))
    try:
        with sigterm_raises():
            if not worker:
                if resume:
                    _check_checkpoints(run_dir)
                handler = rundir.attach_log(run_dir.path)
            recipe = with_resolved_precision(recipe, say=not worker)
            if not worker:  # the recipe as it runs; model/recipe.yaml is the same
                run_dir.recipe.write_text(dump_recipe(recipe), encoding="utf-8")
            return _run(recipe, run_dir, data or {}, resume=resume, worker=worker)
    except Interrupted:
        raise
    except KeyboardInterrupt as exc:  # outside the training steps (those stop with TrainingInterrupted)
        raise Interrupted(rundir.interrupted(run_dir.path, signal_of(exc)), signum=signal_of(exc)) from None
    except SystemExit as exc:
        stop = _stopped_lightning(exc)
        if stop is None:
            raise
        raise Interrupted(rundir.interrupted(run_dir.path, signal_of(stop)), signum=signal_of(stop)) from None
    finally:
        if handler is not None:
            logging.getLogger("nlpkit").removeHandler(handler)
            handler.close()
        if lock is not None:
            lock.release()


def _run(recipe: Recipe, run_dir: RunDir, given: Mapping[str, Any], *, resume: bool, worker: bool) -> RunResult:
    """The four stages, in order; the main process alone exports, scores and writes."""
    import pytorch_lightning as pl

    from nlpkit.curves import save_learning_curve

    _quiet_lightning()
    started = time.time()
    pl.seed_everything(recipe.train.seed, workers=True, verbose=False)  # all that follows draws from it
    data = prepare_data(recipe, given)
    module = build_model(recipe, data)
    trainer, best = fit(recipe, run_dir, data, module, resume=resume)
    if worker or not trainer.is_global_zero:
        return RunResult(run_dir.path)
    export(recipe, run_dir, data, module, best)
    metrics = {"training": _training_metrics(trainer), **score(recipe, run_dir, data)}
    metrics["training"]["wall_seconds"] = round(time.time() - started, 1)
    metrics["training"]["examples"] = {name: len(split.examples) for name, split in data.splits.items()}
    if module.monitor is not None:
        metrics["training"]["monitor"] = {"name": module.monitor.name, "mode": module.monitor.mode}
    rundir.write_json(run_dir.metrics, metrics)
    if recipe.output.report:
        save_learning_curve(run_dir, module.monitor)
        if recipe.output.save_predictions and ("validation" in metrics or "test" in metrics):
            _write_report(run_dir)  # it reads the saved predictions of a labelled split
    if not recipe.output.keep_checkpoints:
        shutil.rmtree(run_dir.checkpoints, ignore_errors=True)
    log.info("run directory: %s", run_dir.path)
    return RunResult(run_dir.path, metrics)


# -- 1. prepare the data ---------------------------------------------------------------


def prepare_data(recipe: Recipe, given: Mapping[str, Any] | None = None) -> Data:
    """The task, its splits read (the task set up on the training examples and its
    warnings said), the tokenizer, and every split encoded with it (or from the cache).
    ``given``: splits in memory, in place of the recipe's files."""
    from nlpkit.data import encode_split
    from nlpkit.plugins import get_task
    from nlpkit.task import TaskSettings
    from nlpkit.unlabelled import read_unlabelled

    task = get_task(recipe.task)(TaskSettings.of(recipe))
    splits = _read_data(task, recipe, given)
    unlabelled = read_unlabelled(task, recipe)  # read after setup: the task's label maps are known
    if unlabelled is not None:
        splits[unlabelled.name] = unlabelled
    tokenizer = _tokenizer(task, recipe, splits["train"])
    for split in splits.values():
        encode_split(task, split, tokenizer, recipe)
    return Data(task, splits, tokenizer)


def _read_data(task: "Task", recipe: Recipe, given: Mapping[str, Any] | None) -> dict[str, "Split"]:
    """The splits, read; the task set up on the training examples and its warnings said."""
    from nlpkit.data import read_splits

    splits = read_splits(task, recipe, given)
    task.setup(splits["train"].examples)
    _check_task_state(task)
    for name in ("validation", "test"):
        if name in splits:
            for warning in task.check(splits[name].examples, name):
                log.warning("data.%s: %s", name, warning)
    return splits


def _check_task_state(task: "Task") -> None:
    """The task's state is saved as JSON with the model when training ends: say now, not
    after the training, that it cannot be."""
    from nlpkit.plugins import task_plugin_info

    try:
        json.dumps(task.state_dict())
    except (TypeError, ValueError) as exc:
        plugin = task_plugin_info(task.name).name
        raise PluginError(
            f"task {task.name} (plugin '{plugin}'): state_dict() must be JSON-serialisable, it is saved in "
            f"{rundir.MODEL}/{rundir.TASK_FILE}: {exc}"
        ) from None


def _tokenizer(task: "Task", recipe: Recipe, train: "Split") -> Any:
    """The encoder's tokenizer, or one trained on the training texts as the recipe says;
    extended with the training data's unknown words (``encoder.extend_vocab``)."""
    from nlpkit.encoder import load_tokenizer
    from nlpkit.vocab import extend_vocabulary

    tokenizer = load_tokenizer(recipe.encoder, texts=task.texts(train.examples))
    if recipe.encoder.extend_vocab:
        added = extend_vocabulary(tokenizer, task.texts(train.examples), recipe.encoder.extend_vocab_min_count)
        log.info("encoder.extend_vocab: added %d tokens from the training data", added)
    return tokenizer


# -- 2. build the model ----------------------------------------------------------------


def build_model(recipe: Recipe, data: Data) -> "TaskModule":
    """The encoder (its embeddings as many as the tokenizer's tokens) with the task's
    head, in the LightningModule that trains it and validates it by the monitored metric."""
    from nlpkit.encoder import load_encoder
    from nlpkit.model import TaskModel
    from nlpkit.module import TaskModule
    from nlpkit.monitor import Monitor
    from nlpkit.vocab import grow_embeddings

    encoder = load_encoder(recipe.encoder, len(data.tokenizer))
    first_new = grow_embeddings(encoder, data.tokenizer, recipe.encoder.new_token_init, recipe.train.seed)
    model = TaskModel(encoder, data.task.build_head(encoder))
    validation = data.validation
    return TaskModule(
        data.task, model, recipe.train,
        validation.examples if validation else (), validation.features if validation else (),
        monitor=Monitor.of(recipe, data.task) if validation else None,
        first_new_token=first_new,
        distiller=_distiller(recipe, data, encoder),
    )


def _distiller(recipe: Recipe, data: Data, student: Any) -> "Distiller | None":
    """The teacher of ``distill.teacher``, loaded as ``nlpkit.load`` loads it, checked
    against the ``student`` encoder's vocabulary, labels and (hidden-state matching) width."""
    from nlpkit.distill import Distiller, check_match, hidden_pairs
    from nlpkit.predictor import Predictor

    if recipe.distill is None:
        return None
    teacher = Predictor.load(recipe.distill.teacher)
    check_match(recipe, data.task, data.tokenizer, teacher.task, teacher.tokenizer)
    pairs = hidden_pairs(recipe, student.config, teacher.model.encoder.config)
    log.info(
        "distill: teacher %s (%d layers), temperature %g, alpha %g (hard loss) / %g (soft loss)",
        recipe.distill.teacher, teacher.model.encoder.config.num_hidden_layers, recipe.distill.temperature,
        recipe.distill.alpha, 1 - recipe.distill.alpha,
    )
    if pairs:
        matched = ", ".join(f"layer {s - 1} to layer {t - 1}" for s, t in pairs[1:])
        log.info("distill: hidden_weight %g: the student's hidden states against the teacher's, embeddings to "
                 "embeddings, %s", recipe.distill.hidden_weight, matched)
    return Distiller(teacher.model, data.task, recipe.distill, pairs)


# -- 3. fit ----------------------------------------------------------------------------


def fit(recipe: Recipe, run_dir: RunDir, data: Data, module: "TaskModule", *, resume: bool) -> tuple[Any, Any]:
    """``trainer.fit`` on the training batches, validated as the recipe says, from
    ``checkpoints/last.ckpt`` with ``resume``. Returns the trainer and the best
    checkpoint's callback: None without validation, or when the final weights beat it
    (they are then the model)."""
    from nlpkit.cpu import KeptMemoryLimit, keep_freed_memory
    from nlpkit.data import eval_loader, train_loader

    # No page faults on the embedding gradient each step; kept memory has a ceiling (nlpkit/cpu.py).
    kept_memory = KeptMemoryLimit() if keep_freed_memory() else None
    trainer, best = _trainer(recipe, run_dir, module.monitor, kept_memory)
    if recipe.train.num_workers > 0:
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    batches = train_loader(data.task, data.training_features, data.tokenizer, recipe)
    _check_validation_interval(recipe, math.ceil(len(batches) / trainer.world_size))
    validation = data.validation
    val_loader = (
        eval_loader(data.task, validation.features, data.tokenizer, recipe.train.eval_batch_size,
                    pad_to_multiple_of=recipe.train.pad_to_multiple_of)
        if validation else None
    )
    _fit(trainer, module, batches, val_loader, run_dir.last_checkpoint if resume else None)
    if kept_memory is not None and kept_memory.trims:
        log.info("resident memory passed %.1f GB %d times; freed memory was handed back each time",
                 kept_memory.limit / 2**30, kept_memory.trims)
    if best is not None and _score_the_last_steps(trainer, module, best, val_loader):
        best = None
    return trainer, best


def _trainer(
    recipe: Recipe, run_dir: RunDir, monitor: "Monitor | None", kept_memory: "KeptMemoryLimit | None" = None
) -> tuple[Any, Any]:
    """The Lightning Trainer from our defaults and the recipe's ``trainer`` section, and
    its best-checkpoint callback (None without a monitor)."""
    import pytorch_lightning as pl
    from pytorch_lightning.utilities.exceptions import MisconfigurationException

    from nlpkit.callbacks import SafeCheckpointIO
    from nlpkit.loggers import build_loggers

    lightning_log = logging.getLogger("pytorch_lightning.utilities.rank_zero")
    if not any(isinstance(f, _NoAdvert) for f in lightning_log.filters):
        lightning_log.addFilter(_NoAdvert())
    callbacks, best = _callbacks(recipe, run_dir, monitor, kept_memory)
    rundir.keep_earlier_log(run_dir.path)  # on --resume Lightning would overwrite metrics.csv
    kwargs: dict[str, Any] = {
        "max_epochs": recipe.train.epochs,
        "max_steps": recipe.train.max_steps,
        "precision": recipe.train.precision,
        "gradient_clip_val": recipe.train.max_grad_norm,
        "callbacks": callbacks,
        "default_root_dir": str(run_dir.path),
        # Lightning's own logging steps are unused: TrainingCurves writes the logs.
        "log_every_n_steps": 1,
        "num_sanity_val_steps": 0,
        "enable_model_summary": False,
    }
    kwargs.update(recipe.trainer)  # keys checked against the Trainer's arguments when the recipe loaded
    kwargs["logger"] = build_loggers(recipe, run_dir.logs)  # trainer.logger names them (nlpkit.loggers)
    # Every checkpoint read or written goes through nlpkit's IO: data only, written whole.
    kwargs["plugins"] = [*_as_list(recipe.trainer.get("plugins")), SafeCheckpointIO()]
    try:
        return pl.Trainer(**kwargs), best
    except (TypeError, ValueError, MisconfigurationException) as exc:  # Lightning's own checks of values
        raise RecipeError(f"{recipe.source}: trainer section: {exc}") from None


def _callbacks(
    recipe: Recipe, run_dir: RunDir, monitor: "Monitor | None", kept_memory: "KeptMemoryLimit | None"
) -> tuple[list[Any], Any]:
    """The Trainer's callbacks, and the best-checkpoint one among them (None without a monitor)."""
    import importlib.util

    from pytorch_lightning.callbacks import EarlyStopping, ModelCheckpoint

    from nlpkit.callbacks import LastCheckpoint, ReleaseKeptMemory, StopOnInterrupt, Throughput, TrainingCurves

    last = LastCheckpoint(run_dir.last_checkpoint, recipe.train.checkpoint_every_n_steps)
    callbacks: list[Any] = [
        last, Throughput(), StopOnInterrupt(run_dir.last_checkpoint), TrainingCurves(recipe.train.log_every_n_steps, recipe.to_dict()),
    ]
    if recipe.trainer.get("enable_progress_bar", True) and importlib.util.find_spec("rich") is not None:
        from pytorch_lightning.callbacks import RichProgressBar

        # Lightning's default Rich bar draws on stdout, among the metrics that `nlpkit run`
        # prints there; on stderr, `nlpkit run ... > out` keeps out clean (as tqdm does).
        callbacks.append(RichProgressBar(console_kwargs={"stderr": True}))
    if kept_memory is not None:
        callbacks.append(ReleaseKeptMemory(kept_memory))
    best = None
    if monitor is not None:
        best = ModelCheckpoint(
            dirpath=run_dir.checkpoints, filename=run_dir.best_checkpoint.stem, monitor=monitor.key,
            mode=monitor.mode, save_top_k=1, enable_version_counter=False,
        )
        callbacks.append(best)
        if recipe.train.early_stopping_patience:
            callbacks.append(EarlyStopping(monitor.key, patience=recipe.train.early_stopping_patience, mode=monitor.mode))
    return callbacks, best


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


def _score_the_last_steps(trainer: Any, module: "TaskModule", best: Any, val_loader: Any) -> bool:
    """Validate the final weights if training went on after the last validation; True
    when they beat the best checkpoint (they are then the model to export).

    Lightning validates every ``int(batches * val_check_interval)`` batches, so unless that
    divides the epoch the last steps of a run are never scored and could never be the
    model kept; likewise a run cut short by ``max_steps`` mid-epoch.
    """
    monitor = module.monitor
    if (
        monitor is None or trainer.global_step == 0 or module.validated_step == trainer.global_step
        or trainer.world_size > 1
    ):
        return False
    unscored = trainer.global_step - (module.validated_step or 0)
    trainer.validate(module, dataloaders=val_loader, verbose=False)
    score = module.last_validation.get(monitor.name)
    if not isinstance(score, (int, float)) or not math.isfinite(score):
        return False
    better = monitor.better(score, None if best.best_model_score is None else float(best.best_model_score))
    if trainer.is_global_zero:
        log.info("the last %d steps were not validated yet: %s = %.4f at step %d (%s)", unscored, monitor.key,
                 score, trainer.global_step, "the best: kept as the model" if better else "not better than the best")
    if better and best.best_model_path:  # best.ckpt stays the exported model (output.keep_checkpoints)
        trainer.save_checkpoint(best.best_model_path, weights_only=False)
    return better


# -- 4. export and score ---------------------------------------------------------------


def export(recipe: Recipe, run_dir: RunDir, data: Data, module: "TaskModule", best: Any) -> None:
    """The best weights (those of ``best``'s checkpoint, if given; else the final ones)
    saved as ``model/``: everything ``nlpkit.load`` needs."""
    if best is not None and best.best_model_path:
        from nlpkit.callbacks import load_checkpoint

        assert module.monitor is not None  # a best checkpoint is chosen by the monitor
        log.info("loading the best checkpoint (%s = %.4f)", module.monitor.key, float(best.best_model_score))
        module.load_state_dict(load_checkpoint(best.best_model_path)["state_dict"])
    _save_model(run_dir.model_dir, recipe, data.task, data.tokenizer, module.model)


def _save_model(saved: ModelDir, recipe: Recipe, task: "Task", tokenizer: Any, model: Any) -> None:
    """Encoder, tokenizer, head, task state and the recipe, in ``model/``."""
    from safetensors.torch import save_model

    from nlpkit.plugins import task_plugin_info
    from nlpkit.version import __version__

    saved.path.mkdir(parents=True, exist_ok=True)
    model.encoder.save_pretrained(saved.path)
    tokenizer.save_pretrained(saved.path)
    save_model(model.head, str(saved.head_file))
    plugin = task_plugin_info(task.name)
    rundir.write_json(
        saved.task_file,
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
    saved.recipe.write_text(dump_recipe(recipe), encoding="utf-8")


def score(recipe: Recipe, run_dir: RunDir, data: Data) -> dict[str, dict[str, Any]]:
    """Validation and test scored with the saved model loaded back (what ``nlpkit.load``
    predicts), and their predictions written in each of the task's formats."""
    from nlpkit.predictor import Predictor
    from nlpkit.scoring import compute_metrics

    predictor = Predictor.load(run_dir.path)
    results: dict[str, dict[str, Any]] = {}
    for name in ("validation", "test"):
        split = data.splits.get(name)
        if split is None:
            continue
        predictions = predictor.predict_examples(split.examples, split.features)
        if predictor.task.has_labels(split.examples):
            results[name] = compute_metrics(predictor.task, split.examples, predictions)
            summary = ", ".join(f"{k} {v:.4f}" for k, v in results[name].items() if isinstance(v, float))
            log.info("%s: %s", name, summary)
        if recipe.output.save_predictions:
            for fmt in predictor.task.prediction_formats:
                lines = predictor.task.render(split.examples, predictions, fmt)
                rundir.write_lines(run_dir.predictions(name, fmt), lines)
    return results


def _write_report(run_dir: RunDir) -> None:
    """The report of the validation (else test) split. The run's results are all saved by
    now: a report that fails is said, and the run stands (``nlpkit report`` retries)."""
    from nlpkit.report import write_report

    try:
        log.info("report: %s", write_report(run_dir.path))
    except Exception as exc:  # noqa: BLE001 - derived output only; the run's own files are written
        log.warning("the report could not be written (%s: %s); try again with: nlpkit report %s",
                    type(exc).__name__, exc, run_dir.path)


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


# -- what run() needs around the stages ------------------------------------------------


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


def _is_worker_process() -> bool:
    """True in the extra processes that Lightning launches for multi-device training."""
    return int(os.environ.get("LOCAL_RANK", "0")) > 0 or int(os.environ.get("NODE_RANK", "0")) > 0


def _loaded(
    recipe: str | os.PathLike[str] | Mapping[str, Any] | Recipe,
    overrides: Sequence[str] | Mapping[str, Any],
    given: Mapping[str, Any] | None = None,
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
    if not recipe.data.train and "train" not in (given or {}):
        raise RecipeError(
            f"{recipe.source}: data.train (a file, or data={{'train': ...}} in Python) is required to run a recipe"
        )
    return recipe


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
    """What ``--overwrite`` must never delete: the recipe file, the data, a local encoder, the teacher and
    the unlabelled inputs."""
    files = [getattr(recipe.data, split) for split in ("train", "validation", "test")]
    teacher = recipe.distill.teacher if recipe.distill else None
    unlabelled = recipe.distill.unlabelled if recipe.distill else None
    files += [name for name in (recipe.source, recipe.encoder.name, teacher, unlabelled) if name and Path(name).exists()]
    return [f for f in files if f]


def _check_checkpoints(run_dir: RunDir) -> None:
    """``--resume``: refuse a checkpoint that is more than data before anything is read."""
    from nlpkit.callbacks import check_checkpoint

    for path in sorted(run_dir.checkpoints.glob("*.ckpt")):
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


def _quiet_lightning() -> None:
    import warnings

    warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\).*")
    # On --resume: the checkpoints are there to be resumed from, and keep_earlier_log has
    # already moved the earlier metrics.csv aside (Lightning says it would delete it).
    warnings.filterwarnings("ignore", message=r"Checkpoint directory .* exists and is not empty")
    warnings.filterwarnings("ignore", message=r"Experiment logs directory .* exists and is not empty")


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


class _NoAdvert(logging.Filter):
    """Lightning 2.6 advertises a cloud logging service at the start of every run."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "litlogger" not in str(record.msg)
