"""Prediction from a run directory: the same code path that produced its evaluation."""

from __future__ import annotations

import contextlib
import json
import logging
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

from nlpkit.errors import RunDirError
from nlpkit.task import Feature, Task

log = logging.getLogger("nlpkit")

MODEL_DIR = "model"
HEAD_FILE = "head.safetensors"
TASK_FILE = "task.json"


class Predictor:
    """A trained task model. ``predict`` takes what the task's users pass (texts, pairs,
    dicts) and returns user-facing predictions; ``evaluate`` scores labelled examples."""

    def __init__(self, task: Task, tokenizer: Any, model: Any, *, batch_size: int = 64, precision: str = "32") -> None:
        self.task = task
        self.tokenizer = tokenizer
        self.device = "cuda" if _cuda_available() else "cpu"
        self.model = model.eval().to(self.device)
        self.batch_size = batch_size
        self.precision = precision

    # -- loading -------------------------------------------------------------------
    @classmethod
    def load(cls, run_dir: str | Path) -> "Predictor":
        """The model of a finished run directory (``run_dir/model``), with its task, label
        maps and precision; :class:`RunDirError` if it is missing or damaged."""
        from safetensors import SafetensorError
        from safetensors.torch import load_file
        from transformers import AutoModel, AutoTokenizer

        from nlpkit.encoder import quiet_transformers
        from nlpkit.model import TaskModel
        from nlpkit.plugins import get_task
        from nlpkit.recipe import build_recipe, read_yaml

        run_dir = Path(run_dir)
        model_dir = run_dir / MODEL_DIR
        meta_path = model_dir / TASK_FILE
        if not meta_path.is_file():
            raise RunDirError(
                f"{run_dir} is not a finished nlpkit run directory (no {MODEL_DIR}/{TASK_FILE}); "
                "a run writes it when training ends"
            )
        quiet_transformers()
        for name in (TASK_FILE, "recipe.yaml", "config.json", HEAD_FILE):
            if not (model_dir / name).is_file():
                raise RunDirError(f"{run_dir} is incomplete: {MODEL_DIR}/{name} is missing; train the run again")
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
            if not isinstance(meta, dict) or "task" not in meta:
                raise ValueError("expected an object with a 'task' key")
        except (ValueError, UnicodeDecodeError) as exc:
            raise RunDirError(f"{meta_path} is damaged ({exc}); train the run again") from None
        raw = read_yaml(model_dir / "recipe.yaml")
        # The data files of the original run need not exist where the model is used.
        recipe = build_recipe(raw, str(model_dir / "recipe.yaml"), check_paths=False)
        task = get_task(meta["task"], source=str(meta_path))(recipe)
        task.load_state_dict(meta.get("state", {}))
        try:
            tokenizer = AutoTokenizer.from_pretrained(model_dir)
            encoder = AutoModel.from_pretrained(model_dir)
            head = task.build_head(encoder)
            head.load_state_dict(load_file(model_dir / HEAD_FILE), strict=False)
        except (OSError, ValueError, RuntimeError, SafetensorError) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise RunDirError(f"{model_dir}: the saved model cannot be loaded ({first}); train the run again") from None
        model = TaskModel(encoder, head)
        return cls(task, tokenizer, model, batch_size=meta.get("eval_batch_size", 64), precision=meta.get("precision", "32"))

    # -- prediction ----------------------------------------------------------------
    def predict(self, inputs: Any = None, /, **fields: Any) -> Any:
        """``predict("text")`` -> one prediction; ``predict([...])`` -> a list;
        ``predict(question=..., context=...)`` -> one prediction from named fields."""
        if fields:
            if inputs is not None:
                raise TypeError("give inputs either positionally or as keyword fields, not both")
            return self.predict_examples(self.task.examples_from_inputs([fields]))[0]
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
        predictions = self.predict_examples(self.task.examples_from_inputs(batch))
        return predictions[0] if single else predictions

    def predict_examples(self, examples: Sequence[Any], features: Sequence[Feature] | None = None) -> list[dict[str, Any]]:
        """Predictions for the task's own examples (what ``task.read`` or
        ``task.examples_from_inputs`` return), one per example; ``features`` when they
        are already encoded."""
        from nlpkit.data import encode

        if not examples:
            return []
        if features is None:
            features = encode(self.task, examples, self.tokenizer, training=False, desc="tokenizing")
        outputs = self.infer(features)
        return self.task.decode(examples, features, outputs)

    def evaluate(self, examples: Sequence[Any]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        """Predictions and metrics for labelled examples of the task (``task.read`` of a
        labelled file): what ``nlpkit evaluate`` prints. Metrics are empty without labels."""
        predictions = self.predict_examples(examples)
        metrics = self.task.compute_metrics(examples, predictions) if self.task.has_labels(examples) else {}
        return predictions, metrics

    def infer(self, features: Sequence[Feature]) -> list[Any]:
        """Head outputs per feature, in feature order (batched longest first)."""
        import torch
        from tqdm.auto import tqdm

        from nlpkit.data import eval_loader

        loader = eval_loader(self.task, features, self.tokenizer, self.batch_size)
        rows: dict[int, Any] = {}
        with torch.inference_mode(), self._autocast():
            for batch in tqdm(loader, desc="predicting", unit="batch", disable=len(loader) < 20):
                batch = {k: v.to(self.device) for k, v in batch.items()}
                output = self.model(batch)
                rows.update(zip(batch["feature_index"].tolist(), self.task.split_outputs(output, batch)))
        return [rows[i] for i in range(len(features))]

    def _autocast(self) -> contextlib.AbstractContextManager[Any]:
        import torch

        if self.precision == "bf16-mixed":
            return torch.autocast(self.device, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def render(self, examples: Sequence[Any], predictions: Sequence[dict[str, Any]], fmt: str = "jsonl") -> Iterator[str]:
        return self.task.render(examples, predictions, fmt)


def _cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()
