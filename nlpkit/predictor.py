"""Prediction from a run directory: the same code path that produced its evaluation."""

from __future__ import annotations

import contextlib
import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Iterator, Sequence

from nlpkit.errors import InputError, NlpkitError, PluginError, RunDirError
# MODEL_DIR, TASK_FILE and HEAD_FILE stay importable from here: plugins use them.
from nlpkit.rundir import HEAD_FILE, TASK_FILE, ExportDir, ModelDir, RunDir
from nlpkit.rundir import MODEL as MODEL_DIR
from nlpkit.task import Feature, Task

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

    from nlpkit.embed import Embedder, Pooling
    from nlpkit.explain import Explanation

log = logging.getLogger("nlpkit")


class Predictor:
    """A trained task model. ``predict`` takes what the task's users pass (texts, pairs,
    dicts) and returns user-facing predictions; ``evaluate`` scores labelled examples."""

    def __init__(
        self, task: Task, tokenizer: Any, model: Any, *, batch_size: int = 64, precision: str = "32",
        pad_to_multiple_of: int = 1,
    ) -> None:
        self.task = task
        self.tokenizer = tokenizer
        self.device = "cuda" if _cuda_available() else "cpu"
        self.model = model.eval().to(self.device)
        self.batch_size = batch_size
        self.precision = precision
        self.pad_to_multiple_of = pad_to_multiple_of

    def to(self, device: str) -> "Predictor":
        """Predict on ``device`` from now on (``cuda`` is chosen when there is one)."""
        self.device = device
        self.model = self.model.to(device)
        return self

    # -- loading -------------------------------------------------------------------
    @classmethod
    def load(cls, run_dir: str | Path) -> "Predictor":
        """The model of a finished run directory (``run_dir/model``), with its task, label
        maps and precision; :class:`RunDirError` if it is missing or damaged: an absent
        file, a task state the task cannot restore, or a head file that does not hold
        exactly the head's tensors (a random head would predict differently each time).

        ``run_dir`` may also be an export directory (``nlpkit export``): its format's
        loader (:mod:`nlpkit.export.formats`) supplies the model."""
        from safetensors import SafetensorError

        from nlpkit.encoder import load_saved_encoder
        from nlpkit.model import TaskModel, check_encoder, load_head

        exported = ExportDir(Path(run_dir))
        if exported.is_export:
            return cls._load_export(exported)
        saved = RunDir(run_dir).model_dir
        meta = read_meta(run_dir)
        task, recipe = _saved_task(saved, meta)
        tokenizer = _tokenizer(saved.path)
        try:
            encoder, missing = load_saved_encoder(saved.path)
            head = task.build_head(encoder)
        except (OSError, ValueError, RuntimeError, SafetensorError) as exc:
            raise _unloadable(saved.path, exc) from None
        check_encoder(missing, head, saved.path)
        load_head(head, saved.head_file, task.name)
        model = TaskModel(encoder, head)
        return cls(
            task, tokenizer, model, batch_size=meta.get("eval_batch_size", 64), precision=meta.get("precision", "32"),
            pad_to_multiple_of=recipe.train.pad_to_multiple_of,
        )

    @classmethod
    def _load_export(cls, exported: ExportDir) -> "Predictor":
        from nlpkit.export.formats import model_loader

        meta = read_meta(exported.path)
        task, recipe = _saved_task(exported.saved, meta)
        tokenizer = _tokenizer(exported.path, config_dir=exported.saved.path)
        model = model_loader(exported.read_meta()["format"])(exported, task)
        return cls(
            task, tokenizer, model, batch_size=meta.get("eval_batch_size", 64), precision=meta.get("precision", "32"),
            pad_to_multiple_of=recipe.train.pad_to_multiple_of,
        )

    # -- prediction ----------------------------------------------------------------
    def predict(self, inputs: Any = None, /, *, batch_size: int | None = None, **fields: Any) -> Any:
        """``predict("text")`` -> one prediction; ``predict([...])`` -> a list, one
        prediction per input in the same order; ``predict(question=..., context=...)`` ->
        one prediction from named fields. ``batch_size``: inputs per forward pass (default:
        the run's ``train.eval_batch_size``); the predictions do not depend on it.

        An input whose text is empty or only whitespace is refused with
        :class:`~nlpkit.errors.InputError` (training refuses such texts too): a string,
        any string of a tuple or list (a pair), and any string value of a dict other than
        ``id``. In a list, the error names the input's position (``inputs[3]: ...``)."""
        if fields:
            if inputs is not None:
                raise TypeError("give inputs either positionally or as keyword fields, not both")
            check_inputs([fields], single=True)
            return self.predict_examples(self.examples_from_inputs([fields]), batch_size=batch_size)[0]
        if inputs is None:
            raise TypeError("predict() needs inputs")
        if isinstance(inputs, (bytes, bytearray)) or not isinstance(inputs, (str, dict, Iterable)):
            raise TypeError(
                f"predict() takes a text, a dict or a tuple of texts (one input), or a list of them; "
                f"got {type(inputs).__name__}"
            )
        if isinstance(inputs, (set, frozenset)):
            raise TypeError("predict() needs an ordered collection (a list), not a set: the predictions follow its order")
        # A tuple of strings is one input (a pair of texts, a question and its context).
        single = isinstance(inputs, (str, dict)) or (
            isinstance(inputs, tuple) and all(isinstance(x, str) for x in inputs)
        )
        batch = [inputs] if single else list(inputs)
        check_inputs(batch, single=single)
        predictions = self.predict_examples(self.examples_from_inputs(batch), batch_size=batch_size)
        return predictions[0] if single else predictions

    def examples_from_inputs(self, inputs: Sequence[Any]) -> list[Any]:
        """The task's examples for user inputs, exactly one per input (predictions are
        matched to inputs by position). Callers run :func:`check_inputs` first."""
        return task_examples(self.task, inputs)

    def predict_examples(
        self, examples: Sequence[Any], features: Sequence[Feature] | None = None, *, batch_size: int | None = None
    ) -> list[dict[str, Any]]:
        """Predictions for the task's own examples (what ``task.read`` or
        ``task.examples_from_inputs`` return), one per example; ``features`` when they
        are already encoded."""
        from nlpkit.data import encode

        if not examples:
            return []
        if features is None:
            features = encode(self.task, examples, self.tokenizer, training=False, desc="tokenizing")
        outputs = self.infer(features, batch_size=batch_size)
        predictions = self.task.decode(examples, features, outputs)
        if len(predictions) != len(examples):
            raise PluginError(
                f"task {self.task.name}: decode returned {len(predictions)} predictions for {len(examples)} "
                "examples; they would not line up with the inputs"
            )
        return predictions

    def evaluate(self, examples: Sequence[Any]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        """Predictions and metrics for labelled examples of the task (``task.read`` of a
        labelled file): what ``nlpkit evaluate`` prints. Metrics are empty without labels."""
        from nlpkit.scoring import compute_metrics  # imports evaluate: predicting never does

        predictions = self.predict_examples(examples)
        metrics = compute_metrics(self.task, examples, predictions) if self.task.has_labels(examples) else {}
        return predictions, metrics

    def explain(self, input: Any, /, *, steps: int | None = None) -> "Explanation":
        """Token attributions (integrated gradients) and attention maps for one input, as
        ``predict`` takes it: see :mod:`nlpkit.explain` (needs ``nlpkit[explain]``)."""
        from nlpkit.explain import STEPS, explain

        if steps is not None and (isinstance(steps, bool) or not isinstance(steps, int) or steps < 1):
            raise ValueError(f"steps must be a positive integer, got {steps!r}")
        check_inputs([input], single=True)
        return explain(self, input, STEPS if steps is None else steps)

    def infer(self, features: Sequence[Feature], *, batch_size: int | None = None) -> list[Any]:
        """Head outputs per feature, in feature order (batched longest first, so that a
        batch holds features of similar lengths and little padding)."""
        import torch
        from tqdm.auto import tqdm

        from nlpkit.data import eval_loader

        size = self.batch_size if batch_size is None else _positive(batch_size)
        loader = eval_loader(self.task, features, self.tokenizer, size, pad_to_multiple_of=self.pad_to_multiple_of)
        rows: dict[int, Any] = {}
        with torch.inference_mode(), self._autocast():
            for batch in tqdm(loader, desc="predicting", unit="batch", disable=len(loader) < 20):
                batch = {k: v.to(self.device) for k, v in batch.items()}
                output = self.model(batch)
                rows.update(zip(batch["feature_index"].tolist(), self.task.split_outputs(output, batch)))
        return [rows[i] for i in range(len(features))]

    def _autocast(self) -> contextlib.AbstractContextManager[Any]:
        from nlpkit.precision import autocast

        return autocast(self.precision, self.device)

    # -- embeddings ----------------------------------------------------------------
    def embed(
        self, texts: str | Sequence[str], *, batch_size: int | None = None, pooling: "Pooling" = "mean",
        normalize: bool = False,
    ) -> "np.ndarray":
        """Sentence embeddings from the run's fine-tuned encoder: one row per text (a 1-D
        vector for one string), the mean of its last layer over real tokens (``pooling=
        "cls"``: the ``[CLS]`` state), unit length with ``normalize``. Texts are cut to the
        run's ``encoder.max_length``. See :mod:`nlpkit.embed`."""
        return self.embedder().embed(texts, batch_size=batch_size, pooling=pooling, normalize=normalize)

    def embedder(self) -> "Embedder":
        """The :class:`~nlpkit.embed.Embedder` of this model's encoder; :class:`NlpkitError`
        for a model without one in reach (an ONNX graph gives only the task's outputs)."""
        from nlpkit.embed import Embedder

        encoder = getattr(self.model, "encoder", None)
        if encoder is None:
            raise NlpkitError(
                f"this model ({type(self.model).__name__}) runs the task's whole graph and gives only its outputs, "
                "not the encoder's states: embed from the run directory or an hf export"
            )
        return Embedder(self.tokenizer, encoder, max_length=self.task.settings.max_length,
                        batch_size=self.batch_size, precision=self.precision)

    def render(self, examples: Sequence[Any], predictions: Sequence[dict[str, Any]], fmt: str = "jsonl") -> Iterator[str]:
        return self.task.render(examples, predictions, fmt)


EMPTY_TEXT = "is empty or only whitespace: there is nothing to predict from (training refuses empty texts too)"


def task_examples(task: Task, inputs: Sequence[Any]) -> list[Any]:
    """``task.examples_from_inputs``, checked to give exactly one example per input."""
    examples = task.examples_from_inputs(inputs)
    if len(examples) != len(inputs):
        raise PluginError(
            f"task {task.name}: examples_from_inputs returned {len(examples)} examples for "
            f"{len(inputs)} inputs; predictions would not line up with the inputs"
        )
    return examples


def check_inputs(inputs: Sequence[Any], *, single: bool = False) -> None:
    """Refuse an input whose text is empty or only whitespace (:class:`InputError`, with
    its position unless ``single``), before any task sees it: one rule for every task
    and every caller (``predict``, ``nlpkit predict``)."""
    for index, value in enumerate(inputs):
        blank = blank_text(value)
        if blank is not None:
            raise InputError(f"{blank} {EMPTY_TEXT}", None if single else index)


def blank_text(value: Any) -> str | None:
    """Which text of one input is empty or only whitespace ("the text", "text 2 of the
    tuple", "'text_b'"), or None. Strings are checked inside tuples and lists (pairs,
    pre-split words) and as dict values, except ``id``; other values are the task's."""
    if isinstance(value, str):
        return None if value.strip() else "the text"
    if isinstance(value, (tuple, list)):
        position = _blank_position(value)
        return None if position is None else f"text {position} of the {type(value).__name__}"
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "id":
                continue
            if isinstance(item, str) and not item.strip():
                return repr(key)
            position = _blank_position(item) if isinstance(item, (tuple, list)) else None
            if position is not None:
                return f"text {position} of {key!r}"
    return None


def _blank_position(items: Sequence[Any]) -> int | None:
    return next((i for i, item in enumerate(items, start=1) if isinstance(item, str) and not item.strip()), None)


def read_meta(run_dir: str | Path) -> dict[str, Any]:
    """``model/task.json`` of a finished run (or the task file of an export), after
    checking that every model file is there: a quick check (nothing is loaded) that
    callers can make before other work."""
    exported = ExportDir(Path(run_dir))
    if exported.is_export:
        from nlpkit.export.formats import check_export

        check_export(exported)
        return _task_meta(exported.saved.task_file)
    run = RunDir(run_dir)
    saved, meta_path = run.model_dir, run.model_dir.task_file
    if not meta_path.is_file():
        raise RunDirError(
            f"{run.path} is not a finished nlpkit run directory (no {MODEL_DIR}/{TASK_FILE}); "
            "a run writes it when training ends"
        )
    for name in ModelDir.REQUIRED:
        if not (saved.path / name).is_file():
            raise RunDirError(f"{run.path} is incomplete: {MODEL_DIR}/{name} is missing; train the run again")
    return _task_meta(meta_path)


def _task_meta(meta_path: Path) -> dict[str, Any]:
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        if not isinstance(meta, dict) or "task" not in meta:
            raise ValueError("expected an object with a 'task' key")
    except (ValueError, UnicodeDecodeError) as exc:
        raise RunDirError(f"{meta_path} is damaged ({exc}); train the run again") from None
    return meta


def _saved_task(saved: ModelDir, meta: dict[str, Any]) -> tuple[Task, Any]:
    """The task of a saved model, with its restored state, and the recipe it was trained with."""
    from nlpkit.encoder import quiet_transformers
    from nlpkit.plugins import get_task
    from nlpkit.recipe import build_recipe, read_yaml
    from nlpkit.task import TaskSettings

    quiet_transformers()
    # The data files of the original run need not exist where the model is used.
    recipe = build_recipe(read_yaml(saved.recipe), str(saved.recipe), check_paths=False)
    task = get_task(meta["task"], source=str(saved.task_file))(TaskSettings.of(recipe))
    _restore_state(task, meta, saved.task_file)
    return task, recipe


def _tokenizer(path: Path, config_dir: Path | None = None) -> Any:
    """The tokenizer saved in ``path``; ``config_dir``: where the encoder's configuration
    is, when ``path`` holds another (an export's, whose model type transformers may not
    know: it would warn about it)."""
    from transformers import AutoConfig, AutoTokenizer

    from nlpkit.encoder import transformers_quiet

    try:
        config = AutoConfig.from_pretrained(config_dir) if config_dir is not None else None
        # Never run code from the directory: nlpkit's own classes load what it exported.
        with transformers_quiet():
            return AutoTokenizer.from_pretrained(path, config=config, trust_remote_code=False)
    except (OSError, ValueError) as exc:
        raise _unloadable(path, exc) from None


def _restore_state(task: Task, meta: dict[str, Any], meta_path: Path) -> None:
    """The task's saved state (label maps...). Plugins index the state directly, so a
    damaged one raises whatever Python raises (KeyError, TypeError): say which file."""
    state = meta.get("state", {})
    try:
        task.load_state_dict(state)
    except RunDirError:
        raise
    except Exception as exc:  # any plugin's code: every failure means the same to the user
        if isinstance(exc, KeyError):
            what = f"has no {exc.args[0]!r}" if exc.args else "lacks a key"
        else:
            what = f"cannot be restored ({type(exc).__name__}: {exc})"
        shown = json.dumps(state, ensure_ascii=False) if "state" in meta else "absent"
        raise RunDirError(
            f"{meta_path}: the saved state of task {task.name} {what} (\"state\": {shown:.80}); train the run again"
        ) from None


def _unloadable(model_dir: Path, exc: Exception) -> RunDirError:
    from nlpkit.model import unloadable

    return unloadable(model_dir, exc)


def _positive(batch_size: Any) -> int:
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    return batch_size


def _cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()
