"""The task contract: what a task plugin supplies, and only that.

A :class:`Task` turns raw files into examples (``read``), examples into model features
(``encode``), encoder hidden states into outputs and a loss (``build_head``: the head
owns its loss), outputs back into user-facing predictions (``decode``), and predictions
into the inputs of its ``evaluate`` metric (``metric`` + ``metric_inputs``). The core does
everything else: recipes, caching, padding and batching, the Lightning loop, computing
the metrics (:mod:`nlpkit.scoring`), checkpoints, run directories, CLI, prediction.

A task never sees the recipe: the core builds it from a :class:`TaskSettings`, the few
values that tasks use.

This module imports neither torch nor transformers, so that validating a recipe stays
fast; task modules should import heavy libraries inside their methods.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import (
    TYPE_CHECKING, Any, Callable, ClassVar, Generic, Iterable, Iterator, Literal, Mapping, Sequence, TypeVar,
)

from pydantic import create_model

from nlpkit.errors import NlpkitError
from nlpkit.sections import DataSection, HeadSection, Recipe

if TYPE_CHECKING:  # pragma: no cover
    import evaluate
    import torch
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

    from nlpkit.readers import Record

ExampleT = TypeVar("ExampleT")
Feature = dict[str, Any]
"""One model input row: token ids and friends as lists/ints, plus ``example_id`` (the
index of its example in the list given to ``encode``). Several features may share an
example (sliding windows)."""

ENCODER_INPUTS = ("input_ids", "attention_mask", "token_type_ids")
TEXT: dict[str, Any] = {"type": "string"}
"""The JSON schema of a text in :meth:`Task.input_schemas` (the server adds its limits)."""


def text_object(required: Sequence[str], optional: Sequence[str] = ("id",)) -> dict[str, Any]:
    """The JSON schema of an input given as named texts: ``{"text": ...}``."""
    return {"type": "object", "properties": {name: TEXT for name in (*required, *optional)},
            "required": list(required), "additionalProperties": False}


def text_list(min_items: int, max_items: int | None = None) -> dict[str, Any]:
    """The JSON schema of an input given as a list of texts (a pair, pre-split words)."""
    return {"type": "array", "items": TEXT, "minItems": min_items, **({"maxItems": max_items} if max_items else {})}
PREDICTION = "prediction"
"""The ``split`` that ``read`` gets for a file given to ``nlpkit predict``: its rows may
lack gold labels (present ones are kept, as in an evaluation split)."""


@dataclass(frozen=True)
class TaskSettings:
    """What a task gets from the recipe, and all it gets: built by the core
    (:meth:`of`), passed to the task's constructor, kept as ``task.settings``."""

    data: DataSection
    """The recipe's ``data`` section: the core's keys and the task's ``DataOptions``."""
    head: HeadSection
    """The recipe's ``head`` section: the core's keys and the task's ``HeadOptions``."""
    max_length: int
    """``encoder.max_length``: the longest feature, in tokens."""
    seed: int
    """``train.seed``: for what a task draws at random (training pairs, kept windows)."""
    source: str
    """Where the recipe came from, to start error messages with."""
    encoder_checkpoint: str | None = None
    """``encoder.name`` when the encoder starts from pretrained weights (a head may load
    its own weights from the same checkpoint); None for a scratch encoder."""

    @classmethod
    def of(cls, recipe: Recipe) -> "TaskSettings":
        encoder = recipe.encoder
        return cls(
            data=recipe.data,
            head=recipe.head,
            max_length=encoder.max_length,
            seed=recipe.train.seed,
            source=str(recipe.source),
            encoder_checkpoint=encoder.name if encoder.init == "pretrained" else None,
        )


Batch = dict[str, "torch.Tensor"]
Compare = Callable[[Callable[[Batch], Any], Batch, Any], Mapping[str, tuple["torch.Tensor", "torch.Tensor"]]]
"""``(nlpkit, batch, hf_output) -> {name: (nlpkit's tensor, transformers' tensor)}``:
``nlpkit(batch_with_extras)`` runs nlpkit's model (encoder and head) and returns the
head's output; ``batch`` holds the encoder inputs (``input_ids``, ``attention_mask``,
``token_type_ids``) of one unpadded sequence; ``hf_output`` is the exported model's
output on them. The export fails unless every pair agrees."""


