"""The report: written at the end of a run and by ``nlpkit report``, self-contained, and
its numbers the run's own (recomputed from the saved predictions, equal to metrics.json)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

import nlpkit
from nlpkit.cli import main
from nlpkit.errors import RunDirError
from nlpkit.report import write_report
from nlpkit.report.facts import read_facts
from nlpkit.report.render import context
from nlpkit.report.spans import classify
from nlpkit.rundir import RunDir
from tests.conftest import train_tiny_classifier


def metrics(run_dir: Path) -> dict:
    return json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))


def view(run_dir: Path, split: str = "validation") -> dict:
    return context(read_facts(RunDir(run_dir), split))["view"]


@pytest.fixture(scope="module")
def classifier(tiny_encoder: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return train_tiny_classifier(tmp_path_factory.mktemp("report-classifier"), tiny_encoder, report=True)


def test_every_run_writes_a_self_contained_report(classifier: Path) -> None:
    page = (classifier / "report.html").read_text(encoding="utf-8")
    assert "report: " in (classifier / "train.log").read_text(encoding="utf-8")
    # Nothing to fetch: no src or href but data URIs, no script at all.
    assert not re.findall(r"""(?:src|href)=["'](?!data:)""", page)
    assert "<script" not in page and "@import" not in page and "url(" not in page
    assert page.count('src="data:image/png;base64,') == 3  # learning curves, per-class bars, reliability


def test_the_classification_report_numbers_are_those_of_metrics_json(classifier: Path) -> None:
    scored = metrics(classifier)
    result = view(classifier)["result"]
    assert result.total == scored["training"]["examples"]["validation"] == 8
    assert sum(map(sum, result.matrix)) == 8
    for s in result.scores:
        expected = scored["validation"]["per_class"][s.label]
        assert (s.precision, s.recall, s.f1, s.support) == pytest.approx(
            (expected["precision"], expected["recall"], expected["f1"], expected["support"]))
    assert sum(result.matrix[i][i] for i in range(len(result.labels))) / 8 == pytest.approx(
        scored["validation"]["accuracy"])
    assert view(classifier)["mismatches"] == []
    page = (classifier / "report.html").read_text(encoding="utf-8")
    for s in result.scores:
        assert f"{s.f1:.4f}" in page


def test_calibration_and_the_most_confident_mistakes(classifier: Path) -> None:
    result = view(classifier)["result"]
    records = read_facts(RunDir(classifier), "validation").records
    assert sum(b.count for b in result.bins) == len(records)
    wrong = [r for r in records if r["gold"] != r["label"]]
    assert len(result.mistakes) == len(wrong)
    confidences = [m["confidence"] for m in result.mistakes]
    assert confidences == sorted(confidences, reverse=True)
    assert all(m["confidence"] == m["probabilities"][m["label"]] for m in result.mistakes)
    # ECE: the examples' share-weighted gap between accuracy and confidence per bin.
    gap = sum(b.count * abs(b.accuracy - b.confidence) for b in result.bins) / len(records)
    assert result.ece == pytest.approx(gap) and 0 <= result.ece <= 1


def test_nlpkit_report_writes_the_split_asked_for_where_asked(classifier: Path, tmp_path: Path) -> None:
    target = tmp_path / "out" / "page.html"
    outcome = CliRunner().invoke(main, ["report", str(classifier), "--output", str(target)])
    assert outcome.exit_code == 0, outcome.output
    assert f"wrote {target}" in outcome.output and "<h1>run</h1>" in target.read_text(encoding="utf-8")


def test_nlpkit_report_says_what_is_missing(classifier: Path, tmp_path: Path) -> None:
    outcome = CliRunner().invoke(main, ["report", str(classifier), "--split", "test"])
    assert outcome.exit_code == 2
    assert "metrics.json holds no test metrics (the run scored validation); choose one with --split" in outcome.output
    outcome = CliRunner().invoke(main, ["report", str(tmp_path)])
    assert outcome.exit_code == 2 and "is not a finished run: it has no metrics.json" in outcome.output


def test_a_run_without_saved_predictions_has_no_report(classification_recipe: dict) -> None:
    classification_recipe["train"]["epochs"] = 1
    classification_recipe["output"]["save_predictions"] = False
    classification_recipe["output"]["report"] = True
    run_dir = nlpkit.run(classification_recipe).run_dir
    assert not (run_dir / "report.html").exists()
    with pytest.raises(RunDirError, match=r"validation\.jsonl is missing: the report reads the run's predictions"):
        write_report(run_dir)


@pytest.mark.parametrize(
    ("gold", "predicted", "kinds"),
    [
        ([("PER", 0, 1)], [("PER", 0, 1)], ["correct"]),
        ([("PER", 0, 1)], [("LOC", 0, 1)], ["wrong type"]),
        ([("PER", 0, 1)], [("PER", 0, 0)], ["wrong boundary"]),
        ([("PER", 0, 1)], [("LOC", 1, 2)], ["wrong type and boundary"]),
        ([("PER", 0, 1)], [], ["missed"]),
        ([], [("ORG", 3, 3)], ["spurious"]),
        ([("PER", 0, 1), ("LOC", 4, 4)], [("PER", 0, 1), ("ORG", 6, 6)], ["correct", "spurious", "missed"]),
    ],
)
def test_span_errors_are_told_apart(gold: list, predicted: list, kinds: list) -> None:
    assert [kind for kind, _, _ in classify(gold, predicted)] == kinds


