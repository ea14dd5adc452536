"""Our metric against the CoNLL shared task's conlleval script on a hand-built case.

The expected numbers are conlleval's output (version 2004-01-26) on the lines of
``CASE`` written as ``word gold guess``; IOB1 input, adjacent same-type entities
(B- in IOB1), type errors, boundary errors and an invalid guessed sequence included:

    processed 31 tokens with 13 phrases; found: 12 phrases; correct: 4.
    accuracy:  77.42%; precision:  33.33%; recall:  30.77%; FB1:  32.00
                  LOC: precision:  33.33%; recall:  20.00%; FB1:  25.00  3
                 MISC: precision:   0.00%; recall:   0.00%; FB1:   0.00  1
                  ORG: precision:  25.00%; recall:  25.00%; FB1:  25.00  4
                  PER: precision:  50.00%; recall:  66.67%; FB1:  57.14  4
"""

import pytest

from nlpkit_ner import schemes
from nlpkit_ner.scoring import score

CASE = """
Peter I-PER I-PER
Blackburn I-PER I-PER
met O O
Angela I-PER I-PER
Merkel I-PER B-PER
and O O
Jacques I-PER I-PER
Chirac I-PER I-PER
in O O
Bonn I-LOC I-ORG
. O O

Germany I-LOC I-LOC
Britain B-LOC I-LOC
and O O
France I-LOC I-LOC
signed O O
the O O
European I-MISC I-MISC
Union I-MISC I-ORG
pact O O
with O O
IBM I-ORG I-ORG
Microsoft B-ORG B-ORG
Apple B-ORG I-ORG
. O O

Reuters I-ORG O
reported O O
from O O
New I-LOC I-LOC
York I-LOC I-LOC
City I-LOC O
"""

CONLLEVAL = {
    "precision": 4 / 12,
    "recall": 4 / 13,
    "f1": 0.3200,
    "per_type": {"LOC": (1 / 3, 1 / 5, 0.25), "MISC": (0.0, 0.0, 0.0), "ORG": (0.25, 0.25, 0.25), "PER": (0.5, 2 / 3, 0.5714)},
}


def parse(case: str) -> tuple[list[list[str]], list[list[str]]]:
    gold, guess = [], []
    for block in case.strip().split("\n\n"):
        rows = [line.split() for line in block.splitlines()]
        gold.append([r[1] for r in rows])
        guess.append([r[2] for r in rows])
    return gold, guess


def check_against_conlleval(result: dict) -> None:
    assert round(result["f1"], 4) == round(CONLLEVAL["f1"], 4)
    assert round(result["precision"], 4) == round(CONLLEVAL["precision"], 4)
    assert round(result["recall"], 4) == round(CONLLEVAL["recall"], 4)
    for label, (p, r, f) in CONLLEVAL["per_type"].items():
        got = result["per_type"][label]
        assert (round(got["precision"], 4), round(got["recall"], 4), round(got["f1"], 4)) == (
            round(p, 4), round(r, 4), round(f, 4)
        ), label
    assert result["macro_f1"] == pytest.approx((0.25 + 0.0 + 0.25 + 4 / 7) / 4)


def test_iob1_input_matches_conlleval():
    gold, guess = parse(CASE)
    check_against_conlleval(score(gold, guess))


def test_same_scores_after_converting_to_the_model_scheme():
    gold, guess = parse(CASE)
    for target in ("iob2", "iobes"):
        converted = score([schemes.convert(g, target) for g in gold], [schemes.convert(p, target) for p in guess])
        check_against_conlleval(converted)


def test_strict_mode_drops_invalid_entities():
    gold = [["B-PER", "I-PER", "O", "B-LOC"]]
    guess = [["I-PER", "I-PER", "O", "B-LOC"]]  # I- after O: an entity for conlleval, not in strict IOB2
    assert score(gold, guess)["f1"] == 1.0
    strict = score(gold, guess, mode="strict", scheme="iob2")
    assert strict["precision"] == 1.0 and strict["recall"] == 0.5


def test_no_entities_scores_zero():
    result = score([["O", "O"]], [["O", "O"]])
    assert result["f1"] == 0.0 and result["accuracy"] == 1.0


def test_evaluate_metric_wraps_the_same_scores():
    from nlpkit_ner.metric import NerMetric

    gold, guess = parse(CASE)
    metric = NerMetric()
    check_against_conlleval(metric.compute(predictions=guess, references=gold))
    for p, r in zip(guess, gold):
        metric.add(prediction=p, reference=r)
    check_against_conlleval(metric.compute())