@dataclass
class HfHead:
    """How a task's head maps onto a transformers model class: what
    :meth:`Task.hf_head` returns for ``nlpkit export --format hf``."""

    architecture: str
    """The model class: one of transformers (``BertForSequenceClassification``) or of
    :mod:`nlpkit.export.modeling_nlpkit` (shipped with the export, ``trust_remote_code``)."""
    auto_class: str
    """The ``transformers`` auto class that loads it (``AutoModelForSequenceClassification``)."""
    weights: dict[str, "torch.Tensor"]
    """The head's tensors, named as in ``architecture`` (``classifier.weight``); the
    encoder's are the core's (under the class's base-model prefix, ``bert.``)."""
    compare: Compare
    """The outputs that must agree between nlpkit's model and the export."""
    config: dict[str, Any] = field(default_factory=dict)
    """Entries of ``config.json``: ``num_labels``, ``id2label``, ``problem_type``, ..."""
    also_loads: tuple[str, ...] = ()
    """Other auto classes that load the export (``AutoModelForMaskedLM``)."""
    pipeline: str | None = None
    """The ``transformers.pipeline`` task that serves it, if one does."""
    beside: dict[str, dict[str, "torch.Tensor"]] = field(default_factory=dict)
    """Further safetensors files, by name, for what transformers has no place for (a CRF's
    transitions); the model card says what plain transformers leaves out."""
    notes: tuple[str, ...] = ()
    """What a user of plain transformers must know (model card): what it decodes otherwise."""


@dataclass(frozen=True)
class ExplainTarget:
    """One value of a head's output that ``nlpkit explain`` attributes to the input's
    tokens: what :meth:`Task.explain_targets` returns, one per thing to explain (the
    predicted class; an entity; the answer's start and its end)."""

    name: str
    """What the value is, as the page and the JSON show it (``label positive``,
    ``PER: John Smith``, ``answer start``)."""
    select: Callable[[Any], "torch.Tensor"]
    """From the head's differentiable output for a batch (what its ``graph_forward``, or
    else its ``forward``, returns: a tensor or a dict of tensors) to one value per row."""


@dataclass
class Logits:
    """Rows of a head's output that distillation compares between a teacher and its
    student (what :meth:`Task.distill_logits` returns): the student learns to give each
    row what the teacher gives it."""

    values: "torch.Tensor"
    """(rows, outputs): one row per prediction the head makes (a sequence, a token, a
    start position...), padding and unlabelled positions left out."""
    kind: Literal["softmax", "sigmoid", "value"] = "softmax"
    """How a row is read: one distribution over its outputs (``softmax``: classes, tags,
    positions), an independent probability per output (``sigmoid``: multi-label), or
    values to match as they are (``value``: regression)."""


class Counts:
    """What ``encode`` counts among its examples ("texts truncated"). The core encodes a
    split in chunks, sums each count over them and logs it once, out of the split's
    examples: ``data.train: 12 of 2,000 texts reach encoder.max_length = 128 tokens ...``."""

    def __init__(self) -> None:
        self._counts: dict[tuple[str, int], int] = {}

    def add(self, what: str, n: int = 1, *, level: int = logging.WARNING) -> None:
        """Count ``n`` examples that ``what`` says of; ``level``: how the line is logged."""
        if n:
            key = (what, level)
            self._counts[key] = self._counts.get(key, 0) + n

    def log(self, total: int, prefix: str = "", logger: logging.Logger | None = None) -> None:
        """One line per count, in the order they first came: ``{prefix}N of {total} {what}``."""
        logger = logger or logging.getLogger("nlpkit")
        for (what, level), n in self._counts.items():
            logger.log(level, "%s%s of %s %s", prefix, f"{n:,}", f"{total:,}", what)


