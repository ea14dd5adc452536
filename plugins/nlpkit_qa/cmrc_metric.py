"""CMRC 2018's scoring of Chinese extractive QA, next to SQuAD's, as an ``evaluate`` metric.

SQuAD's F1 counts words split at spaces: an unsegmented Chinese answer is one word, so
its F1 equals its exact match. The CMRC 2018 evaluation script (v5) scores segments
instead:

- a text is lower-cased and stripped; each Chinese character (U+4E00..U+9FA5) and each
  punctuation mark of :data:`PUNCTUATION` is a segment of its own, and every run of other
  characters (Latin words, digits) is split into words;
- F1 is taken over the *longest common contiguous run* of segments of the prediction and
  a gold answer, punctuation removed (not over a bag of tokens, as SQuAD's is); the best
  gold answer counts;
- exact match compares the texts with the punctuation removed;
- each is the mean over the questions, in percent, a question without a prediction
  scoring 0; ``average`` is their mean, the figure CMRC 2018 ranks by.

The script splits the runs of other characters with nltk's ``word_tokenize``, whose
model files need a download; here a run splits into numbers (``1,000``, ``3.5``), words
and single punctuation marks, which gives the same segments except inside English
contractions (``don't``), rare in Chinese answers.
"""

from __future__ import annotations

import re
from difflib import SequenceMatcher
from typing import Any, Mapping, Sequence

import datasets
import evaluate

from nlpkit_qa.metric import InMemoryMetric, gold_answers, references_feature, squad_v1

# The script's list. Its "……" is two characters and never equals the one character it
# is compared with, so a single "…" is not punctuation here either.
PUNCTUATION = frozenset("-:_*^/\\~`+=，。：？！“”；’《》·、「」（）－～『』")
_CHINESE = re.compile(r"[\u4e00-\u9fa5]")
_WORDS = re.compile(r"\d+(?:[.,]\d+)*|\w+|[^\w\s]")


def segments(text: str, drop_punctuation: bool = False) -> list[str]:
    """The segments that CMRC's F1 compares: Chinese characters and punctuation marks
    one by one, the runs between them split into words."""
    out: list[str] = []
    run = ""
    for char in text.lower().strip():
        if drop_punctuation and char in PUNCTUATION:
            continue
        if _CHINESE.match(char) or char in PUNCTUATION:
            out.extend(_WORDS.findall(run))
            run = ""
            out.append(char)
        else:
            run += char
    out.extend(_WORDS.findall(run))
    return out


def remove_punctuation(text: str) -> str:
    return "".join(char for char in text.lower().strip() if char not in PUNCTUATION)


def f1_cmrc(prediction: str, gold: str) -> float:
    """F1 of the longest common contiguous run of segments (punctuation removed)."""
    predicted, expected = segments(prediction, drop_punctuation=True), segments(gold, drop_punctuation=True)
    common = SequenceMatcher(None, predicted, expected, autojunk=False).find_longest_match(
        0, len(predicted), 0, len(expected)
    ).size
    if common == 0:
        return 0.0
    precision, recall = common / len(predicted), common / len(expected)
    return 2 * precision * recall / (precision + recall)


def exact_match_cmrc(prediction: str, gold: str) -> float:
    return float(remove_punctuation(prediction) == remove_punctuation(gold))


def cmrc2018(predictions: Mapping[str, str], references: Mapping[str, Sequence[str]]) -> dict[str, float]:
    """``{"exact_match", "f1", "average"}`` in percent over every reference question."""
    exact = f1 = 0.0
    for qid, golds in references.items():
        if qid not in predictions or not golds:
            continue
        exact += max(exact_match_cmrc(predictions[qid], g) for g in golds)
        f1 += max(f1_cmrc(predictions[qid], g) for g in golds)
    total = len(references)
    exact, f1 = (100.0 * exact / total, 100.0 * f1 / total) if total else (0.0, 0.0)
    return {"exact_match": exact, "f1": f1, "average": (exact + f1) / 2}


class Cmrc2018(InMemoryMetric):
    """CMRC 2018's ``exact_match``, ``f1`` and ``average``, with SQuAD v1.1's figures as
    ``squad_exact_match`` and ``squad_f1``."""

    def _info(self) -> evaluate.MetricInfo:
        return evaluate.MetricInfo(
            description="CMRC 2018 character-level F1 and exact match (punctuation removed), with SQuAD's.",
            citation="@inproceedings{cui-emnlp2019-cmrc2018, title={A Span-Extraction Dataset for Chinese "
            "Machine Reading Comprehension}, author={Cui, Yiming and others}, booktitle={EMNLP-IJCNLP}, year={2019}}",
            inputs_description='predictions: [{"id": str, "prediction_text": str}]; '
            'references: [{"id": str, "answers": {"text": [str], "answer_start": [int]}}]',
            features=datasets.Features(
                {
                    "predictions": {"id": datasets.Value("string"), "prediction_text": datasets.Value("string")},
                    "references": references_feature(),
                }
            ),
            reference_urls=["https://github.com/ymcui/cmrc2018"],
        )

    def _compute(self, predictions: Sequence[Mapping[str, Any]], references: Sequence[Mapping[str, Any]]) -> dict[str, float]:
        answers = {str(p["id"]): p["prediction_text"] for p in predictions}
        gold = gold_answers(references)
        squad = {f"squad_{name}": value for name, value in squad_v1(answers, gold).items()}
        return {**cmrc2018(answers, gold), **squad}
