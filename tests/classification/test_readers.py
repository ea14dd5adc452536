"""Reading classification data: formats, columns, labels, and bad rows."""

from __future__ import annotations

from pathlib import Path

import pytest

from nlpkit.errors import DataError
from nlpkit.recipe import load_recipe
from nlpkit.scoring import compute_metrics
from nlpkit.task import TaskSettings
from nlpkit_classification.task import ClassificationTask


def task_for(data: dict, head: dict | None = None) -> ClassificationTask:
    return ClassificationTask(TaskSettings.of(load_recipe({"task": "classification", "data": data, "head": head or {}})))


def write(tmp_path: Path, name: str, text: str, encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def test_tsv_with_header_finds_sentence_and_label(tmp_path: Path) -> None:
    path = write(tmp_path, "a.tsv", "sentence\tlabel\nit 's a charming journey . \t1\nawful \t0\n")
    examples = task_for({}).read(path, "train")
    assert [(e.text, e.label, e.line) for e in examples] == [("it 's a charming journey .", "1", 2), ("awful", "0", 3)]


def test_plain_label_tab_text_without_header(tmp_path: Path) -> None:
    path = write(tmp_path, "b.txt", "pos\tgood film\nneg\tbad film\n")
    examples = task_for({"format": "tsv"}).read(path, "train")
    assert [(e.text, e.label) for e in examples] == [("good film", "pos"), ("bad film", "neg")]


def test_csv_with_quotes_and_columns_by_index(tmp_path: Path) -> None:
    path = write(tmp_path, "c.csv", '3,"a, quoted text",x\n1,"plain",y\n')
    examples = task_for({"header": False, "text_column": 1, "label_column": 0}).read(path, "train")
    assert [(e.text, e.label) for e in examples] == [("a, quoted text", "3"), ("plain", "1")]


def test_jsonl_with_named_columns(tmp_path: Path) -> None:
    path = write(tmp_path, "d.jsonl", '{"review": "nice", "stars": 5, "id": "r1"}\n\n{"review": "meh", "stars": 2}\n')
    examples = task_for({"text_column": "review", "label_column": "stars"}).read(path, "train")
    assert [(e.text, e.label, e.id) for e in examples] == [("nice", "5", "r1"), ("meh", "2", None)]


def test_trec_style_lines_latin1_with_coarse_label_regex(tmp_path: Path) -> None:
    path = write(tmp_path, "t.label", "DESC:manner How did serfdom develop ?\nLOC:city What is the capital of Brasil \xe9 ?\n", "latin-1")
    task = task_for({"format": "lines", "encoding": "latin-1", "label_regex": "^([A-Z]+):"})
    examples = task.read(path, "train")
    assert [e.label for e in examples] == ["DESC", "LOC"]
    assert examples[1].text == "What is the capital of Brasil é ?"


def test_missing_label_is_reported_with_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, "e.tsv", "sentence\tlabel\ngood\t1\nno label here\t\n")
    with pytest.raises(DataError) as err:
        task_for({}).read(path, "train")
    assert str(err.value) == f"{path}:3: missing label (column 'label')"


def test_empty_text_is_reported_with_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, "f.jsonl", '{"text": "ok", "label": "a"}\n{"text": "  ", "label": "b"}\n')
    with pytest.raises(DataError, match=r"f\.jsonl:2: empty text"):
        task_for({}).read(path, "train")


def test_wrong_column_count_is_reported(tmp_path: Path) -> None:
    path = write(tmp_path, "g.tsv", "sentence\tlabel\ngood\t1\nbad\t0\textra\n")
    with pytest.raises(DataError, match=r"g\.tsv:3: expected 2 columns"):
        task_for({}).read(path, "train")


