"""Long fields in TSV/CSV: long documents are read; an absurdly long field is a bad row
(skipped with data.on_error: skip, an error naming file and line otherwise)."""

from __future__ import annotations

import csv
import logging
from pathlib import Path

import pytest

from nlpkit.errors import DataError
from nlpkit.recipe import load_recipe
from nlpkit.task import TaskSettings
from nlpkit_classification.readers import MAX_FIELD_CHARS
from nlpkit_classification.task import ClassificationTask

PYTHON_CSV_LIMIT = 131072


def task_for(**data: str) -> ClassificationTask:
    return ClassificationTask(TaskSettings.of(load_recipe({"task": "classification", "data": data})))


def write_rows(path: Path, texts: list[str]) -> Path:
    sep = "\t" if path.suffix == ".tsv" else ","
    quote = (lambda t: t) if sep == "\t" else (lambda t: '"' + t.replace('"', '""') + '"')
    lines = [f"sentence{sep}label"] + [f"{quote(t)}{sep}{i % 2}" for i, t in enumerate(texts)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("suffix", [".tsv", ".csv"])
def test_a_document_longer_than_pythons_csv_limit_is_read(suffix: str, tmp_path: Path) -> None:
    long = "word " * (PYTHON_CSV_LIMIT // 4) + "end"
    if suffix == ".csv":
        long = long.replace("word word", 'word "quoted"\nover lines')  # a quoted field of many lines
    path = write_rows(tmp_path / f"train{suffix}", ["short one", long, "short two"])
    examples = task_for().read(path, "train")
    assert [e.text for e in examples] == ["short one", long, "short two"] and len(long) > PYTHON_CSV_LIMIT
    assert csv.field_size_limit() == PYTHON_CSV_LIMIT  # the process-wide limit is left as it was


@pytest.mark.parametrize("suffix", [".tsv", ".csv"])
def test_an_overlong_field_is_a_bad_row(suffix: str, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = write_rows(tmp_path / f"train{suffix}", ["short one", "x" * (MAX_FIELD_CHARS + 1), "short two"])
    with pytest.raises(DataError) as info:
        task_for().read(path, "train")
    hint = "is a '\"' left open on this row?" if suffix == ".csv" else "is data.format or data.delimiter wrong?"
    assert str(info.value) == f"{path}:3: a field of 10,000,001 characters, more than the 10,000,000 nlpkit reads; {hint}"

    with caplog.at_level(logging.WARNING, logger="nlpkit"):
        examples = task_for(on_error="skip").read(path, "train")
    assert [e.text for e in examples] == ["short one", "short two"]
    assert "skipped 1 malformed rows" in caplog.text and "line 3: a field of 10,000,001 characters" in caplog.text
