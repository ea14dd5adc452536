"""The shared base of tasks that make one sequence-level prediction per example
(classification, sentiment, sentence pairs, NSP).

A :class:`SequenceTask` is built from two parts that the concrete task chooses: its
*inputs* (how a row becomes an example and an example becomes token ids: one text, or
a pair) and its *labels* (a :class:`~nlpkit_classification.labels.LabelStrategy`:
classes, or a value on a scale). The task contract's methods delegate to them.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, Protocol, Sequence, TypeVar

from nlpkit.errors import RowErrors
from nlpkit.readers import BadRow, Column, Record, convert_records, read_examples
from nlpkit.task import PREDICTION, Counts, Feature, Logits, Task, TaskSettings
from nlpkit_classification.labels import LabelStrategy, as_list, missing
from nlpkit_classification.tables import table_format

if TYPE_CHECKING:  # pragma: no cover
    import evaluate
    import torch

    from nlpkit.task import HfHead


class Labelled(Protocol):
    """An example: its gold label (None when unlabelled) and the line it was read from."""

    label: Any
    line: int | None


ExampleT = TypeVar("ExampleT", bound=Labelled)
ParseLabel = Callable[[Any, Column, str], Any]
"""``(raw, column, kind) -> label``: a task's :meth:`SequenceTask.parse_label`."""
Target = Callable[[Any], Any]
"""A gold label -> the training target in a feature's ``labels``."""


class Inputs(Protocol[ExampleT]):
    """How a task's examples are read, encoded and written back."""

    def columns(self) -> tuple[Column, ...]:
        """Column names that mark a header row."""
        ...

    def example(self, record: Record, path: str | Path, parse_label: ParseLabel) -> ExampleT: ...
    def from_inputs(self, inputs: Sequence[Any]) -> list[ExampleT]: ...
    def schemas(self) -> list[dict[str, Any]]:
        """The shapes of one input that :meth:`from_inputs` reads (``Task.input_schemas``)."""
        ...
    def texts(self, examples: Sequence[ExampleT]) -> Iterator[str]: ...

    def encode(
        self, examples: Sequence[ExampleT], tokenizer: Any, max_length: int, target: Target, counts: Counts
    ) -> list[Feature]: ...

    def record(self, example: ExampleT, prediction: dict[str, Any]) -> dict[str, Any]: ...


class SequenceTask(Task[ExampleT]):
    """One prediction per example from the pooled sequence: ``inputs`` decide reading and
    encoding, ``strategy`` the labels, the loss, decoding and metrics."""

    def __init__(self, settings: TaskSettings, inputs: Inputs[ExampleT], strategy: LabelStrategy) -> None:
        super().__init__(settings)
        self.inputs = inputs
        self.strategy = strategy
        if strategy.monitor:
            self.monitor = strategy.monitor

    @property
    def labels(self) -> list[str]:
        """Class names in the order of the head's outputs (empty for a scale)."""
        return self.strategy.labels

    # -- reading -------------------------------------------------------------------
    def read(self, path: Path, split: str) -> list[ExampleT]:
        return read_examples(path, self.settings.data, self.inputs.columns(), self._converter(path, split))

    def read_rows(self, rows: Iterable[Record], source: str, split: str) -> list[ExampleT]:
        errors = RowErrors(source, self.settings.data.on_error, unit="row")
        return convert_records(rows, errors, self._converter(source, split))

    def _converter(self, source: str | Path, split: str) -> Callable[[Record], ExampleT]:
        """One row -> an example; rows to predict may lack their label."""
        parse = self._parse_if_given if split == PREDICTION else self.parse_label

        def example(record: Record) -> ExampleT:
            return self.inputs.example(record, source, parse)

        return example

    def _parse_if_given(self, raw: Any, column: Column, kind: str = "column") -> Any:
        return None if missing(raw) else self.parse_label(raw, column, kind)

    def input_format(self, lines: Sequence[str]) -> str | None:
        """A table of this task's rows (TSV, CSV, or labelled lines) is read as such by
        ``nlpkit predict``: its header and columns are never taken for text."""
        return table_format(lines, self.settings.data, self.inputs.columns(), self._is_label)

    def _is_label(self, raw: str) -> bool:
        """Whether a cell holds a label the model predicts (after ``data.label_regex``)."""
        try:
            labels = as_list(self.parse_label(raw, 0))
        except BadRow:
            return False
        return bool(labels) and all(label in self.labels for label in labels)

    def parse_label(self, raw: Any, column: Column, kind: str = "column") -> Any:
        """A raw label as the task's label; ``kind``: what ``column`` is ("key" in JSON)."""
        return self.strategy.parse(raw, column, kind)

    def examples_from_inputs(self, inputs: Sequence[Any]) -> list[ExampleT]:
        return self.inputs.from_inputs(inputs)

    def input_schemas(self) -> list[dict[str, Any]]:
        return self.inputs.schemas()

    def texts(self, examples: Sequence[ExampleT]) -> Iterator[str]:
        return self.inputs.texts(examples)

    # -- labels ----------------------------------------------------------------------
    def setup(self, train: Sequence[ExampleT]) -> None:
        self.strategy.setup([e.label for e in train])

    def check(self, examples: Sequence[ExampleT], split: str) -> list[str]:
        return self.strategy.check([(e.line, e.label) for e in examples])

    def state_dict(self) -> dict[str, Any]:
        return self.strategy.state_dict()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.strategy.load_state_dict(state)

    # -- encoding and model ------------------------------------------------------------
    def encode(self, examples: Sequence[ExampleT], tokenizer: Any, *, training: bool, counts: Counts) -> list[Feature]:
        return self.inputs.encode(examples, tokenizer, self.settings.max_length, self.strategy.target, counts)

    def build_head(self, encoder: Any) -> "torch.nn.Module":
        from nlpkit_classification.heads import SequenceHead

        head = self.settings.head
        return SequenceHead(
            encoder.config.hidden_size, self.strategy.num_outputs(), head.dropout, head.pooling, self.strategy.loss
        )

    def hf_head(self, encoder: Any, head: Any) -> "HfHead":
        from nlpkit_classification.export import sequence_hf_head

        return sequence_hf_head(head, self.strategy)

    def split_outputs(self, output: "torch.Tensor", batch: dict[str, "torch.Tensor"]) -> list[Any]:
        return list(output.detach().float().cpu().numpy())  # one output vector per example

    def distill_logits(self, output: "torch.Tensor", batch: dict[str, "torch.Tensor"]) -> dict[str, Logits]:
        return {"labels": Logits(output, self.strategy.logits_kind)}

    # -- predictions and metrics -------------------------------------------------------
    def decode(
        self, examples: Sequence[ExampleT], features: Sequence[Feature], outputs: Sequence[Any]
    ) -> list[dict[str, Any]]:
        predictions: list[dict[str, Any]] = [{} for _ in examples]
        for feature, output in zip(features, outputs):
            predictions[feature["example_id"]] = self.strategy.decode(output)
        return predictions

    def metric(self) -> "evaluate.Metric":
        return self.strategy.metric()

    def metric_inputs(self, examples: Sequence[ExampleT], predictions: Sequence[dict[str, Any]]) -> dict[str, Any]:
        return self.strategy.metric_inputs([e.label for e in examples], predictions)

    def metric_names(self) -> frozenset[str]:
        return self.strategy.metric_names()

    def has_labels(self, examples: Sequence[ExampleT]) -> bool:
        return all(e.label is not None for e in examples)

    def record(self, example: ExampleT, prediction: dict[str, Any]) -> dict[str, Any]:
        return self.inputs.record(example, prediction)
