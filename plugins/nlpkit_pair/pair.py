"""``task: pair``: two texts per example (``[CLS] a [SEP] b [SEP]`` with segment ids):
paraphrase / entailment classification or similarity regression."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Iterator, Sequence, cast

from pydantic import Field

from nlpkit.errors import DataError, NlpkitError
from nlpkit.readers import BadRow, Column, Format, Record, find_column
from nlpkit.recipe import DataSection, HeadSection
from nlpkit.task import Counts, Feature, TaskSettings, text_list, text_object
from nlpkit_classification.labels import ClassLabels
from nlpkit_classification.sequence import ParseLabel, SequenceTask, Target
from nlpkit_classification.texts import LABEL_NAMES
from nlpkit_pair.common import LabelMapOption, ScoredHead, map_label, scored_labels

# Column names tried in order when the recipe names none (GLUE, MRPC, QQP, NLI files).
TEXT_A_NAMES = ("text_a", "sentence1", "#1 String", "question1", "premise", "sentence_a")
TEXT_B_NAMES = ("text_b", "sentence2", "#2 String", "question2", "hypothesis", "sentence_b")
PAIR_LABEL_NAMES = (*LABEL_NAMES, "Quality", "gold_label", "score")
PAIR_ROW_KEYS = ("text_a", "text_b", "label", "id")
"""What a table's row holds (``data.columns`` maps the data's names to these)."""


@dataclass
class PairExample:
    """Two texts and the gold label (a label name, or a number for regression)."""

    text_a: str
    text_b: str
    label: Any = None
    id: str | None = None
    line: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class PairColumns(DataSection):
    format: Format = Field("auto", description="auto (by suffix), tsv, csv or jsonl.")
    header: bool | None = Field(None, description="Delimited files: first row is a header (None: detect).")
    text_a_column: Column | None = Field(
        None, description="Name or 0-based index of the first text (default: text_a, sentence1, #1 String, ... or 1)."
    )
    text_b_column: Column | None = Field(
        None, description="Name or 0-based index of the second text (default: text_b, sentence2, #2 String, ... or 2)."
    )
    label_column: Column | None = Field(None, description="Name or 0-based index (default: label, Quality, ... or 0).")
    delimiter: str | None = Field(None, description="Field separator (tsv: tab, csv: comma).")


class PairData(PairColumns, LabelMapOption):
    labels: list[str] | None = Field(None, description="Fixed label set (default: the training data's labels).")
    positive_label: str | None = Field(
        None, description="Class whose F1 is reported as `f1` (default: '1' if a label, else the last of two labels)."
    )


class PairInputs:
    """Examples of two texts each (``[CLS] a [SEP] b [SEP]``), for the task named
    ``task_name`` (in messages)."""

    def __init__(self, options: PairColumns, task_name: str) -> None:
        self.options = options
        self.task_name = task_name

    def columns(self) -> tuple[Column, ...]:
        opts = self.options
        given = tuple(c for c in (opts.text_a_column, opts.text_b_column, opts.label_column) if c is not None)
        return given + TEXT_A_NAMES + TEXT_B_NAMES + PAIR_LABEL_NAMES

    def example(self, record: Record, path: str | Path, parse_label: ParseLabel) -> PairExample:
        opts = self.options
        text_a = self.text(record, path, "text_a", opts.text_a_column, TEXT_A_NAMES, 1)
        text_b = self.text(record, path, "text_b", opts.text_b_column, TEXT_B_NAMES, 2)
        label_col = find_column(record, opts.label_column, PAIR_LABEL_NAMES, 0)
        label = parse_label(record.values.get(str(label_col)), label_col, record.kind)
        return PairExample(text_a, text_b, label, _as_id(record.values.get("id")), record.line)

    def text(
        self, record: Record, path: str | Path, what: str, given: Column | None, names: Sequence[str], index: int
    ) -> str:
        """The text ``what`` of a row; a file without its column stops the reading."""
        column = find_column(record, given, names, index)
        kind = record.kind
        if str(column) not in record.values:
            tried = "" if given is not None else f" (tried {', '.join(names)})"
            if kind == "key":
                # One JSON line without the key: a bad row (skippable), named by its keys.
                keys = ", ".join(repr(k) for k in record.values) or "none"
                hint = "" if given is not None else f"; set data.{what}_column if the file names it otherwise"
                raise BadRow(f"no {what} key {column!r}{tried}; keys: {keys}{hint}")
            # A one-text file given to a pair task: say so, not just "column missing".
            raise DataError(
                path, record.line,
                f"task {self.task_name} reads two texts per row, but there is no {what} column {column!r}{tried}; "
                f"columns: {', '.join(record.values) or 'none'}. Set data.{what}_column",
            )
        value = record.values[str(column)]
        if value is not None and not isinstance(value, str):
            raise BadRow(f"{what} ({kind} {column!r}) must be a string, got {type(value).__name__} {value!r:.40}")
        if not isinstance(value, str) or not value.strip():
            raise BadRow(f"empty {what} ({kind} {column!r})")
        return value.strip()

    def from_inputs(self, inputs: Sequence[Any]) -> list[PairExample]:
        examples = []
        for item in inputs:
            if isinstance(item, (tuple, list)) and len(item) == 2 and all(isinstance(t, str) for t in item):
                examples.append(PairExample(item[0], item[1]))
            elif isinstance(item, dict) and isinstance(item.get("text_a"), str) and isinstance(item.get("text_b"), str):
                examples.append(PairExample(item["text_a"], item["text_b"], id=item.get("id")))
            else:
                hint = (
                    "; one pair is a tuple, predict(('text a', 'text b')), or with nlpkit predict a line "
                    "[\"text a\", \"text b\"] of a .jsonl file" if isinstance(item, str) else ""
                )
                raise NlpkitError(
                    f"task {self.task_name} predicts from pairs of texts: ('text a', 'text b') tuples or "
                    f"{{'text_a': ..., 'text_b': ...}} objects, got {item!r:.80}{hint}"
                )
        return examples

    def schemas(self) -> list[dict[str, Any]]:
        return [text_list(2, 2), text_object(["text_a", "text_b"])]

    def texts(self, examples: Sequence[PairExample]) -> Iterator[str]:
        for e in examples:
            yield e.text_a
            yield e.text_b

    def encode(
        self, examples: Sequence[PairExample], tokenizer: Any, max_length: int, target: Target, counts: Counts
    ) -> list[Feature]:
        """``[CLS] a [SEP] b [SEP]`` with segment ids 0 / 1; pairs over ``max_length`` lose
        tokens from the end of the longer text first, and are counted."""
        budget = max_length - 3
        ids_a = tokenizer([e.text_a for e in examples], add_special_tokens=False, verbose=False)["input_ids"]
        ids_b = tokenizer([e.text_b for e in examples], add_special_tokens=False, verbose=False)["input_ids"]
        cls_id, sep_id = tokenizer.cls_token_id, tokenizer.sep_token_id
        features: list[Feature] = []
        truncated = 0
        for i, example in enumerate(examples):
            a, b = truncate_longest_first(ids_a[i], ids_b[i], budget)
            truncated += len(a) + len(b) < len(ids_a[i]) + len(ids_b[i])
            input_ids = [cls_id, *a, sep_id, *b, sep_id]
            feature: Feature = {
                "input_ids": input_ids,
                "token_type_ids": [0] * (len(a) + 2) + [1] * (len(b) + 1),
                "attention_mask": [1] * len(input_ids),
                "example_id": i,
            }
            if example.label is not None:
                feature["labels"] = target(example.label)
            features.append(feature)
        counts.add(
            f"pairs exceed encoder.max_length = {max_length} tokens: the longer text of each was shortened", truncated
        )
        return features

    def record(self, example: PairExample, prediction: dict[str, Any]) -> dict[str, Any]:
        row: dict[str, Any] = {"text_a": example.text_a, "text_b": example.text_b}
        if example.id is not None:
            row["id"] = example.id
        if example.label is not None:
            row["gold"] = example.label
        return {**row, **prediction}


class PairTask(SequenceTask[PairExample]):
    """Pairs of texts with class labels (``f1`` of the positive class) or similarity
    scores (a scale)."""

    name: ClassVar[str] = "pair"
    DataOptions: ClassVar[type[DataSection]] = PairData
    HeadOptions: ClassVar[type[HeadSection]] = ScoredHead
    monitor: ClassVar[str] = "accuracy"
    row_keys: ClassVar[tuple[str, ...]] = PAIR_ROW_KEYS

    def __init__(self, settings: TaskSettings) -> None:
        data = cast(PairData, settings.data)
        source = settings.source

        def classes() -> ClassLabels:
            return ClassLabels(data.labels, positive=data.positive_label, positive_f1=True, source=source)

        labels = scored_labels(cast(ScoredHead, settings.head), classes, value_key="score", source=source)
        super().__init__(settings, PairInputs(data, self.name), labels)

    def parse_label(self, raw: Any, column: Column, kind: str = "column") -> Any:
        return self.strategy.parse(map_label(self.settings.data.label_map, raw, column, kind), column, kind)


def _as_id(value: Any) -> str | None:
    return None if value is None else str(value)


def truncate_longest_first(a: list[int], b: list[int], budget: int) -> tuple[list[int], list[int]]:
    """Cut tokens from the end of the longer text until both fit ``budget``; a text is
    never emptied unless the budget is below 2."""
    la, lb = len(a), len(b)
    if la + lb <= budget:
        return a, b
    if min(la, lb) <= budget // 2:  # the short one fits in half: the long one takes the rest
        if la >= lb:
            la = budget - lb
        else:
            lb = budget - la
    else:  # both long: half each, the odd token to the first text
        la, lb = budget - budget // 2, budget // 2
    return a[:la], b[:lb]
