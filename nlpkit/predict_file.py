"""``nlpkit predict`` on a whole input: the output lines for its input lines, or for the
examples of a file in the task's own data format."""

from __future__ import annotations

import dataclasses
import json
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Sequence

from nlpkit.errors import DataError, InputError, NlpkitError
from nlpkit.inputs import InputFile, is_jsonl, parse_lines
from nlpkit.tabular import KIND_NAMES, table_kind
from nlpkit.task import PREDICTION

if TYPE_CHECKING:  # pragma: no cover
    from nlpkit.predictor import Predictor
    from nlpkit.task import Task


@dataclass
class InputExamples:
    """The task's examples for an input, as ``nlpkit predict`` reads it."""

    examples: list[Any]
    inputs: list[tuple[int, Any]] | None = None
    """(line number, input) of each example, for an input read line by line."""
    data_format: str | None = None
    """The name of the task's data format (or table kind) when its reader read the file."""


def input_examples(task: "Task", source: InputFile, *, as_file: str = "") -> InputExamples:
    """The task's examples for ``source``: a table (Parquet, Arrow, a ``datasets``
    directory) or a file in the task's own data format through the task's reader (gold
    labels kept where the file has them), else one example per line (a text, or a JSON
    value); a bad line is a :class:`~nlpkit.errors.DataError` that names it. ``as_file``:
    how to give a file in the task's format that came from standard input."""
    kind = table_kind(source.path) if source.path is not None else None
    data_format = KIND_NAMES[kind] if kind is not None else task.input_format(source.head)
    if data_format is not None:
        return InputExamples(_data_file_examples(task, source, data_format, as_file), None, data_format)
    inputs = parse_lines(source, is_jsonl(source))
    _check_texts(source.name, inputs)
    return InputExamples(_examples(task, source.name, inputs), inputs)


def predict_input(
    predictor: "Predictor", source: InputFile, *, fmt: str = "jsonl", keep: Sequence[str] = (),
    batch_size: int | None = None,
) -> list[str]:
    """The output lines for ``source``: with ``fmt`` "jsonl", one row per input line
    (its ``line``, a JSONL object's ``id`` and the ``keep`` fields, then the prediction);
    for a file in the task's data format or a table (Parquet, Arrow, a ``datasets``
    directory), the task's rows per example, in file order."""
    if keep and fmt != "jsonl":
        raise NlpkitError(f"--keep adds fields to JSONL rows; --format {fmt} writes the task's own format")
    note = "nlpkit evaluate RUN --data FILE scores a labelled file"
    read = input_examples(predictor.task, source, as_file=f"nlpkit predict RUN --input FILE ({note})")
    if read.data_format is not None and keep:
        raise NlpkitError(
            f"--keep applies to texts and JSONL rows; {source.name} holds {read.data_format}, whose rows carry the "
            "task's own fields"
        )
    if read.data_format is not None:
        print(
            f"nlpkit: {source.name}: {read.data_format}, the task's data format: {len(read.examples):,} examples read "
            f"by task {predictor.task.name}'s reader ({note})",
            file=sys.stderr,
        )
    predictions = predictor.predict_examples(read.examples, batch_size=batch_size)
    if fmt != "jsonl" or read.inputs is None:
        return list(predictor.render(read.examples, predictions, fmt))
    rows = [_row(number, value, prediction, keep) for (number, value), prediction in zip(read.inputs, predictions)]
    return [json.dumps(row, ensure_ascii=False) for row in rows]


def _data_file_examples(task: "Task", source: InputFile, data_format: str, as_file: str) -> list[Any]:
    """The examples of a file that the task reads itself (its columns would be taken for
    text line by line), gold labels kept where the file has them."""
    from nlpkit.data import read_examples

    if source.path is None:
        raise NlpkitError(
            f"{source.name} holds {data_format}, the task's data format: give it as a file"
            + (f", {as_file}" if as_file else "")
        )
    # Every row is read or reported: a run that skipped bad rows does not skip them here.
    settings = task.settings
    task.settings = dataclasses.replace(settings, data=settings.data.model_copy(update={"on_error": "raise"}))
    try:
        return read_examples(task, source.path, PREDICTION, "inputs are read in the model's data.encoding")
    finally:
        task.settings = settings


def _check_texts(name: str, inputs: list[tuple[int, Any]]) -> None:
    """The core's empty-text rule (:func:`nlpkit.predictor.check_inputs`), by line."""
    from nlpkit.predictor import check_inputs

    try:
        check_inputs([value for _, value in inputs])
    except InputError as exc:
        line = inputs[exc.index][0] if exc.index is not None else None
        raise DataError(name, line, exc.reason) from None


def _examples(task: "Task", name: str, inputs: list[tuple[int, Any]]) -> list[Any]:
    """The task's examples for ``inputs``; a bad input is reported with its line."""
    from nlpkit.predictor import task_examples

    try:
        return task_examples(task, [value for _, value in inputs])
    except NlpkitError as exc:
        for number, value in inputs:  # which line: only on the error path
            try:
                task_examples(task, [value])
            except NlpkitError:
                raise DataError(name, number, str(exc)) from None
        raise


def _row(number: int, value: Any, prediction: dict[str, Any], keep: Sequence[str]) -> dict[str, Any]:
    """One JSONL output row: the input's line number, a JSONL object's ``id``, the fields
    named by ``keep`` that the input has (``text``: a plain line's text), then the
    prediction, so that rows can be matched to inputs without counting."""
    row: dict[str, Any] = {"line": number}
    fields = value if isinstance(value, dict) else {"text": value} if isinstance(value, str) else {}
    for name in ("id", *keep):
        if name in fields:
            row[name] = fields[name]
    clash = [name for name in keep if name in row and name in prediction and name != "id"]
    if clash:
        raise NlpkitError(
            f"--keep {clash[0]}: the prediction has a field {clash[0]!r} of its own; rename it in the input to keep it"
        )
    row.update((key, item) for key, item in prediction.items() if key not in row)
    return row
