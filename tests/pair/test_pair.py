"""``task: pair``: reading two texts, longest-first truncation, metrics, training and reloading."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

import nlpkit
from nlpkit.errors import DataError, NlpkitError
from nlpkit.plugins import get_task
from nlpkit.data import encode
from nlpkit.recipe import build_recipe
from nlpkit.scoring import compute_metrics
from nlpkit.task import TaskSettings
from nlpkit_pair.pair import PairExample, truncate_longest_first

from .conftest import read_jsonl, write_pairs_tsv


def make_task(data: dict | None = None, head: dict | None = None, max_length: int = 32, name: str = "pair"):
    recipe = build_recipe(
        {"task": name, "encoder": {"max_length": max_length}, "data": data or {}, "head": head or {}}, check_paths=False
    )
    return get_task(name)(TaskSettings.of(recipe))


def test_longest_first_truncation_shortens_the_longer_text_and_keeps_both() -> None:
    a, b = list(range(10)), list(range(100, 103))
    assert truncate_longest_first(a, b, 20) == (a, b)  # fits: untouched
    assert truncate_longest_first(a, b, 8) == (a[:5], b)  # only the longer one is cut
    cut_a, cut_b = truncate_longest_first(list(range(30)), list(range(20)), 9)
    assert (len(cut_a), len(cut_b)) == (5, 4)  # both long: half each, never emptied
    cut_a, cut_b = truncate_longest_first([1], list(range(50)), 6)
    assert (cut_a, len(cut_b)) == ([1], 5)


def test_reads_mrpc_shaped_tsv_with_byte_order_mark(tmp_path: Path) -> None:
    path = write_pairs_tsv(tmp_path / "train.tsv", 6, seed=0)
    examples = make_task().read(path, "train")
    assert len(examples) == 6
    assert examples[0].label == "0" and examples[1].label == "1"
    assert examples[1].text_a and examples[1].text_b and examples[0].line == 2


def test_reads_jsonl_and_maps_labels(tmp_path: Path) -> None:
    path = tmp_path / "nli.jsonl"
    rows = [{"text_a": "a man sleeps", "text_b": "a person rests", "label": "entailment"},
            {"text_a": "a man sleeps", "text_b": "a man runs", "label": "contradiction"}]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    task = make_task({"label_map": {"entailment": "yes", "contradiction": "no"}})
    examples = task.read(path, "train")
    assert [(e.text_a, e.text_b, e.label) for e in examples][1] == ("a man sleeps", "a man runs", "no")


def test_a_one_text_file_fails_with_a_clear_message(tmp_path: Path) -> None:
    path = tmp_path / "single.tsv"
    path.write_text("sentence\tlabel\na good film\t1\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"single.tsv:2: task pair reads two texts per row, but there is no text_a"):
        make_task().read(path, "train")


def test_an_empty_second_text_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.tsv"
    path.write_text("label\ttext_a\ttext_b\n1\tone\ttwo\n0\tthree\t \n", encoding="utf-8")
    with pytest.raises(DataError, match=r"bad.tsv:3: empty text_b"):
        make_task().read(path, "train")
    assert len(make_task({"on_error": "skip"}).read(path, "train")) == 1


def test_a_jsonl_row_without_its_second_text_is_a_bad_row(tmp_path: Path) -> None:
    # Before: a DataError that data.on_error: skip did not skip, telling to set
    # data.text_b_column although the other rows have the key.
    path = tmp_path / "pairs.jsonl"
    rows = [{"text_a": "one", "text_b": "two", "label": 1}, {"text_a": "three", "label": 0},
            {"text_a": "four", "text_b": 5, "label": 1}, {"text_a": "six", "text_b": "seven"}]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    with pytest.raises(DataError) as info:
        make_task().read(path, "train")
    assert str(info.value) == (
        f"{path}:2: no text_b key 'text_b' (tried text_b, sentence2, #2 String, question2, hypothesis, sentence_b); "
        "keys: 'text_a', 'label'; set data.text_b_column if the file names it otherwise"
    )
    task = make_task({"on_error": "skip"})
    assert [e.text_a for e in task.read(path, "train")] == ["one"]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows[2:]), encoding="utf-8")
    with pytest.raises(DataError) as info:
        make_task().read(path, "train")
    assert str(info.value) == f"{path}:1: text_b (key 'text_b') must be a string, got int 5"  # not "empty"
    path.write_text(json.dumps(rows[3]) + "\n", encoding="utf-8")
    with pytest.raises(DataError) as info:
        make_task().read(path, "train")
    assert str(info.value) == f"{path}:1: missing label (key 'label')"


def test_encoding_has_segment_ids_and_logs_truncation(tiny_encoder: Path, caplog: pytest.LogCaptureFixture) -> None:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_encoder)
    task = make_task(max_length=12)
    task.setup([PairExample("a", "b", "0"), PairExample("c", "d", "1")])
    long_a = "the movie was great and the actors were wonderful i loved it"
    with caplog.at_level(logging.WARNING, logger="nlpkit"):
        short, cut = encode(task, [PairExample("i loved it", "a great fun movie", "1"), PairExample(long_a, "i loved it", "0")],
                            tokenizer, training=False)
    assert short["input_ids"] == tokenizer("i loved it", "a great fun movie")["input_ids"]
    assert short["token_type_ids"] == tokenizer("i loved it", "a great fun movie")["token_type_ids"]
    assert short["labels"] == 1 and cut["labels"] == 0
    assert len(cut["input_ids"]) == 12
    b_ids = tokenizer("i loved it", add_special_tokens=False)["input_ids"]
    assert cut["input_ids"][-len(b_ids) - 1 : -1] == b_ids  # the longer (first) text was cut, not the second
    assert "1 of 2 pairs exceed encoder.max_length = 12" in caplog.text


def test_single_texts_are_refused_at_prediction() -> None:
    task = make_task()
    assert task.examples_from_inputs([("a", "b"), {"text_a": "c", "text_b": "d"}])[1].text_b == "d"
    with pytest.raises(NlpkitError, match=r"task pair predicts from pairs of texts.*got 'just one'") as info:
        task.examples_from_inputs(["just one"])
    # `nlpkit predict` reads a text file one text per line: the hint says how to give pairs there.
    assert str(info.value).endswith(
        "; one pair is a tuple, predict(('text a', 'text b')), or with nlpkit predict a line "
        '["text a", "text b"] of a .jsonl file'
    )


def test_metrics_report_positive_class_f1() -> None:
    task = make_task()
    examples = [PairExample("a", "b", label) for label in ("1", "1", "0", "0")]
    task.setup(examples)
    metrics = compute_metrics(task, examples, [{"label": label} for label in ("1", "0", "0", "0")])
    assert metrics["accuracy"] == 0.75
    assert metrics["f1"] == pytest.approx(2 / 3)  # class "1": precision 1, recall 1/2
    assert metrics["macro_f1"] == pytest.approx((2 / 3 + 0.8) / 2)


def test_pair_classification_trains_predicts_and_reloads(pair_recipe: dict) -> None:
    pair_recipe["train"]["epochs"] = 6
    result = nlpkit.run(pair_recipe)
    validation = result.metrics["validation"]
    assert {"accuracy", "f1", "macro_f1"} <= set(validation)
    assert validation["accuracy"] >= 0.8
    saved = read_jsonl(result.run_dir / "predictions/validation.jsonl")
    predictor = nlpkit.load(result.run_dir)
    again = predictor.predict([(row["text_a"], row["text_b"]) for row in saved])
    assert [p["probabilities"] for p in again] == [row["probabilities"] for row in saved]
    one = predictor.predict(("a sentence", "another sentence"))
    assert one["label"] in ("0", "1") and sum(one["probabilities"].values()) == pytest.approx(1.0)
    with pytest.raises(NlpkitError, match="pairs of texts"):
        predictor.predict("a single sentence")


def test_similarity_regression(pair_recipe: dict) -> None:
    pair_recipe["head"] = {"type": "regression"}
    result = nlpkit.run(pair_recipe)
    assert {"pearson", "spearman", "mae", "mse"} <= set(result.metrics["validation"])
    score = nlpkit.load(result.run_dir).predict(("a sentence", "another sentence"))["score"]
    assert 0.0 <= score <= 1.0  # clipped to the training labels' range
