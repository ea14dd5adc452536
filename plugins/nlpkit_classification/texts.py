"""One text per example: reading it from a row, encoding it, writing it back."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Protocol, Sequence

from nlpkit.errors import NlpkitError
from nlpkit.readers import BadRow, Column, Record, find_column, pick
from nlpkit.task import TEXT, Counts, Feature, text_object
from nlpkit_classification.sequence import ParseLabel, Target

TEXT_NAMES = ("text", "sentence", "text_a", "review")
LABEL_NAMES = ("label", "labels")
ROW_KEYS = ("text", "label", "id")
"""What a table's row holds (``data.columns`` maps the data's names to these)."""


@dataclass
class TextExample:
    """A text and its gold label(s); ``label`` is None when unlabelled."""

    text: str
    label: str | list[str] | float | None = None
    """A class name, a list of them (multi-label), or a number (regression)."""
    id: str | None = None
    line: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class TextColumns(Protocol):
    """The data keys that say where the text and the label are."""

    text_column: Column | None
    label_column: Column | None


class TextInputs:
    """Examples of one text each, for the task named ``task_name`` (in messages)."""

    def __init__(self, options: TextColumns, task_name: str) -> None:
        self.options = options
        self.task_name = task_name

    def columns(self) -> tuple[Column, ...]:
        opts = self.options
        given = tuple(c for c in (opts.text_column, opts.label_column) if c is not None)
        return given + TEXT_NAMES + LABEL_NAMES

    def example(self, record: Record, path: str | Path, parse_label: ParseLabel) -> TextExample:
        opts = self.options
        text_col = find_column(record, opts.text_column, TEXT_NAMES, 1)
        label_col = find_column(record, opts.label_column, LABEL_NAMES, 0)
        if record.kind == "key" and str(text_col) not in record.values:  # one object lacks it: a bad row
            raise BadRow(f"no text key {str(text_col)!r} (keys: {', '.join(map(repr, record.values)) or 'none'})")
        text = pick(record, text_col, path, "text")
        if not isinstance(text, str):
            raise BadRow(f"the text ({record.kind} {text_col!r}) must be a string, got {type(text).__name__} {text!r:.40}")
        if not text.strip():
            raise BadRow(f"empty text ({record.kind} {text_col!r})")
        label = parse_label(record.values.get(str(label_col)), label_col, record.kind)
        return TextExample(text.strip(), label, record.values.get("id"), record.line)

    def from_inputs(self, inputs: Sequence[Any]) -> list[TextExample]:
        examples = []
        for item in inputs:
            if isinstance(item, str):
                examples.append(TextExample(item))
            elif isinstance(item, dict) and isinstance(item.get("text"), str):
                examples.append(TextExample(item["text"], id=item.get("id")))
            else:
                raise NlpkitError(
                    f"task {self.task_name} predicts from texts (or {{'text': ...}} objects), got {item!r:.80}"
                )
        return examples

    def schemas(self) -> list[dict[str, Any]]:
        return [TEXT, text_object(["text"])]

    def texts(self, examples: Sequence[TextExample]) -> Iterator[str]:
        return (e.text for e in examples)

    def encode(
        self, examples: Sequence[TextExample], tokenizer: Any, max_length: int, target: Target, counts: Counts
    ) -> list[Feature]:
        encoded = tokenizer([e.text for e in examples], truncation=True, max_length=max_length, return_length=True)
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
                feature["labels"] = target(example.label)
            features.append(feature)
        # Texts that filled the window may have been cut: say so rather than hide it.
        full = sum(1 for n in encoded["length"] if n >= max_length)
        counts.add(f"texts reach encoder.max_length = {max_length} tokens and are truncated to it", full)
        return features

    def record(self, example: TextExample, prediction: dict[str, Any]) -> dict[str, Any]:
        row: dict[str, Any] = {"text": example.text}
        if example.id is not None:
            row["id"] = example.id
        if example.label is not None:
            row["gold"] = example.label
        return {**row, **prediction}
