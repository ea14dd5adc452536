"""The official SQuAD v1.1 and v2.0 scoring, as plain functions and ``evaluate`` metrics.

The functions follow the official evaluation scripts line by line (answer
normalisation: lower case, no punctuation, no articles, single spaces; the max over
gold answers). Loading the squad metric script by name needs the hub, so the metrics are defined here.
"""

from __future__ import annotations

import math
import re
import string
from collections import Counter
from typing import Any, Mapping, Sequence

import datasets
import evaluate

_ARTICLES = re.compile(r"\b(a|an|the)\b", re.UNICODE)
_PUNCTUATION = set(string.punctuation)


def normalize_answer(text: str) -> str:
    """Lower case, drop punctuation, drop articles, collapse white space (official order)."""
    text = text.lower()
    text = "".join(ch for ch in text if ch not in _PUNCTUATION)
    text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


# -- SQuAD v1.1 ---------------------------------------------------------------------
def exact_match_v1(prediction: str, gold: str) -> float:
    return float(normalize_answer(prediction) == normalize_answer(gold))


def f1_v1(prediction: str, gold: str) -> float:
    """v1.1's F1: no overlap is 0, even when both normalise to nothing."""
    prediction_tokens = normalize_answer(prediction).split()
    gold_tokens = normalize_answer(gold).split()
    same = sum((Counter(prediction_tokens) & Counter(gold_tokens)).values())
    if same == 0:
        return 0.0
    precision = same / len(prediction_tokens)
    recall = same / len(gold_tokens)
    return 2 * precision * recall / (precision + recall)


def squad_v1(predictions: Mapping[str, str], references: Mapping[str, Sequence[str]]) -> dict[str, float]:
    """``{"exact_match", "f1"}`` in percent over every reference question; a question
    without a prediction scores 0 (as in the official script)."""
    exact = f1 = 0.0
    for qid, golds in references.items():
        if qid not in predictions:
            continue
        golds = list(golds) or [""]  # v1.1 has no unanswerable questions; do not crash on one
        prediction = predictions[qid]
        exact += max(exact_match_v1(prediction, g) for g in golds)
        f1 += max(f1_v1(prediction, g) for g in golds)
    total = len(references)
    return {"exact_match": 100.0 * exact / total if total else 0.0, "f1": 100.0 * f1 / total if total else 0.0}


# -- SQuAD v2.0 ---------------------------------------------------------------------
def _tokens_v2(text: str) -> list[str]:
    return normalize_answer(text).split() if text else []


def exact_v2(gold: str, prediction: str) -> int:
    return int(normalize_answer(gold) == normalize_answer(prediction))


def f1_v2(gold: str, prediction: str) -> float:
    """v2.0's F1: if either side is empty, 1 when both are, else 0."""
    gold_tokens, prediction_tokens = _tokens_v2(gold), _tokens_v2(prediction)
    if not gold_tokens or not prediction_tokens:
        return float(gold_tokens == prediction_tokens)
    same = sum((Counter(gold_tokens) & Counter(prediction_tokens)).values())
    if same == 0:
        return 0.0
    precision = same / len(prediction_tokens)
    recall = same / len(gold_tokens)
    return 2 * precision * recall / (precision + recall)


def squad_v2(
    predictions: Mapping[str, str],
    references: Mapping[str, Sequence[str]],
    no_answer_probabilities: Mapping[str, float] | None = None,
    no_answer_threshold: float = 1.0,
) -> dict[str, float]:
    """The official v2.0 figures: exact, f1, total, HasAns_*, NoAns_*, and with
    ``no_answer_probabilities`` (any score, higher = no answer) best_exact/_f1 with
    their thresholds. A reference without gold answers is unanswerable; gold texts that
    normalise to nothing are dropped before scoring (both as in the official script)."""
    has_answer = {qid: bool(golds) for qid, golds in references.items()}  # as the official script
    exact_raw: dict[str, float] = {}
    f1_raw: dict[str, float] = {}
    for qid, golds in references.items():
        gold_texts = [g for g in golds if normalize_answer(g)] or [""]
        if qid not in predictions:
            continue  # missing: left out of the raw scores, as in the official script
        prediction = predictions[qid]
        exact_raw[qid] = max(exact_v2(g, prediction) for g in gold_texts)
        f1_raw[qid] = max(f1_v2(g, prediction) for g in gold_texts)
    probabilities = dict(no_answer_probabilities or {qid: 0.0 for qid in predictions})
    exact_t = _apply_threshold(exact_raw, probabilities, has_answer, no_answer_threshold)
    f1_t = _apply_threshold(f1_raw, probabilities, has_answer, no_answer_threshold)
    result = _eval_dict(exact_t, f1_t, list(references))
    answerable = [q for q, has in has_answer.items() if has]
    unanswerable = [q for q, has in has_answer.items() if not has]
    if answerable:
        result.update({f"HasAns_{k}": v for k, v in _eval_dict(exact_t, f1_t, answerable).items()})
    if unanswerable:
        result.update({f"NoAns_{k}": v for k, v in _eval_dict(exact_t, f1_t, unanswerable).items()})
    if no_answer_probabilities is not None:
        for name, raw in (("exact", exact_raw), ("f1", f1_raw)):
            best, threshold = _best_threshold(predictions, raw, probabilities, has_answer)
            result[f"best_{name}"], result[f"best_{name}_thresh"] = best, threshold
    return result