class Task(ABC, Generic[ExampleT]):
    """Base class of every task. Subclass it, set the class attributes, register it
    through the ``register_tasks`` hook.

    Lifecycle in a run: ``Task(settings)`` -> ``read`` each split -> ``setup(train)``
    (label maps) -> ``encode`` -> ``build_head`` -> training with the head's ``loss`` ->
    evaluation with ``split_outputs``/``decode``/``metric``. The run directory stores
    ``state_dict()``; ``load_state_dict`` restores it for prediction.
    """

    name: ClassVar[str]
    DataOptions: ClassVar[type[DataSection]] = DataSection
    HeadOptions: ClassVar[type[HeadSection]] = HeadSection
    monitor: ClassVar[str]
    """Validation metric that picks the best checkpoint: a key of what ``metric()``
    computes (required; the registry refuses a task without it)."""
    monitor_mode: ClassVar[str] = "max"
    batch_keys: ClassVar[tuple[str, ...] | None] = None
    """The feature keys that go into a batch (None: all); the others (offsets, windows)
    stay with the features, for ``decode``."""
    prediction_formats: ClassVar[tuple[str, ...]] = ("jsonl",)
    """Formats of ``render``; the run directory writes every one of them per split."""
    row_keys: ClassVar[tuple[str, ...]] = ()
    """The column names that ``read_rows`` reads (``text``, ``label``...): the keys that
    a recipe's ``data.columns`` may map. Empty: the task reads no tables."""

    def __init__(self, settings: TaskSettings) -> None:
        self.settings = settings

    @classmethod
    def recipe_model(cls) -> type[Recipe]:
        """The recipe model with this task's ``data`` and ``head`` option classes."""
        return create_model(  # type: ignore[call-overload]
            f"{cls.__name__}Recipe",
            __base__=Recipe,
            data=(cls.DataOptions, cls.DataOptions()),
            head=(cls.HeadOptions, cls.HeadOptions()),
        )

    # -- reading -------------------------------------------------------------------
    @abstractmethod
    def read(self, path: Path, split: str) -> list[ExampleT]:
        """Read a data file into typed examples; bad rows raise
        :class:`nlpkit.errors.DataError` (or are skipped when ``data.on_error: skip``).
        ``split`` is "train", "validation", "test", "evaluation" (``nlpkit evaluate``) or
        :data:`PREDICTION` (``nlpkit predict``: gold labels may be absent)."""

    def read_rows(self, rows: Iterable["Record"], source: str, split: str) -> list[ExampleT]:
        """Rows of a table into typed examples: a Parquet or Arrow file, a ``datasets``
        directory or data given in memory, read by the core (:mod:`nlpkit.tabular`), its
        columns already renamed by ``data.columns`` to the names in ``row_keys``. Each
        :class:`~nlpkit.readers.Record` is one row (``line``: its index); bad rows are
        reported as by ``read``, with ``source`` as the file (the core turns
        ``source:line`` into ``source[row]``). Default: the task reads files only."""
        raise NlpkitError(f"task {self.name} reads its own file formats only, not tables ({source})")

    def stream(self, path: Path, split: str) -> Iterable[ExampleT] | None:
        """The examples of ``path`` read lazily, for a split that may not fit in memory
        (a pre-training corpus): an iterable that reads the file(s) again each time it is
        iterated, yielding what ``read`` would return, in the same order. The core then
        encodes the split as it streams in, into memory-mapped shards
        (:mod:`nlpkit.shards`). None (default): the split is read whole by ``read``."""
        return None

    def examples_from_inputs(self, inputs: Sequence[Any]) -> list[ExampleT]:
        """Turn what a user passes to ``predict`` (strings, tuples, dicts) into examples."""
        raise NlpkitError(f"task {self.name} does not predict from raw inputs")

    def input_schemas(self) -> list[dict[str, Any]] | None:
        """The shapes of one input that :meth:`examples_from_inputs` reads, as JSON schemas
        (:data:`TEXT`, :func:`text_object`, :func:`text_list`): what ``nlpkit serve``'s
        OpenAPI schema says ``POST /predict`` takes. None (default): not said; the schema
        then allows any text, list of texts or object of texts."""
        return None

    def input_format(self, lines: Sequence[str]) -> str | None:
        """Whether a file given to ``nlpkit predict`` is in this task's own data format
        (what ``read`` reads: CoNLL columns, SQuAD JSON, a labelled table), judged from
        its first lines (without line ends): the format's name for messages, or None for
        the core's inputs (one text, or one JSON value, per line). ``nlpkit predict``
        reads a file so recognised with ``read`` rather than line by line, where its
        columns would be taken for text. Default: None."""
        return None

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

    # -- encoding and batching -----------------------------------------------------
    @abstractmethod
    def encode(
        self, examples: Sequence[ExampleT], tokenizer: "PreTrainedTokenizerBase", *, training: bool, counts: Counts
    ) -> list[Feature]:
        """Examples -> features (each with ``example_id``), at most
        ``settings.max_length`` tokens long; what is cut or split goes to ``counts``
        (``counts.add("texts ... are truncated", n)``), which the core logs per split."""

    def cache_settings(self) -> dict[str, Any]:
        """Everything besides file content and tokenizer that changes ``encode``'s output."""
        settings = self.settings
        return {
            "data": settings.data.model_dump(
                mode="json", exclude={"limit_train", "limit_validation", "limit_test", "cache", "cache_dir"}
            ),
            "head": settings.head.model_dump(mode="json"),
            "max_length": settings.max_length,
            "state": self.state_dict(),
        }

    def prepare_batch(
        self, batch: dict[str, "torch.Tensor"], tokenizer: "PreTrainedTokenizerBase", *, training: bool
    ) -> dict[str, "torch.Tensor"]:
        """A batch the core has padded (``input_ids`` with the pad id, masks with 0, other
        lists with -100) -> what the head gets; default: as it is. ``training`` is False
        for validation, test and prediction batches (a task that draws random masks here
        makes them reproducible there)."""
        return batch

    # -- model ---------------------------------------------------------------------
    @abstractmethod
    def build_head(self, encoder: "PreTrainedModel") -> "torch.nn.Module":
        """The head: ``forward(encoder_output, batch)`` -> tensor or dict of tensors, and
        ``loss(output, batch)`` -> the training loss of a batch.

        A head that ignores ``encoder_output.pooler_output`` sets the attribute
        ``uses_pooler = False``: the encoder then drops its pooler (distributed training
        rejects parameters that get no gradient)."""

    def hf_head(self, encoder: "PreTrainedModel", head: "torch.nn.Module") -> HfHead:
        """The head as a transformers model class (``nlpkit export --format hf``); the
        default refuses, so that a task that does not map its head never exports a model
        whose head transformers would fill at random."""
        raise NlpkitError(f"task {self.name} cannot be exported to transformers (its plugin does not map its head)")

    def explain_targets(self, feature: Feature, output: Any, prediction: dict[str, Any]) -> list[ExplainTarget]:
        """What ``nlpkit explain`` attributes for one input, from its feature, its head
        output (one row of :meth:`split_outputs`) and its prediction. The default serves
        heads that give one row of logits per input: the predicted (largest) one."""
        import numpy as np

        row = np.asarray(output) if not isinstance(output, Mapping) else None
        if row is None or row.ndim != 1:
            raise NlpkitError(f"task {self.name} cannot be explained (its plugin names no explain targets)")
        index = int(row.argmax())
        name = f"label {prediction['label']}" if "label" in prediction else "score" if row.size == 1 else f"class {index}"
        return [ExplainTarget(name, lambda out: out[:, index])]

    def distill_logits(self, output: Any, batch: dict[str, "torch.Tensor"]) -> dict[str, Logits]:
        """The parts of the head's ``output`` on ``batch`` that a student learns from its
        teacher (``distill`` in a recipe), by name (QA: ``start`` and ``end``). Called on
        the teacher's output and the student's for the same batch: the rows must line up.
        The default refuses: a task opts in to distillation by saying what its outputs are."""
        raise NlpkitError(f"task {self.name} cannot be distilled (its plugin does not say which outputs to match)")

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
        """The task's ``evaluate.Metric`` (defined in the plugin, never loaded by name).
        What it computes is the task's metrics: flat numbers are logged during training
        (``val_<name>``), nested values (per class) go to metrics.json."""

    @abstractmethod
    def metric_inputs(
        self, examples: Sequence[ExampleT], predictions: Sequence[dict[str, Any]]
    ) -> dict[str, Any]:
        """The keyword arguments of ``metric().compute``: predictions against the
        examples' gold labels."""

    def metric_names(self) -> frozenset[str] | None:
        """The flat (number) keys of the metric for these settings, so that a misspelt
        ``train.monitor`` fails when the recipe is loaded, not after an epoch. Include a
        name that only the data can rule out (SQuAD v2's ``NoAns_f1``). Called on a task
        built from the recipe alone, before ``setup``: read settings, import nothing
        heavy. None (the default): not known; the first validation checks."""
        return None

    def has_labels(self, examples: Sequence[ExampleT]) -> bool:
        """Whether metrics can be computed on these examples."""
        return True

    def record(self, example: ExampleT, prediction: dict[str, Any]) -> dict[str, Any]:
        """One line of a run directory's predictions file (prediction plus gold)."""
        return dict(prediction)

    def render(
        self, examples: Sequence[ExampleT], predictions: Sequence[dict[str, Any]], fmt: str
    ) -> Iterator[str]:
        """Lines of a predictions file in format ``fmt`` (default: JSONL of ``record``)."""
        import json

        if fmt != "jsonl":
            raise NlpkitError(f"task {self.name} writes predictions as {', '.join(self.prediction_formats)}, not {fmt}")
        for example, prediction in zip(examples, predictions):
            yield json.dumps(self.record(example, prediction), ensure_ascii=False)