def test_on_error_skip_counts_bad_rows(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = write(tmp_path, "h.tsv", "sentence\tlabel\ngood\t1\nbad\t\n\t0\nfine\t0\n")
    examples = task_for({"on_error": "skip"}).read(path, "train")
    assert [e.text for e in examples] == ["good", "fine"]
    assert "skipped 2 malformed rows" in caplog.text and "line 3" in caplog.text


def test_labels_unseen_in_training_are_reported_not_dropped(tmp_path: Path) -> None:
    task = task_for({})
    train = task.read(write(tmp_path, "tr.tsv", "sentence\tlabel\na\tx\nb\ty\n"), "train")
    task.setup(train)
    dev = task.read(write(tmp_path, "dv.tsv", "sentence\tlabel\nc\tx\nd\tz\n"), "validation")
    assert len(dev) == 2
    (warning,) = task.check(dev, "validation")
    assert "1 example(s) have labels unseen in training (z; lines 3)" in warning
    metrics = compute_metrics(task, dev, [{"label": "x"}, {"label": "x"}])
    assert metrics["accuracy"] == 0.5  # the unseen label counts as an error


def test_numeric_labels_sort_numerically(tmp_path: Path) -> None:
    task = task_for({})
    task.setup(task.read(write(tmp_path, "n.tsv", "sentence\tlabel\na\t10\nb\t9\nc\t1\n"), "train"))
    assert task.labels == ["1", "9", "10"]


def test_multilabel_reading_and_metrics(tmp_path: Path) -> None:
    path = write(tmp_path, "m.jsonl", '{"text": "a", "label": ["x", "y"]}\n{"text": "b", "label": "y"}\n')
    task = task_for({}, {"multi_label": True})
    examples = task.read(path, "train")
    assert [e.label for e in examples] == [["x", "y"], ["y"]]
    task.setup(examples)
    metrics = compute_metrics(task, examples, [{"labels": ["x", "y"]}, {"labels": ["x", "y"]}])
    assert metrics["accuracy"] == 0.5 and metrics["per_class"]["y"]["recall"] == 1.0


def test_on_error_skip_skips_a_row_with_the_wrong_column_count(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    text = "sentence\tlabel\ngood\t1\nbad\t0\nok\t1\nworse\t0\textra\nfine\t1\n"
    path = write(tmp_path, "mixed.tsv", text)
    with pytest.raises(DataError) as err:
        task_for({}).read(path, "train")
    assert str(err.value) == f"{path}:5: expected 2 columns (sentence, label), found 3"
    examples = task_for({"on_error": "skip"}).read(path, "train")
    assert [e.line for e in examples] == [2, 3, 4, 6]
    assert "skipped 1 malformed rows" in caplog.text
    assert "line 5: expected 2 columns (sentence, label), found 3" in caplog.text


def test_headerless_row_with_a_different_column_count_is_reported(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = write(tmp_path, "nohdr.tsv", "1\tgood film\n0\tbad film\textra\tmore\n1\tnice\n0\tdull\n")
    with pytest.raises(DataError) as err:
        task_for({"format": "tsv"}).read(path, "train")
    assert str(err.value) == f"{path}:2: expected 2 columns (as on most rows of this file), found 4"
    examples = task_for({"format": "tsv", "on_error": "skip"}).read(path, "train")
    assert [(e.text, e.line) for e in examples] == [("good film", 1), ("nice", 3), ("dull", 4)]
    assert "skipped 1 malformed rows" in caplog.text


def test_headerless_odd_first_row_is_the_one_reported(tmp_path: Path) -> None:
    path = write(tmp_path, "first.csv", "3,a text,x\n1,plain\n0,more\n")
    with pytest.raises(DataError) as err:
        task_for({"header": False}).read(path, "train")
    assert str(err.value) == f"{path}:1: expected 2 columns (as on most rows of this file), found 3"


def test_lines_format_keeps_delimiters_inside_the_text(tmp_path: Path) -> None:
    path = write(tmp_path, "plain.txt", "pos\tgood\tfilm\nneg\tbad film\n")
    examples = task_for({"format": "lines", "delimiter": "\t"}).read(path, "train")
    assert [(e.text, e.label) for e in examples] == [("good\tfilm", "pos"), ("bad film", "neg")]


def test_jsonl_missing_label_names_the_key(tmp_path: Path) -> None:
    path = write(tmp_path, "ml.jsonl", '{"text": "a", "label": "x"}\n{"text": "b"}\n')
    with pytest.raises(DataError) as err:
        task_for({}).read(path, "train")
    assert str(err.value) == f"{path}:2: missing label (key 'label')"


def test_jsonl_missing_text_names_the_key(tmp_path: Path) -> None:
    path = write(tmp_path, "mt.jsonl", '{"body": "a", "label": "x"}\n')
    with pytest.raises(DataError) as err:
        task_for({}).read(path, "train")
    assert str(err.value) == f"{path}:1: no text key 'text' (keys: 'body', 'label')"


def test_jsonl_rows_without_a_string_text_are_skippable(tmp_path: Path) -> None:
    path = write(tmp_path, "t.jsonl", '{"text": "a", "label": "x"}\n{"body": "b", "label": "x"}\n'
                                     '{"text": 5, "label": "y"}\n{"text": "c", "label": "y"}\n')
    with pytest.raises(DataError) as err:
        task_for({}).read(path, "train")
    assert str(err.value) == f"{path}:2: no text key 'text' (keys: 'body', 'label')"
    task = task_for({"on_error": "skip"})
    assert [e.text for e in task.read(path, "train")] == ["a", "c"]
    with pytest.raises(DataError) as err:
        task_for({}).read(write(tmp_path, "n.jsonl", '{"text": 5, "label": "y"}\n'), "train")
    assert str(err.value).endswith("n.jsonl:1: the text (key 'text') must be a string, got int 5")


def test_jsonl_line_that_is_not_json_is_skipped_with_on_error_skip(tmp_path: Path) -> None:
    path = write(tmp_path, "bad.jsonl", '{"text": "a", "label": "x"}\n{"text": "b", \n{"text": "c", "label": "y"}\n')
    with pytest.raises(DataError, match=r"bad\.jsonl:2: not valid JSON"):
        task_for({}).read(path, "train")
    assert [e.text for e in task_for({"on_error": "skip"}).read(path, "train")] == ["a", "c"]


def test_one_column_file_says_which_column_was_expected(tmp_path: Path) -> None:
    path = write(tmp_path, "nohdr.tsv", "\n\n1\n0\n")
    with pytest.raises(DataError) as err:
        task_for({"header": False}).read(path, "train")
    assert str(err.value) == f"{path}:3: expected a text in column 1, found 1 column"


def test_unterminated_csv_quote_is_reported_where_its_row_starts(tmp_path: Path) -> None:
    path = write(tmp_path, "q.csv", 'sentence,label\ngood,1\n"unterminated,0\nfine,1\n')
    with pytest.raises(DataError) as err:
        task_for({"on_error": "skip"}).read(path, "train")
    assert str(err.value) == (
        f"{path}:3: a quoted field that starts on this row is never closed (no closing '\"' before the end of the file)"
    )


def test_text_after_a_closing_csv_quote_is_reported_where_its_row_starts(tmp_path: Path) -> None:
    path = write(tmp_path, "q2.csv", 'label,text\n1,good\n0,"bad\nfilm\n1,"fine" film\n')
    with pytest.raises(DataError) as err:
        task_for({}).read(path, "train")
    assert str(err.value) == (
        f"{path}:3: expected ',' or the end of the line after the closing '\"' of a quoted field, found more text"
    )


def test_lines_after_a_multiline_quoted_field_keep_their_numbers(tmp_path: Path) -> None:
    path = write(tmp_path, "ml.csv", 'label,text\n1,"two\nlines"\n0,a,b\n1,ok\n')
    with pytest.raises(DataError) as err:
        task_for({}).read(path, "train")
    assert str(err.value) == f"{path}:4: expected 2 columns (label, text), found 3"
    examples = task_for({"on_error": "skip"}).read(path, "train")
    assert [(e.text, e.line) for e in examples] == [("two\nlines", 2), ("ok", 5)]
