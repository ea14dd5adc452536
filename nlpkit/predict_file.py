"""``nlpkit predict`` on a whole input: the output lines for its input lines, or for the
examples of a file in the task's own data format."""

from __future__ import annotations

import dataclasses
import json
import sys
from typing import TYPE_CHECKING, Any, Sequence

from nlpkit.errors import DataError, InputError, NlpkitError
from nlpkit.inputs import InputFile, is_jsonl, parse_lines
from nlpkit.tabular import KIND_NAMES, table_kind
from nlpkit.task import PREDICTION

if TYPE_CHECKING:  # pragma: no cover
    from nlpkit.predictor import Predictor


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
    kind = table_kind(source.path) if source.path is not None else None
    data_format = KIND_NAMES[kind] if kind is not None else predictor.task.input_format(source.head)
    if data_format is not None:
        return _predict_data_file(predictor, source, data_format, fmt=fmt, keep=keep, batch_size=batch_size)
    inputs = parse_lines(source, is_jsonl(source))
    _check_texts(source.name, inputs)
    examples = _examples(predictor, source.name, inputs)
    predictions = predictor.predict_examples(examples, batch_size=batch_size)
    if fmt != "jsonl":
        return list(predictor.render(examples, predictions, fmt))
    rows = [_row(number, value, prediction, keep) for (number, value), prediction in zip(inputs, predictions)]
    return [json.dumps(row, ensure_ascii=False) for row in rows]


def _predict_data_file(
    predictor: "Predictor", source: InputFile, data_format: str, *, fmt: str, keep: Sequence[str],
    batch_size: int | None,
) -> list[str]:
    """Predict the examples of a file that the task reads itself (its columns would be
    taken for text line by line): the rows of the task's ``render``, as in a run's
    predictions files, gold labels kept where the file has them."""
    from nlpkit.data import read_examples

    if source.path is None:
        raise NlpkitError(
            f"{source.name} holds {data_format}, the task's data format: give it as a file, nlpkit predict RUN "
            "--input FILE (nlpkit evaluate RUN --data FILE scores a labelled file)"
        )
    if keep:
        raise NlpkitError(
            f"--keep applies to texts and JSONL rows; {source.name} holds {data_format}, whose rows carry the task's "
            "own fields"
        )
    task = predictor.task
    # Every row is predicted or reported: a run that skipped bad rows does not skip them here.
    settings = task.settings
    task.settings = dataclasses.replace(settings, data=settings.data.model_copy(update={"on_error": "raise"}))
    try:
        examples = read_examples(task, source.path, PREDICTION, "inputs are read in the model's data.encoding")
    finally:
        task.settings = settings
    print(
        f"nlpkit: {source.name}: {data_format}, the task's data format: {len(examples):,} examples read by task "
        f"{task.name}'s reader (nlpkit evaluate RUN --data FILE scores a labelled file)",
        file=sys.stderr,
    )
    predictions = predictor.predict_examples(examples, batch_size=batch_size)
    return list(predictor.render(examples, predictions, fmt))


def _check_texts(name: str, inputs: list[tuple[int, Any]]) -> None:
    """The core's empty-text rule (:func:`nlpkit.predictor.check_inputs`), by line."""
    from nlpkit.predictor import check_inputs

    try:
        check_inputs([value for _, value in inputs])
    except InputError as exc:
        line = inputs[exc.index][0] if exc.index is not None else None
        raise DataError(name, line, exc.reason) from None


def _examples(predictor: "Predictor", name: str, inputs: list[tuple[int, Any]]) -> list[Any]:
    """The task's examples for ``inputs``; a bad input is reported with its line."""
    try:
        return predictor.examples_from_inputs([value for _, value in inputs])
    except NlpkitError as exc:
        for number, value in inputs:  # which line: only on the error path
            try:
                predictor.examples_from_inputs([value])
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
