"""``nlpkit serve`` of a sentence-pair run: ``{"text_a", "text_b"}`` and a pair inside a
list come back as ``nlpkit.load(run).predict``'s label and probabilities."""

from __future__ import annotations

from typing import Any

import pytest

pytest.importorskip("fastapi")
pytestmark = pytest.mark.integration  # trains a tiny run and serves it: seconds, not a unit test

import nlpkit  # noqa: E402
from tests.pair.conftest import PARAPHRASES, UNRELATED  # noqa: E402
from tests.serve_helpers import same_answer, serves_as_predicted, serving  # noqa: E402


def test_pairs_are_served_as_predicted(pair_recipe: dict[str, Any]) -> None:
    run = nlpkit.run(pair_recipe).run_dir
    inputs = [{"text_a": a, "text_b": b} for a, b in PARAPHRASES[:2] + UNRELATED[:2]]
    answers = serves_as_predicted(run, inputs)
    assert {answer["label"] for answer in answers} <= {"0", "1"}
    import httpx

    with serving(run) as (url, _):  # a pair as a list of two texts, inside the list of inputs
        listed = httpx.post(f"{url}/predict", json=[list(PARAPHRASES[0])], timeout=60)
        alone = httpx.post(f"{url}/predict", json="the movie was great", timeout=60)
    assert same_answer(listed.json(), answers[:1])
    assert alone.status_code == 422 and "pair" in alone.json()["error"]
