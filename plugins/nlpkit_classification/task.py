"""``task: classification``: single-label and multi-label text classification."""

from __future__ import annotations

import re
from typing import ClassVar, Literal, cast

from pydantic import Field, field_validator

from nlpkit.readers import Column, Format
from nlpkit.recipe import DataSection, HeadSection
from nlpkit.task import TaskSettings
from nlpkit_classification.labels import ClassLabels
from nlpkit_classification.sequence import SequenceTask
from nlpkit_classification.texts import LABEL_NAMES, ROW_KEYS, TEXT_NAMES, TextExample, TextInputs

__all__ = ["LABEL_NAMES", "TEXT_NAMES", "ClassificationData", "ClassificationHead", "ClassificationTask", "TextExample"]


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


class ClassificationTask(SequenceTask[TextExample]):
    """Texts with class labels: :class:`TextInputs` and :class:`ClassLabels`."""

    name: ClassVar[str] = "classification"
    DataOptions: ClassVar[type[DataSection]] = ClassificationData
    HeadOptions: ClassVar[type[HeadSection]] = ClassificationHead
    monitor: ClassVar[str] = "accuracy"
    row_keys: ClassVar[tuple[str, ...]] = ROW_KEYS

    def __init__(self, settings: TaskSettings) -> None:
        data = cast(ClassificationData, settings.data)
        head = cast(ClassificationHead, settings.head)
        labels = ClassLabels(
            data.labels,
            multi_label=head.multi_label,
            threshold=head.threshold,
            separator=data.label_separator,
            pattern=data.label_regex,
            source=settings.source,
        )
        super().__init__(settings, TextInputs(data, self.name), labels)
