"""``nlpkit serve`` of an NER run: every input shape the task reads (a text, pre-split
tokens, ``{"text"}``, ``{"tokens"}``) comes back as ``nlpkit.load(run).predict``'s entities."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("fastapi")
pytestmark = pytest.mark.integration  # trains a tiny run and serves it: seconds, not a unit test

from tests.export_helpers import tiny_run  # noqa: E402
from tests.ner.conftest import toy_sentences, write_conll  # noqa: E402
from tests.serve_helpers import serves_as_predicted  # noqa: E402


def test_ner_entities_are_served_as_predicted(tmp_path: Path, ner_encoder: Path) -> None:
    data = {"train": str(write_conll(tmp_path / "train.txt", toy_sentences(40))),
            "validation": str(write_conll(tmp_path / "dev.txt", toy_sentences(8, offset=40)))}
    run = tiny_run(tmp_path / "run", ner_encoder, "ner", data, epochs=3)
    inputs = ["Alice Smith visited Berlin .", {"text": "yesterday Dave flew to New York ."},
              {"tokens": ["Carol", "Jones", "lives", "in", "Rome", "."]}, ["in", "Paris", ",", "Bob", "met", "friends"]]
    answers = serves_as_predicted(run, inputs)
    assert any(answer.get("entities") for answer in answers), answers  # the run tags something: spans are compared
    for given, answer in zip(inputs, answers):
        text = given if isinstance(given, str) else given.get("text") if isinstance(given, dict) else None
        for span in answer.get("entities", []) if text else []:  # character offsets into the text sent
            assert text[span["start"]:span["end"]] == span["text"]
