"""SQuAD scoring on hand-built cases with known results, and equality with the
official v1.1 evaluation on the real evaluation file."""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest

from nlpkit_qa.metric import SquadV1, SquadV2, squad_v1, squad_v2

from . import official_squad_v1

SQUAD_DIR = Path(os.environ.get("NLPKIT_DATA", Path(__file__).parents[3] / "shared" / "data")) / "squad"


def refs(golds: dict[str, list[str]]) -> list[dict]:
    return [{"id": q, "answers": {"text": g, "answer_start": [0] * len(g)}} for q, g in golds.items()]


def test_v1_normalisation_partial_overlap_several_golds_and_empty_prediction() -> None:
    golds = {"a": ["Eiffel Tower"], "b": ["Eiffel Tower"], "c": ["Eiffel Tower", "tower"], "d": ["Paris"]}
    predictions = {"a": "the  Eiffel tower!", "b": "Eiffel", "c": "Tower", "d": ""}
    result = SquadV1().compute(
        predictions=[{"id": q, "prediction_text": p} for q, p in predictions.items()], references=refs(golds)
    )
    # EM: a, c; F1: a 1, b 2/3 (precision 1, recall 1/2), c 1, d 0
    assert result["exact_match"] == pytest.approx(50.0)
    assert result["f1"] == pytest.approx(100 * (1 + 2 / 3 + 1 + 0) / 4)


def test_v1_missing_prediction_scores_zero_and_empty_gold_follows_v1_1() -> None:
    assert squad_v1({"a": "x"}, {"a": ["x"], "b": ["y"]}) == {"exact_match": 50.0, "f1": 50.0}
    # v1.1: a gold answer that normalises to nothing gives EM 1 but F1 0 for an empty prediction
    assert squad_v1({"a": ""}, {"a": ["the"]}) == {"exact_match": 100.0, "f1": 0.0}


def test_v2_has_ans_no_ans_and_best_threshold() -> None:
    golds = {"q1": ["Paris"], "q2": [], "q3": [], "q4": ["Eiffel Tower"]}
    predictions = {"q1": "Paris", "q2": "", "q3": "Rome", "q4": ""}
    na = {"q1": 0.1, "q2": 0.9, "q3": 0.8, "q4": 0.7}
    result = SquadV2().compute(
        predictions=[{"id": q, "prediction_text": p, "no_answer_probability": na[q]} for q, p in predictions.items()],
        references=refs(golds),
        no_answer_threshold=float("inf"),
    )
    assert result["exact"] == result["f1"] == pytest.approx(50.0)
    assert result["HasAns_exact"] == result["NoAns_exact"] == pytest.approx(50.0)
    assert result["HasAns_total"] == result["NoAns_total"] == 2
    # answering only below 0.1 gets q1, q2, q3 right
    assert result["best_exact"] == pytest.approx(75.0) and result["best_exact_thresh"] == pytest.approx(0.1)
    # the official default threshold 1.0 on probabilities changes nothing here
    assert squad_v2(predictions, golds, na)["exact"] == pytest.approx(50.0)


def test_v2_f1_counts_agreeing_empty_answers() -> None:
    result = squad_v2({"a": "", "b": "the cat"}, {"a": [], "b": ["a cat"]})
    assert result["exact"] == result["f1"] == 100.0 and "HasAns_f1" in result and "NoAns_f1" in result


def _variants(gold: str, context: str, rng: random.Random) -> str:
    words = context.split()
    start = rng.randrange(len(words))
    choices = [
        gold,
        f"The {gold.upper()}.",
        " ".join(gold.split()[:-1]),
        " ".join(words[start : start + rng.randint(1, 6)]),
        "",
        f"{gold} and more",
    ]
    return rng.choice(choices)


@pytest.mark.slow  # reads a whole data set: seconds
@pytest.mark.skipif(not (SQUAD_DIR / "eval-from-dev.json").exists(), reason=f"no SQuAD data at {SQUAD_DIR}")
def test_equal_to_the_official_v1_1_script_on_eval_from_dev(tmp_path: Path) -> None:
    """Predictions file written as the run directory writes it, scored by the plugin and
    by the official script's logic (and torchmetrics' adaptation)."""
    from nlpkit.recipe import load_recipe
    from nlpkit.scoring import compute_metrics
    from nlpkit.task import TaskSettings
    from nlpkit_qa.task import QATask

    path = SQUAD_DIR / "eval-from-dev.json"
    task = QATask(TaskSettings.of(load_recipe({"task": "qa", "encoder": {"max_length": 384}})))
    examples = task.read(path, "validation")
    rng = random.Random(0)
    predictions = [
        {"id": e.id, "answer": _variants(e.answers[0].text, e.context, rng), "start": 0, "end": 0, "score": 0.0}
        for e in examples
    ]
    ours = compute_metrics(task, examples, predictions)
    file = tmp_path / "predictions.json"
    file.write_text("\n".join(task.render(examples, predictions, "squad")))
    official = official_squad_v1.main(path, file)
    assert ours["exact_match"] == pytest.approx(official["exact_match"], abs=1e-9)
    assert ours["f1"] == pytest.approx(official["f1"], abs=1e-9)
    assert 20 < official["f1"] < 80  # the variants exercise partial and zero overlap

    # torchmetrics adapts the script with v2.0's F1 (two empty answers agree), which
    # differs on the two gold answers "." of this file: compare where no gold is empty.
    from torchmetrics.functional.text import squad as torchmetrics_squad

    from nlpkit_qa.metric import normalize_answer

    plain = [e for e in examples if all(normalize_answer(a.text) for a in e.answers)]
    assert len(examples) - len(plain) == 2
    kept = {e.id for e in plain}
    targets = [{"id": e.id, "answers": {"text": [a.text for a in e.answers], "answer_start": [a.start for a in e.answers]}} for e in plain]
    tm = torchmetrics_squad([{"id": p["id"], "prediction_text": p["answer"]} for p in predictions if p["id"] in kept], targets)
    subset = squad_v1({p["id"]: p["answer"] for p in predictions}, {e.id: [a.text for a in e.answers] for e in plain})
    assert float(tm["f1"]) == pytest.approx(subset["f1"], abs=1e-3)
    assert float(tm["exact_match"]) == pytest.approx(subset["exact_match"], abs=1e-3)
