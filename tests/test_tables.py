"""Tables as users have them: Parquet, Arrow, a ``datasets`` directory, CSV/JSONL through
``data.columns``, and data in memory (``nlpkit.run(..., data=...)``) give every task family
the examples its own text format gives; bad tables are reported with file, row and column."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.feather as feather
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

import nlpkit
from nlpkit.cli import main
from nlpkit.data import read_examples, read_splits
from nlpkit.errors import DataError, RecipeError
from nlpkit.plugins import get_task
from nlpkit.recipe import build_recipe
from nlpkit.task import TaskSettings
from tests.conftest import write_sentiment_tsv
from tests.ner.conftest import toy_sentences, write_conll
from tests.qa.conftest import make_rows, squad_json

datasets = pytest.importorskip("datasets")


def task_of(task: str, tmp_path: Path, **data: Any) -> Any:
    recipe = build_recipe({"task": task, "data": data, "output": {"dir": str(tmp_path / "run")}}, "<test>")
    return get_task(task)(TaskSettings.of(recipe))


def write_parquet(path: Path, rows: list[dict[str, Any]]) -> Path:
    pq.write_table(pa.Table.from_pylist(rows), path)
    return path


def texts_and_labels(examples: list[Any]) -> list[tuple[str, Any]]:
    return [(e.text, e.label) for e in examples]


# -- every input kind, every task family -------------------------------------------------


def test_classification_reads_every_table_kind_as_its_tsv(tmp_path: Path) -> None:
    tsv = write_sentiment_tsv(tmp_path / "train.tsv", 12, seed=3)
    task = task_of("classification", tmp_path, train=str(tsv))
    expected = texts_and_labels(read_examples(task, tsv, "train"))
    frame = pd.read_csv(tsv, sep="\t")  # columns sentence, label (ints)
    frame.to_parquet(tmp_path / "train.parquet")
    feather.write_feather(pa.Table.from_pandas(frame, preserve_index=False), tmp_path / "train.arrow")
    datasets.Dataset.from_pandas(frame, preserve_index=False).save_to_disk(str(tmp_path / "saved"))
    datasets.DatasetDict(train=datasets.Dataset.from_pandas(frame)).save_to_disk(str(tmp_path / "dict"))
    renamed = frame.rename(columns={"sentence": "review_body", "label": "stars"})
    renamed.to_csv(tmp_path / "renamed.csv", index=False)
    renamed.to_json(tmp_path / "renamed.jsonl", orient="records", lines=True)
    mapped = task_of("classification", tmp_path, train=str(tsv), columns={"text": "review_body", "label": "stars"})

    for name in ("train.parquet", "train.arrow", "saved", "dict"):
        assert texts_and_labels(read_examples(task, tmp_path / name, "train")) == expected, name
    for name in ("renamed.csv", "renamed.jsonl"):
        assert texts_and_labels(read_examples(mapped, tmp_path / name, "train")) == expected, name
    in_memory = {"DataFrame": frame, "Dataset": datasets.Dataset.from_pandas(frame), "list": frame.to_dict("records")}
    recipe = build_recipe({"task": "classification", "data": {}, "output": {"dir": str(tmp_path / "r")}}, "<test>")
    for kind, given in in_memory.items():
        splits = read_splits(task, recipe, {"train": given})
        assert texts_and_labels(splits["train"].examples) == expected, kind


def test_an_arrow_stream_file_as_datasets_writes_it(tmp_path: Path) -> None:
    datasets.Dataset.from_list([{"text": "fine", "label": 1}]).save_to_disk(str(tmp_path / "saved"))
    (stream,) = (tmp_path / "saved").glob("*.arrow")
    assert stream.read_bytes()[:4] == b"\xff\xff\xff\xff"  # a stream, not an ARROW1 file
    assert texts_and_labels(read_examples(task_of("classification", tmp_path), stream, "train")) == [("fine", "1")]


def test_skipped_rows_of_a_table_are_counted_by_row(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    rows = [{"text": "fine", "label": "1"}, {"text": " ", "label": "0"}, {"text": "good", "label": None}]
    task = task_of("classification", tmp_path, on_error="skip")
    logger = logging.getLogger("nlpkit")
    logger.addHandler(caplog.handler)
    try:
        examples = read_examples(task, write_parquet(tmp_path / "t.parquet", rows), "train")
    finally:
        logger.removeHandler(caplog.handler)
    assert texts_and_labels(examples) == [("fine", "1")]
    assert "t.parquet: skipped 2 malformed rows (data.on_error: skip), e.g. row 1: empty text" in caplog.text
    assert "row 2: missing label" in caplog.text


def test_a_datasets_class_label_is_read_as_its_name(tmp_path: Path) -> None:
    features = datasets.Features({"text": datasets.Value("string"), "label": datasets.ClassLabel(names=["neg", "pos"])})
    data = datasets.Dataset.from_dict({"text": ["awful", "great"], "label": [0, 1]}, features=features)
    data.to_parquet(str(tmp_path / "t.parquet"))  # the features travel in the schema's metadata
    task = task_of("classification", tmp_path)
    assert texts_and_labels(read_examples(task, tmp_path / "t.parquet", "train")) == [("awful", "neg"), ("great", "pos")]


def test_sentiment_reads_a_list_of_dicts(tmp_path: Path) -> None:
    sentiment = task_of("sentiment", tmp_path, label_map={"1": "negative", "5": "positive"})
    recipe = build_recipe({"task": "sentiment", "data": {}, "output": {"dir": str(tmp_path / "r")}}, "<test>")
    given = [{"text": "awful", "label": 1}, {"text": "great", "label": 5}]
    examples = read_splits(sentiment, recipe, {"train": given})["train"].examples
    assert texts_and_labels(examples) == [("awful", "negative"), ("great", "positive")]


def classification_family(tmp_path: Path) -> tuple[str, list[dict[str, Any]], Path, Any]:
    rows = [{"text": f"text number {i}", "label": "pos" if i % 2 else "neg"} for i in range(5)]
    tsv = tmp_path / "ref.tsv"
    tsv.write_text("text\tlabel\n" + "".join(f"{r['text']}\t{r['label']}\n" for r in rows), encoding="utf-8")
    return "classification", rows, tsv, lambda e: (e.text, e.label)


def pair_family(tmp_path: Path) -> tuple[str, list[dict[str, Any]], Path, Any]:
    rows = [{"text_a": f"first {i}", "text_b": f"second {i}", "label": str(i % 2)} for i in range(5)]
    tsv = tmp_path / "ref.tsv"
    lines = "".join(f"{r['text_a']}\t{r['text_b']}\t{r['label']}\n" for r in rows)
    tsv.write_text("text_a\ttext_b\tlabel\n" + lines, encoding="utf-8")
    return "pair", rows, tsv, lambda e: (e.text_a, e.text_b, e.label)


def ner_family(tmp_path: Path) -> tuple[str, list[dict[str, Any]], Path, Any]:
    sentences = toy_sentences(5)
    rows = [{"tokens": [w for w, _ in s], "tags": [t for _, t in s]} for s in sentences]
    return "ner", rows, write_conll(tmp_path / "ref.txt", sentences), lambda e: (e.words, e.tags, e.source_tags)


def qa_family(tmp_path: Path) -> tuple[str, list[dict[str, Any]], Path, Any]:
    rows = make_rows(5)
    squad = tmp_path / "ref.json"
    squad.write_text(json.dumps(squad_json(rows)), encoding="utf-8")
    return "qa", rows, squad, lambda e: (e.id, e.question, e.context, e.answers)


def pretrain_family(tmp_path: Path) -> tuple[str, list[dict[str, Any]], Path, Any]:
    rows = [{"text": f"Document {i} begins.\nIt has a second paragraph {i}."} for i in range(4)]
    text = tmp_path / "ref.txt"
    text.write_text("".join(r["text"] + "\n\n" for r in rows), encoding="utf-8")
    return "pretrain", rows, text, lambda e: e.paragraphs


FAMILIES = {f.__name__.removesuffix("_family"): f for f in (
    classification_family, pair_family, ner_family, qa_family, pretrain_family)}
KINDS = ("parquet", "arrow", "datasets-dir", "jsonl", "Dataset", "DataFrame", "list")


def given_as(kind: str, rows: list[dict[str, Any]], tmp_path: Path) -> Any:
    """``rows`` as a file (its path) or an object in memory of ``kind``."""
    if kind == "parquet":
        return write_parquet(tmp_path / "data.parquet", rows)
    if kind == "arrow":
        feather.write_feather(pa.Table.from_pylist(rows), tmp_path / "data.arrow")
        return tmp_path / "data.arrow"
    if kind == "datasets-dir":
        datasets.Dataset.from_list(rows).save_to_disk(str(tmp_path / "saved"))
        return tmp_path / "saved"
    if kind == "jsonl":
        (tmp_path / "data.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
        return tmp_path / "data.jsonl"
    return {"Dataset": datasets.Dataset.from_list, "DataFrame": pd.DataFrame, "list": list}[kind](rows)


@pytest.mark.parametrize("mapped", [False, True], ids=["own-names", "data.columns"])
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("family", FAMILIES)
def test_every_input_kind_gives_each_task_family_what_its_text_format_gives(
    family: str, kind: str, mapped: bool, tmp_path: Path
) -> None:
    task_name, rows, reference, key = FAMILIES[family](tmp_path)
    expected = [key(e) for e in read_examples(task_of(task_name, tmp_path), reference, "train")]
    columns = {name: f"my {name}" for name in rows[0]} if mapped else {}
    stored = [{columns.get(k, k): v for k, v in row.items()} for row in rows]
    task = task_of(task_name, tmp_path, columns=columns)
    source = given_as(kind, stored, tmp_path)
    if isinstance(source, Path):
        examples = read_examples(task, source, "train")
    else:
        recipe = build_recipe({"task": task_name, "data": {"columns": columns}, "output": {"dir": str(tmp_path)}})
        examples = read_splits(task, recipe, {"train": source})["train"].examples
    assert [key(e) for e in examples] == expected


def test_nsp_reads_pairs_or_documents_from_a_table(tmp_path: Path) -> None:
    pairs = write_parquet(tmp_path / "pairs.parquet", [{"text_a": "it rained .", "text_b": "we stayed in .", "label": 1}])
    nsp = task_of("nsp", tmp_path)
    assert [(e.text_a, e.label) for e in read_examples(nsp, pairs, "train")] == [("it rained .", "is_next")]
    documents = [{"text": f"Doc {d} starts here. It goes on {d}. It ends {d}."} for d in range(3)]
    examples = read_examples(nsp, write_parquet(tmp_path / "docs.parquet", documents), "train")
    assert examples and {e.label for e in examples} <= {"is_next", "not_next"}
    assert all(e.text_a.startswith(("Doc", "It")) for e in examples)


def test_ner_reads_a_hub_style_dataset_with_class_label_tags(tmp_path: Path) -> None:
    sentences = toy_sentences(6)
    conll = write_conll(tmp_path / "train.txt", sentences)
    task = task_of("ner", tmp_path)
    expected = [(e.words, e.tags) for e in read_examples(task, conll, "train")]
    names = ["O", "I-PER", "I-LOC"]
    features = datasets.Features({
        "words": datasets.List(datasets.Value("string")),
        "ner_tags": datasets.List(datasets.ClassLabel(names=names)),
    })
    data = datasets.Dataset.from_dict(
        {"words": [[w for w, _ in s] for s in sentences], "ner_tags": [[names.index(t) for _, t in s] for s in sentences]},
        features=features,
    )
    data.save_to_disk(str(tmp_path / "conll"))
    mapped = task_of("ner", tmp_path, columns={"tokens": "words", "tags": "ner_tags"})
    assert [(e.words, e.tags) for e in read_examples(mapped, tmp_path / "conll", "train")] == expected


# -- bad tables --------------------------------------------------------------------------


def test_a_missing_column_names_file_row_and_columns(tmp_path: Path) -> None:
    path = write_parquet(tmp_path / "t.parquet", [{"body": "fine", "stars": 1}])
    with pytest.raises(DataError, match=r"t\.parquet\[0\]: no text column 'text' \(columns: body, stars\)"):
        read_examples(task_of("classification", tmp_path), path, "train")
    with pytest.raises(DataError, match=r"t\.parquet\[0\]: missing label \(column 'label'\)"):
        read_examples(task_of("classification", tmp_path, columns={"text": "body"}), path, "train")
    with pytest.raises(DataError, match=r"t\.parquet: no column 'review' \(data\.columns\.text\); columns: body, stars"):
        read_examples(task_of("classification", tmp_path, columns={"text": "review"}), path, "train")


def test_a_wrong_type_names_the_row_and_column(tmp_path: Path) -> None:
    rows = [{"text": 7, "label": 1}, {"text": 5, "label": 0}]  # a column of numbers
    with pytest.raises(DataError, match=r"t\.parquet\[0\]: the text \(column 'text'\) must be a string, got int 7"):
        read_examples(task_of("classification", tmp_path), write_parquet(tmp_path / "t.parquet", rows), "train")
    with pytest.raises(DataError, match=r"data\['train'\]\[1\]: 'tags' must be a list of strings"):
        recipe = build_recipe({"task": "ner", "data": {}, "output": {"dir": str(tmp_path / "r")}}, "<test>")
        read_splits(task_of("ner", tmp_path), recipe, {"train": [{"tokens": ["a"], "tags": ["O"]}, {"tokens": ["b"], "tags": [0]}]})


def test_a_parquet_file_in_a_tsv_recipe_says_what_it_is(tmp_path: Path) -> None:
    path = write_parquet(tmp_path / "train.tsv", [{"text": "fine", "label": 1}])
    recipe = {"task": "classification", "data": {"train": str(path), "format": "tsv"}, "output": {"dir": str(tmp_path / "r")}}
    with pytest.raises(RecipeError, match=r"train\.tsv is a Parquet file, but data\.format is 'tsv'.*remove data\.format"):
        build_recipe(recipe, "<test>")
    (tmp_path / "r.yaml").write_text(json.dumps(recipe), encoding="utf-8")
    result = CliRunner().invoke(main, ["recipe", "check", str(tmp_path / "r.yaml")])
    assert result.exit_code == 2 and "is a Parquet file" in result.output and "encoding" not in result.output
    # Without data.format, the same file is read as the table it is.
    assert texts_and_labels(read_examples(task_of("classification", tmp_path), path, "train")) == [("fine", "1")]


def test_a_file_named_parquet_that_is_not_one(tmp_path: Path) -> None:
    path = tmp_path / "t.parquet"
    path.write_text("text\tlabel\nfine\t1\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"t\.parquet: named \.parquet but not a Parquet file"):
        read_examples(task_of("classification", tmp_path), path, "train")


def test_data_columns_names_only_what_the_task_reads(tmp_path: Path) -> None:
    with pytest.raises(RecipeError, match=r"data\.columns\.txt: not a column the task reads \(did you mean text\?\)"):
        task_of("classification", tmp_path, columns={"txt": "body"})


def test_an_unknown_split_or_object_in_memory(tmp_path: Path) -> None:
    recipe = build_recipe({"task": "classification", "data": {}, "output": {"dir": str(tmp_path / "r")}}, "<test>")
    task = task_of("classification", tmp_path)
    with pytest.raises(RecipeError, match="unknown split 'dev'"):
        read_splits(task, recipe, {"train": [{"text": "a", "label": 1}], "dev": []})
    with pytest.raises(DataError, match=r"data\['train'\]\[1\]: expected a dict of column values, got str"):
        read_splits(task, recipe, {"train": [{"text": "a", "label": 1}, "b"]})


# -- a run from memory ---------------------------------------------------------------------


def test_run_trains_from_data_in_memory_and_caches_it(classification_recipe: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    import nlpkit.data
    from nlpkit.recipe import load_recipe
    from nlpkit.train import prepare_data

    frame = pd.read_csv(classification_recipe["data"]["train"], sep="\t").rename(columns={"sentence": "body"})
    dev = pd.read_csv(classification_recipe["data"]["validation"], sep="\t").rename(columns={"sentence": "body"})
    given = {"train": frame, "validation": dev.to_dict("records")}
    recipe = {**classification_recipe, "data": {"columns": {"text": "body"}}, "train": {
        **classification_recipe["train"], "epochs": 1}}
    result = nlpkit.run(recipe, data=given)
    assert result.metrics["training"]["examples"] == {"train": 48, "validation": 16}
    assert 0 <= result.metrics["validation"]["accuracy"] <= 1
    assert "data.train: 48 examples from data['train']" in (result.run_dir / "train.log").read_text(encoding="utf-8")

    def never(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("encoded again: the same data in memory missed the feature cache")

    monkeypatch.setattr(nlpkit.data, "encode", never)
    again = prepare_data(load_recipe(recipe), given)
    assert len(again.splits["train"].features) == 48
    frame.loc[0, "body"] = "a different text"  # other content, another cache entry
    with pytest.raises(AssertionError, match="encoded again"):
        prepare_data(load_recipe(recipe), {**given, "train": frame})


# -- the command line ------------------------------------------------------------------------


def test_predict_and_evaluate_read_tables(tiny_classifier_run: Path, tmp_path: Path) -> None:
    rows = [{"sentence": "a great fun movie", "label": 1}, {"sentence": "awful and dull", "label": 0}]
    table = write_parquet(tmp_path / "inputs.parquet", rows)
    predicted = CliRunner().invoke(main, ["predict", str(tiny_classifier_run), "--input", str(table)])
    assert predicted.exit_code == 0, predicted.output
    lines = [json.loads(line) for line in predicted.stdout.splitlines()]
    assert [(r["text"], r["gold"]) for r in lines] == [("a great fun movie", "1"), ("awful and dull", "0")]
    expected = nlpkit.load(tiny_classifier_run).predict([r["sentence"] for r in rows])
    assert [r["label"] for r in lines] == [p["label"] for p in expected]

    datasets.Dataset.from_list(rows).save_to_disk(str(tmp_path / "saved"))
    scored = CliRunner().invoke(main, ["evaluate", str(tiny_classifier_run), "--data", str(tmp_path / "saved")])
    assert scored.exit_code == 0, scored.output
    assert json.loads(scored.stdout)["accuracy"] == sum(
        p["label"] == str(r["label"]) for p, r in zip(expected, rows)) / 2


def test_a_bad_table_stops_the_cli_with_exit_code_2(classification_recipe: dict, tmp_path: Path) -> None:
    rows = [{"text": "fine", "label": 1}, {"text": "good", "label": None}]
    recipe = {**classification_recipe, "data": {"train": str(write_parquet(tmp_path / "t.parquet", rows))}}
    (tmp_path / "r.yaml").write_text(json.dumps(recipe), encoding="utf-8")
    result = CliRunner().invoke(main, ["run", str(tmp_path / "r.yaml")])
    assert result.exit_code == 2
    assert "t.parquet[1]: missing label (column 'label')" in result.output
