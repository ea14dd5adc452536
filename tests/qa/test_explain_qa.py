"""``nlpkit explain`` of a QA model: the start logit of the answer's first token and the end
logit of its last, each with attributions that add up within captum's delta."""

from __future__ import annotations

from pathlib import Path

import pytest

import nlpkit
from nlpkit.task import Counts
from tests.qa.conftest import make_rows, train_tiny_qa
from tests.test_explain import assert_complete

pytest.importorskip("captum", reason="captum comes with nlpkit[explain]")


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory, tiny_model: Path) -> Path:
    return train_tiny_qa(tmp_path_factory.mktemp("explain-qa"), tiny_model, 96)


def test_the_answers_start_and_end_are_explained_and_add_up(run: Path) -> None:
    row = make_rows(1, offset=20)[0]
    question = {"question": row["question"], "context": row["context"]}
    predictor = nlpkit.load(run)
    explained = predictor.explain(question, steps=16)
    assert [t.target for t in explained.targets] == ["answer start", "answer end"]
    assert_complete(explained)
    # The values are the start logit at the answer's first token and the end logit at its last.
    examples = predictor.examples_from_inputs([question])
    (feature,) = predictor.task.encode(examples, predictor.tokenizer, training=False, counts=Counts())
    output = predictor.infer([feature])[0]
    answer = explained.prediction
    pieces = [i for i, (a, b) in enumerate(feature["offsets"]) if a < answer["end"] and b > answer["start"]]
    first = feature["context_start"]
    assert explained.targets[0].value == pytest.approx(float(output["start_logits"][first + pieces[0]]), abs=1e-4)
    assert explained.targets[1].value == pytest.approx(float(output["end_logits"][first + pieces[-1]]), abs=1e-4)
    assert explained.prediction["answer"] == row["context"][answer["start"]:answer["end"]]