def test_the_ner_report_numbers_are_those_of_metrics_json(ner_run: Path) -> None:
    scored = metrics(ner_run)["validation"]
    result = view(ner_run)["result"]
    assert {s.type: s.f1 for s in result.scores} == pytest.approx(
        {t: v["f1"] for t, v in scored["per_type"].items()})
    assert {s.type: s.support for s in result.scores} == {t: v["support"] for t, v in scored["per_type"].items()}
    assert result.micro.f1 == pytest.approx(scored["f1"]) and view(ner_run)["mismatches"] == []
    # Every predicted span is counted once, under one kind; correct ones are the hits.
    records = read_facts(RunDir(ner_run), "validation").records
    from nlpkit.report.spans import spans

    predicted = sum(len(spans(r["tags"])) for r in records)
    kinds = result.errors
    assert predicted == sum(sum(kinds[k].values()) for k in kinds if k != "missed")
    assert sum(kinds["correct"].values()) == pytest.approx(scored["precision"] * predicted)
    assert "<mark>" in (ner_run / "report.html").read_text(encoding="utf-8") or not result.examples


def test_the_qa_report_numbers_are_those_of_metrics_json(qa_run: Path) -> None:
    scored = metrics(qa_run)["validation"]
    qa = view(qa_run)["qa"]
    assert (qa.overall.exact_match, qa.overall.f1) == pytest.approx((scored["exact_match"], scored["f1"]))
    assert sum(g.count for g in qa.by_question_word) == qa.overall.count == 8
    assert sum(g.count for g in qa.by_answer_length) == 8
    assert all(row["f1"] < 1 for row in qa.worst)


def test_the_worst_answers_are_shown_in_their_context(qa_run: Path) -> None:
    from nlpkit.report.answers import in_context

    qa = view(qa_run)["qa"]
    assert qa.worst, "a tiny model gets some answers wrong"
    for row in qa.worst:
        gold = "".join(text for text, mark in row["in_context"] if mark in ("gold", "both"))
        predicted = "".join(text for text, mark in row["in_context"] if mark in ("predicted", "both"))
        assert gold == row["gold"][0] and predicted == (row["answer"] or "")
    row = {"gold": ["Paris"], "gold_start": [11], "answer": "in Paris", "start": 8, "end": 16,
           "excerpt": {"start": 5, "text": "is in Paris now"}}
    assert in_context(row) == [("is ", ""), ("in ", "predicted"), ("Paris", "both"), (" now", "")]
    page = (qa_run / "report.html").read_text(encoding="utf-8")
    assert '<mark class="gold">' in page or '<mark class="both">' in page


@pytest.fixture(scope="module")
def ner_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from nlpkit.testing import tiny_bert
    from tests.ner.conftest import toy_sentences, write_conll

    root = tmp_path_factory.mktemp("report-ner")
    encoder = tiny_bert(root / "bert", [" ".join(w for w, _ in s) for s in toy_sentences(40)], vocab_size=300)
    return nlpkit.run({
        "task": "ner", "encoder": {"name": str(encoder), "max_length": 32},
        "data": {"train": str(write_conll(root / "train.conll", toy_sentences(40))),
                 "validation": str(write_conll(root / "dev.conll", toy_sentences(12, 40)))},
        "train": {"epochs": 2, "batch_size": 8, "lr": 3e-3, "precision": "32"},
        "trainer": {"enable_progress_bar": False}, "output": {"dir": str(root / "run")},
    }).run_dir


@pytest.fixture(scope="module")
def qa_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from nlpkit.testing import tiny_bert
    from tests.qa.conftest import COUNTRIES, make_rows, squad_json

    root = tmp_path_factory.mktemp("report-qa")
    encoder = tiny_bert(root / "bert", [r["question"] + " " + r["context"] for r in make_rows(len(COUNTRIES))],
                        vocab_size=300)
    (root / "train.json").write_text(json.dumps(squad_json(make_rows(24))), encoding="utf-8")
    (root / "dev.json").write_text(json.dumps(squad_json(make_rows(8, offset=1))), encoding="utf-8")
    return nlpkit.run({
        "task": "qa", "encoder": {"name": str(encoder), "max_length": 48},
        "data": {"train": str(root / "train.json"), "validation": str(root / "dev.json"), "window_overlap": 8,
                 "max_question_length": 12},
        "train": {"epochs": 2, "batch_size": 8, "lr": 1e-3, "precision": "32"},
        "trainer": {"enable_progress_bar": False}, "output": {"dir": str(root / "run")},
    }).run_dir
