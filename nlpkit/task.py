"""The task contract: what a task plugin supplies, and only that.

A :class:`Task` turns raw files into examples (``read``), examples into model features
(``encode``), encoder hidden states into outputs (``build_head`` + ``loss``), outputs
back into user-facing predictions (``decode``) and predictions into metrics
(``compute_metrics``). The core does everything else: recipes, caching, batching, the
Lightning loop, checkpoints, run directories, CLI, prediction.

This module imports neither torch nor transformers, so that validating a recipe stays
fast; task modules should import heavy libraries inside their methods.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Iterable, Iterator, Mapping, Sequence, TypeVar

from pydantic import create_model

from nlpkit.errors import NlpkitError
from nlpkit.sections import DataSection, HeadSection, Recipe

if TYPE_CHECKING:  # pragma: no cover
    import evaluate
    import torch
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

ExampleT = TypeVar("ExampleT")
Feature = dict[str, Any]
"""One model input row: token ids and friends as lists/ints, plus ``example_id`` (the
index of its example in the list given to ``encode``). Several features may share an
example (sliding windows)."""

ENCODER_INPUTS = ("input_ids", "attention_mask", "token_type_ids")


class Task(ABC, Generic[ExampleT]):
    """Base class of every task. Subclass it, set the class attributes, register it
    through the ``register_tasks`` hook.

    Lifecycle in a run: ``Task(recipe)`` -> ``read`` each split -> ``setup(train)``
    (label maps) -> ``encode`` -> ``build_head`` -> training with ``loss`` ->
    evaluation with ``split_outputs``/``decode``/``compute_metrics``. The run directory
    stores ``state_dict()``; ``load_state_dict`` restores it for prediction.
    """

    name: ClassVar[str]
    description: ClassVar[str] = ""
    DataOptions: ClassVar[type[DataSection]] = DataSection
    HeadOptions: ClassVar[type[HeadSection]] = HeadSection
    monitor: ClassVar[str]
    """Validation metric that picks the best checkpoint: a key of ``compute_metrics``
    (required; the registry refuses a task without it)."""
    monitor_mode: ClassVar[str] = "max"
    needs_labels_from_data: ClassVar[bool] = False

    def __init__(self, recipe: Recipe) -> None:
        self.recipe = recipe

    # -- recipe schema -----------------------------------------------------------
    @classmethod
    def recipe_model(cls) -> type[Recipe]:
        """The recipe model with this task's ``data`` and ``head`` option classes."""
        return create_model(  # type: ignore[call-overload]
            f"{cls.__name__}Recipe",
            __base__=Recipe,
            data=(cls.DataOptions, cls.DataOptions()),
            head=(cls.HeadOptions, cls.HeadOptions()),
        )

    @property
    def data_options(self) -> Any:
        return self.recipe.data

    @property
    def head_options(self) -> Any:
        return self.recipe.head

    # -- reading -------------------------------------------------------------------
    @abstractmethod
    def read(self, path: Path, split: str) -> list[ExampleT]:
        """Read a data file into typed examples; bad rows raise
        :class:`nlpkit.errors.DataError` (or are skipped when ``data.on_error: skip``)."""

    def examples_from_inputs(self, inputs: Sequence[Any]) -> list[ExampleT]:
        """Turn what a user passes to ``predict`` (strings, tuples, dicts) into examples."""
        raise NlpkitError(f"task {self.name} does not predict from raw inputs")

    def texts(self, examples: Sequence[ExampleT]) -> Iterator[str]:
        """The raw texts of the examples (vocabulary extension, tokenizer training)."""
        return iter(())

    # -- labels and state ----------------------------------------------------------
    def setup(self, train: Sequence[ExampleT]) -> None:
        """Learn what the task needs from the training examples (label maps)."""

    def check(self, examples: Sequence[ExampleT], split: str) -> list[str]:
        """Warnings about an evaluation split (e.g. labels unseen in training)."""
        return []

    def state_dict(self) -> dict[str, Any]:
        """JSON-serialisable state needed to predict again (label maps)."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        pass

    # -- encoding ------------------------------------------------------------------
    @abstractmethod
    def encode(
        self, examples: Sequence[ExampleT], tokenizer: "PreTrainedTokenizerBase", *, training: bool
    ) -> list[Feature]:
        """Examples -> features (each with ``example_id``); long inputs become windows,
        never silently truncated."""

    def cache_settings(self) -> dict[str, Any]:
        """Everything besides file content and tokenizer that changes ``encode``'s output."""
        return {
            "data": self.recipe.data.model_dump(
                mode="json", exclude={"limit_train", "limit_validation", "limit_test", "cache", "cache_dir"}
            ),
            "head": self.recipe.head.model_dump(mode="json"),
            "max_length": self.recipe.encoder.max_length,
            "state": self.state_dict(),
        }

    def feature_length(self, feature: Feature) -> int:
        """Length used to group batches of similar size."""
        return len(feature["input_ids"])

    def collate(
        self, features: Sequence[Feature], tokenizer: "PreTrainedTokenizerBase", *, training: bool
    ) -> dict[str, "torch.Tensor"]:
        """Pad a batch: ids with the pad id, masks with 0, sequence labels with -100.

        ``training`` is False for validation, test and prediction batches (a task that
        draws random masks makes them reproducible there)."""
        return self.pad(features, tokenizer)

    def pad(
        self, rows: Sequence[Mapping[str, Any]], tokenizer: "PreTrainedTokenizerBase"
    ) -> dict[str, "torch.Tensor"]:
        """:func:`nlpkit.batching.pad_features` with the tokenizer's pad id and the recipe's
        ``train.pad_to_multiple_of``: the padding step of every ``collate``."""
        from nlpkit.batching import pad_features

        multiple = self.recipe.train.pad_to_multiple_of
        return pad_features(rows, pad_id=tokenizer.pad_token_id or 0, multiple_of=multiple)

    # -- model ---------------------------------------------------------------------
    @abstractmethod
    def build_head(self, encoder: "PreTrainedModel") -> "torch.nn.Module":
        """The head: ``forward(encoder_output, batch)`` -> tensor or dict of tensors.

        A head that ignores ``encoder_output.pooler_output`` sets the attribute
        ``uses_pooler = False``: the encoder then drops its pooler (distributed training
        rejects parameters that get no gradient)."""

    @abstractmethod
    def loss(self, output: Any, batch: dict[str, "torch.Tensor"]) -> "torch.Tensor":
        """The training loss of a batch."""

    # -- evaluation and prediction ---------------------------------------------
    def split_outputs(self, output: Any, batch: dict[str, "torch.Tensor"]) -> list[Any]:
        """Per-feature outputs as numpy arrays (float32), sequence dims cut to length."""
        from nlpkit.batching import split_rows

        return split_rows(output, batch)

    @abstractmethod
    def decode(
        self, examples: Sequence[ExampleT], features: Sequence[Feature], outputs: Sequence[Any]
    ) -> list[dict[str, Any]]:
        """One prediction per example, from the outputs of all its features."""

    @abstractmethod
    def metric(self) -> "evaluate.Metric":
        """The task's ``evaluate.Metric`` (defined in the plugin, never loaded by name)."""

    @abstractmethod
    def compute_metrics(
        self, examples: Sequence[ExampleT], predictions: Sequence[dict[str, Any]]
    ) -> dict[str, Any]:
        """Metrics of predictions against the examples' gold labels. Flat float values
        are logged during training; nested values (per class) go to metrics.json."""

    def metric_names(self) -> frozenset[str] | None:
        """The flat (number) keys of ``compute_metrics`` for this recipe's options, so
        that a misspelt ``train.monitor`` fails when the recipe is loaded, not after an
        epoch. Include a name that only the data can rule out (SQuAD v2's ``NoAns_f1``).
        Called on a task built from the recipe alone, before ``setup``: read options,
        import nothing heavy. None (the default): not known; the first validation checks."""
        return None

    def record(self, example: ExampleT, prediction: dict[str, Any]) -> dict[str, Any]:
        """One line of a run directory's predictions file (prediction plus gold)."""
        return dict(prediction)

    def has_labels(self, examples: Sequence[ExampleT]) -> bool:
        """Whether metrics can be computed on these examples."""
        return True

    prediction_formats: ClassVar[tuple[str, ...]] = ("jsonl",)
    """Formats of ``render``; the run directory writes every one of them per split."""

    def render(
        self, examples: Sequence[ExampleT], predictions: Sequence[dict[str, Any]], fmt: str
    ) -> Iterator[str]:
        """Lines of a predictions file in format ``fmt`` (default: JSONL of ``record``)."""
        import json

        if fmt != "jsonl":
            raise NlpkitError(f"task {self.name} writes predictions as {', '.join(self.prediction_formats)}, not {fmt}")
        for example, prediction in zip(examples, predictions):
            yield json.dumps(self.record(example, prediction), ensure_ascii=False)


def iter_texts(values: Iterable[str | None]) -> Iterator[str]:
    return (v for v in values if v)
