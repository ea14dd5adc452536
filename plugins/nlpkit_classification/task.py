"""``task: classification``: single-label and multi-label text classification."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Iterator, Literal, Sequence

from pydantic import Field, field_validator

from nlpkit.errors import NlpkitError, RecipeError, RowErrors
from nlpkit.recipe import DataSection, HeadSection
from nlpkit.task import Feature, Task
from nlpkit_classification.readers import Column, Format, Record, pick, read_records

if TYPE_CHECKING:  # pragma: no cover
    import torch

TEXT_NAMES = ("text", "sentence", "text_a", "review")
LABEL_NAMES = ("label", "labels")


@dataclass
class TextExample:
    """A text and its gold label(s); ``label`` is None when unlabelled."""

    text: str
    label: str | list[str] | None = None
    id: str | None = None
    line: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class ClassificationData(DataSection):
    format: Format = Field("auto", description="auto (by suffix), tsv, csv, jsonl, or lines.")
    header: bool | None = Field(None, description="Delimited files: first row is a header (None: detect).")
    text_column: Column | None = Field(None, description="Name or 0-based index (default: text/sentence, or 1).")
    label_column: Column | None = Field(None, description="Name or 0-based index (default: label, or 0).")
    delimiter: str | None = Field(None, description="Field separator (tsv: tab, csv: comma, lines: space).")
    label_regex: str | None = Field(
        None, description="Keep the first group of this regex of each label (e.g. '^([A-Z]+):' for TREC coarse)."
    )
    label_separator: str = Field(",", description="Separator of several labels in one cell (multi-label).")
    labels: list[str] | None = Field(None, description="Fixed label set (default: the training data's labels).")

    @field_validator("label_regex")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                if re.compile(value).groups < 1:
                    raise ValueError("it needs one capturing group")
            except re.error as exc:
                raise ValueError(f"not a valid regular expression: {exc}") from None
        return value


class ClassificationHead(HeadSection):
    multi_label: bool = Field(False, description="Several labels per text: sigmoid outputs and a threshold.")
    threshold: float = Field(0.5, gt=0, lt=1, description="Multi-label decision threshold.")
    pooling: Literal["cls", "mean", "pooler"] = Field("mean", description="How the sequence becomes one vector.")


class ClassificationTask(Task[TextExample]):
    name: ClassVar[str] = "classification"
    description: ClassVar[str] = "Text classification (single- or multi-label) with accuracy, F1 and MCC."
    DataOptions: ClassVar[type[DataSection]] = ClassificationData
    HeadOptions: ClassVar[type[HeadSection]] = ClassificationHead
    monitor: ClassVar[str] = "accuracy"

    def __init__(self, recipe: Any) -> None:
        super().__init__(recipe)
        self.labels: list[str] = list(self.data_options.labels or [])

    # -- reading -------------------------------------------------------------------
    def read(self, path: Path, split: str) -> list[TextExample]:
        opts = self.data_options
        errors = RowErrors(path, opts.on_error)
        examples: list[TextExample] = []
        for record in read_records(
            path,
            opts.format,
            columns=self._named_columns(),
            header=opts.header,
            delimiter=opts.delimiter,
            encoding=opts.encoding,
            errors=errors,
        ):
            try:
                examples.append(self.example_from_record(record, path))
            except BadRow as bad:
                errors.add(record.line, str(bad))
        errors.report()
        return examples

    def _named_columns(self) -> tuple[Column, ...]:
        opts = self.data_options
        given = tuple(c for c in (opts.text_column, opts.label_column) if c is not None)
        return given + TEXT_NAMES + LABEL_NAMES

    def _column(self, record: Record, given: Column | None, names: Sequence[str], index: int) -> Column:
        if given is not None:
            return given
        for name in names:
            if name in record.values:
                return name
        # A JSON object has no column order: name the usual key rather than an index.
        return names[0] if record.kind == "key" else index

    def example_from_record(self, record: Record, path: Path) -> TextExample:
        opts = self.data_options
        text_col = self._column(record, opts.text_column, TEXT_NAMES, 1)
        label_col = self._column(record, opts.label_column, LABEL_NAMES, 0)
        if record.kind == "key" and str(text_col) not in record.values:  # one object lacks it: a bad row
            raise BadRow(f"no text key {str(text_col)!r} (keys: {', '.join(map(repr, record.values)) or 'none'})")
        text = pick(record, text_col, path, "text")
        if not isinstance(text, str):
            raise BadRow(f"the text ({record.kind} {text_col!r}) must be a string, got {type(text).__name__} {text!r:.40}")
        if not text.strip():
            raise BadRow(f"empty text ({record.kind} {text_col!r})")
        raw = record.values.get(str(label_col))
        label = self.parse_label(raw, label_col, record.kind)
        return TextExample(text.strip(), label, record.values.get("id"), record.line)

    def parse_label(self, raw: Any, column: Column, kind: str = "column") -> str | list[str]:
        """``kind``: what ``column`` is, for messages ("key" in a JSON object)."""
        opts = self.data_options
        if raw is None or (isinstance(raw, str) and not raw.strip()) or raw == []:
            raise BadRow(f"missing label ({kind} {column!r})")
        if self.head_options.multi_label:
            values = raw if isinstance(raw, list) else str(raw).split(opts.label_separator)
            return sorted({self._clean(v) for v in values if str(v).strip()})
        if isinstance(raw, list):
            raise BadRow(f"a list of labels in column {column!r}; set head.multi_label: true for multi-label data")
        return self._clean(raw)

    def _clean(self, value: Any) -> str:
        text = str(value).strip()
        pattern = self.data_options.label_regex
        if pattern:
            match = re.search(pattern, text)
            if not match:
                raise BadRow(f"label {text!r} does not match data.label_regex {pattern!r}")
            text = match.group(1)
        return text

    def examples_from_inputs(self, inputs: Sequence[Any]) -> list[TextExample]:
        examples = []
        for item in inputs:
            if isinstance(item, str):
                examples.append(TextExample(item))
            elif isinstance(item, dict) and isinstance(item.get("text"), str):
                examples.append(TextExample(item["text"], id=item.get("id")))
            else:
                raise NlpkitError(
                    f"task {self.name} predicts from texts (or {{'text': ...}} objects), got {item!r:.80}"
                )
        return examples

    def texts(self, examples: Sequence[TextExample]) -> Iterator[str]:
        return (e.text for e in examples)

    # -- labels ----------------------------------------------------------------------
    def setup(self, train: Sequence[TextExample]) -> None:
        seen = Counter(label for e in train for label in _as_list(e.label))
        if self.data_options.labels:
            unknown = sorted(set(seen) - set(self.labels))
            if unknown:
                raise RecipeError(
                    f"{self.recipe.source}: training labels {unknown[:5]} are not in data.labels {self.labels}"
                )
        else:
            self.labels = sorted(seen, key=_label_order)
        if len(self.labels) < 2 and not self.head_options.multi_label:
            raise RecipeError(f"{self.recipe.source}: the training data has {len(self.labels)} label(s); need at least 2")

    def check(self, examples: Sequence[TextExample], split: str) -> list[str]:
        known = set(self.labels)
        unseen = [(e.line, label) for e in examples for label in _as_list(e.label) if label not in known]
        if not unseen:
            return []
        names = sorted({label for _, label in unseen})
        lines = ", ".join(str(line) for line, _ in unseen[:5])
        return [
            f"{len(unseen)} example(s) have labels unseen in training ({', '.join(names[:10])}; lines {lines}); "
            "they stay in the evaluation and count as errors"
        ]

    def state_dict(self) -> dict[str, Any]:
        return {"labels": self.labels}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.labels = list(state["labels"])

    # -- encoding --------------------------------------------------------------------
    def encode(self, examples: Sequence[TextExample], tokenizer: Any, *, training: bool) -> list[Feature]:
        max_length = self.recipe.encoder.max_length
        encoded = tokenizer([e.text for e in examples], truncation=True, max_length=max_length, return_length=True)
        index = {label: i for i, label in enumerate(self.labels)}
        features = []
        for i, example in enumerate(examples):
            feature: Feature = {
                "input_ids": encoded["input_ids"][i],
                "attention_mask": encoded["attention_mask"][i],
                "example_id": i,
            }
            if "token_type_ids" in encoded:
                feature["token_type_ids"] = encoded["token_type_ids"][i]
            if example.label is not None:
                feature["labels"] = self.target(example.label, index)
            features.append(feature)
        self._count_truncated(examples, encoded, tokenizer, max_length)
        return features

    def target(self, label: str | list[str], index: dict[str, int]) -> Any:
        """The training target of a label: a class index (-100 when unseen: ignored by
        the loss) or a multi-hot vector."""
        if self.head_options.multi_label:
            return [1.0 if name in label else 0.0 for name in self.labels]
        return index.get(label, -100)  # type: ignore[arg-type]

    def _count_truncated(self, examples: Sequence[TextExample], encoded: Any, tokenizer: Any, max_length: int) -> None:
        full = [n for n in encoded["length"] if n >= max_length]
        if full:
            import logging

            # Texts that filled the window may have been cut: say so rather than hide it.
            logging.getLogger("nlpkit").warning(
                "%d of %d texts reach encoder.max_length = %d tokens and are truncated to it",
                len(full), len(examples), max_length,
            )

    # -- model -----------------------------------------------------------------------
    def num_outputs(self) -> int:
        return len(self.labels)

    def build_head(self, encoder: Any) -> "torch.nn.Module":
        from nlpkit_classification.heads import SequenceHead

        head = self.head_options
        return SequenceHead(encoder.config.hidden_size, self.num_outputs(), head.dropout, head.pooling)

    def loss(self, output: "torch.Tensor", batch: dict[str, "torch.Tensor"]) -> "torch.Tensor":
        import torch.nn.functional as F

        if self.head_options.multi_label:
            return F.binary_cross_entropy_with_logits(output.float(), batch["labels"].float())
        return F.cross_entropy(output.float(), batch["labels"], ignore_index=-100)

    def split_outputs(self, output: "torch.Tensor", batch: dict[str, "torch.Tensor"]) -> list[Any]:
        return list(output.detach().float().cpu().numpy())  # one logit vector per text

    # -- predictions and metrics -----------------------------------------------------------
    def decode(self, examples: Sequence[TextExample], features: Sequence[Feature], outputs: Sequence[Any]) -> list[dict[str, Any]]:
        import numpy as np

        predictions: list[dict[str, Any]] = [{} for _ in examples]
        for feature, logits in zip(features, outputs):
            logits = np.asarray(logits, dtype=np.float64)
            if self.head_options.multi_label:
                probs = 1.0 / (1.0 + np.exp(-logits))
                chosen = [l for l, p in zip(self.labels, probs) if p >= self.head_options.threshold]
                pred: dict[str, Any] = {"labels": chosen}
            else:
                shifted = np.exp(logits - logits.max())
                probs = shifted / shifted.sum()
                pred = {"label": self.labels[int(probs.argmax())]}
            pred["probabilities"] = {label: float(p) for label, p in zip(self.labels, probs)}
            predictions[feature["example_id"]] = pred
        return predictions

    def metric(self) -> Any:
        from nlpkit_classification.metric import ClassificationMetric

        return ClassificationMetric(config_name="multilabel" if self.head_options.multi_label else "default")

    def compute_metrics(self, examples: Sequence[TextExample], predictions: Sequence[dict[str, Any]]) -> dict[str, Any]:
        key = "labels" if self.head_options.multi_label else "label"
        return self.metric().compute(
            predictions=[p[key] for p in predictions], references=[e.label for e in examples]
        )

    def metric_names(self) -> frozenset[str]:
        # The flat keys of ClassificationMetric (metric.py), per config.
        if self.head_options.multi_label:
            return frozenset({"accuracy", "micro_f1", "macro_f1"})
        return frozenset({"accuracy", "macro_f1", "mcc"})

    def has_labels(self, examples: Sequence[TextExample]) -> bool:
        return all(e.label is not None for e in examples)

    def record(self, example: TextExample, prediction: dict[str, Any]) -> dict[str, Any]:
        row: dict[str, Any] = {"text": example.text}
        if example.id is not None:
            row["id"] = example.id
        if example.label is not None:
            row["gold"] = example.label
        return {**row, **prediction}


class BadRow(Exception):
    """A row that cannot become an example (message names the column)."""


def _as_list(label: str | list[str] | None) -> list[str]:
    if label is None:
        return []
    return label if isinstance(label, list) else [label]


def _label_order(label: str) -> tuple[int, float, str]:
    """Numbers in numeric order (so '10' follows '9'), then the rest alphabetically."""
    try:
        return (0, float(label), label)
    except ValueError:
        return (1, 0.0, label)
