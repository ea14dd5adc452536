"""``nlpkit explain`` of an NER model: one attribution per entity found, each summing (within
captum's delta) to the rise of its words' emission logits from the baseline."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

import nlpkit
from tests.export_helpers import tiny_run
from tests.ner.conftest import toy_sentences, write_conll
from tests.test_explain import assert_complete

pytest.importorskip("captum", reason="captum comes with nlpkit[explain]")


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory, ner_encoder: Path) -> Path:
    root = tmp_path_factory.mktemp("explain-ner")
    data = {"train": str(write_conll(root / "train.txt", toy_sentences(40))),
            "validation": str(write_conll(root / "dev.txt", toy_sentences(8, offset=40)))}
    return tiny_run(root / "run", ner_encoder, "ner", data, epochs=3)


def test_each_entity_found_is_explained_and_its_attributions_add_up(run: Path) -> None:
    sentence = " ".join(word for word, _ in toy_sentences(1, offset=3)[0])
    explained = nlpkit.load(run).explain(sentence, steps=16)
    entities = explained.prediction["entities"]
    assert entities, "the toy model finds the entities of a training sentence"
    assert [t.target for t in explained.targets] == [f"{e['label']}: {e['text']}" for e in entities]
    assert_complete(explained)


def test_an_entitys_value_is_the_sum_of_its_words_emission_logits(run: Path) -> None:
    task = nlpkit.load(run).task
    feature = {"units": [-1, 0, -1, 1, 2, -1], "unit_words": [-1, 0, 0, 1, 2, -1]}
    output = {"tag": np.array([0, 3, 0, 4, 0, 0])}
    prediction = {"tokens": ["John", "Smith", "left"], "tags": ["B-PER", "I-PER", "O"]}
    (target,) = task.explain_targets(feature, output, prediction)
    assert target.name == "PER: John Smith"
    logits = torch.arange(2 * 6 * 5, dtype=torch.float).reshape(2, 6, 5)
    assert target.select({"logits": logits}).tolist() == (logits[:, 1, 3] + logits[:, 3, 4]).tolist()
    assert task.explain_targets(feature, output, {**prediction, "tags": ["O", "O", "O"]}) == []