def _apply_threshold(
    scores: Mapping[str, float], probabilities: Mapping[str, float], has_answer: Mapping[str, bool], threshold: float
) -> dict[str, float]:
    return {
        qid: float(not has_answer[qid]) if probabilities.get(qid, 0.0) > threshold else score
        for qid, score in scores.items()
    }


def _eval_dict(exact: Mapping[str, float], f1: Mapping[str, float], qids: Sequence[str]) -> dict[str, float]:
    total = len(qids)
    return {
        "exact": 100.0 * sum(exact.get(q, 0.0) for q in qids) / total,
        "f1": 100.0 * sum(f1.get(q, 0.0) for q in qids) / total,
        "total": float(total),
    }


def _best_threshold(
    predictions: Mapping[str, str],
    scores: Mapping[str, float],
    probabilities: Mapping[str, float],
    has_answer: Mapping[str, bool],
) -> tuple[float, float]:
    """The official ``find_best_thresh``: sweep the no-answer scores in ascending order."""
    current = best = sum(1 for has in has_answer.values() if not has)
    best_threshold = 0.0
    for qid in sorted(probabilities, key=lambda q: probabilities[q]):
        if qid not in scores:
            continue
        if has_answer[qid]:
            diff = scores[qid]
        else:
            diff = -1 if predictions[qid] else 0
        current += diff
        if current > best:
            best, best_threshold = current, probabilities[qid]
    return 100.0 * best / len(scores) if scores else 0.0, float(best_threshold)


# -- evaluate metrics -------------------------------------------------------------
_CITATION = """@inproceedings{rajpurkar-etal-2016-squad, title={SQuAD: 100,000+ Questions for Machine
Comprehension of Text}, author={Rajpurkar, Pranav and Zhang, Jian and Lopyrev, Konstantin and Liang, Percy},
booktitle={EMNLP}, year={2016}}"""

_INPUTS = """predictions: [{"id": str, "prediction_text": str}] (v2 also "no_answer_probability": float)
references: [{"id": str, "answers": {"text": [str], "answer_start": [int]}}]"""


def references_feature() -> datasets.Features:
    return datasets.Features(
        {
            "id": datasets.Value("string"),
            "answers": {
                "text": datasets.List(datasets.Value("string")),
                "answer_start": datasets.List(datasets.Value("int32")),
            },
        }
    )


def gold_answers(references: Sequence[Mapping[str, Any]]) -> dict[str, list[str]]:
    return {str(r["id"]): list(r["answers"]["text"]) for r in references}


class InMemoryMetric(evaluate.Metric):
    """An ``evaluate`` metric that keeps its batches in memory: no cache files beside the run."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("keep_in_memory", True)
        super().__init__(**kwargs)


class SquadV1(InMemoryMetric):
    """Official SQuAD v1.1 scoring: ``exact_match`` and ``f1`` in percent."""

    def _info(self) -> evaluate.MetricInfo:
        return evaluate.MetricInfo(
            description="SQuAD v1.1 exact match and F1 (official evaluation script logic).",
            citation=_CITATION,
            inputs_description=_INPUTS,
            features=datasets.Features(
                {
                    "predictions": {"id": datasets.Value("string"), "prediction_text": datasets.Value("string")},
                    "references": references_feature(),
                }
            ),
            reference_urls=["https://rajpurkar.github.io/SQuAD-explorer/"],
        )

    def _compute(self, predictions: Sequence[Mapping[str, Any]], references: Sequence[Mapping[str, Any]]) -> dict[str, float]:
        return squad_v1({str(p["id"]): p["prediction_text"] for p in predictions}, gold_answers(references))


class SquadV2(InMemoryMetric):
    """Official SQuAD v2.0 scoring, with HasAns/NoAns and best-threshold figures."""

    def _info(self) -> evaluate.MetricInfo:
        return evaluate.MetricInfo(
            description="SQuAD v2.0 exact/F1 with HasAns/NoAns and best thresholds (official script logic).",
            citation=_CITATION,
            inputs_description=_INPUTS,
            features=datasets.Features(
                {
                    "predictions": {
                        "id": datasets.Value("string"),
                        "prediction_text": datasets.Value("string"),
                        "no_answer_probability": datasets.Value("float64"),
                    },
                    "references": references_feature(),
                }
            ),
            reference_urls=["https://rajpurkar.github.io/SQuAD-explorer/"],
        )

    def _compute(
        self,
        predictions: Sequence[Mapping[str, Any]],
        references: Sequence[Mapping[str, Any]],
        no_answer_threshold: float = 1.0,
    ) -> dict[str, float]:
        probabilities = {
            str(p["id"]): math.inf if p["no_answer_probability"] is None else float(p["no_answer_probability"])
            for p in predictions
        }
        metrics = squad_v2(
            {str(p["id"]): p["prediction_text"] for p in predictions},
            gold_answers(references),
            probabilities,
            no_answer_threshold,
        )
        return {k: float(v) for k, v in metrics.items()}
