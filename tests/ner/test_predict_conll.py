"""A CoNLL file given to ``nlpkit predict`` for an NER model is read as CoNLL (a
prediction per sentence, the gold tags beside it), never as one text per line."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from nlpkit.errors import NlpkitError
from nlpkit.inputs import read_input
from nlpkit.predict_file import predict_input
from nlpkit.testing import untrained_predictor
from nlpkit_ner import schemes
from tests.ner.conftest import toy_sentences, write_conll


@pytest.fixture(scope="module")
def predictor(ner_encoder: Path, tmp_path_factory: pytest.TempPathFactory):
    train = write_conll(tmp_path_factory.mktemp("ner-predict") / "train.txt", toy_sentences(20))
    recipe = {"task": "ner", "encoder": {"name": str(ner_encoder), "max_length": 32}, "data": {"train": str(train)}}
    return untrained_predictor(recipe)


def test_a_conll_file_is_predicted_per_sentence_with_its_gold_tags(predictor, tmp_path: Path, capsys) -> None:
    sentences = toy_sentences(3, offset=30)
    path = write_conll(tmp_path / "test.txt", sentences)
    rows = [json.loads(line) for line in predict_input(predictor, read_input(path))]
    assert [row["tokens"] for row in rows] == [[w for w, _ in s] for s in sentences]
    assert [len(row["tags"]) for row in rows] == [len(s) for s in sentences]
    assert [row["gold"] for row in rows] == [schemes.convert([t for _, t in s], "iob2") for s in sentences]  # IOB1 read
    assert f"{path}: CoNLL columns, the task's data format: 3 examples" in capsys.readouterr().err

    conll = predict_input(predictor, read_input(path), fmt="conll")
    assert conll[: len(sentences[0]) + 1] == [f"{w} {t} {p}" for (w, t), p in zip(sentences[0], rows[0]["tags"])] + [""]


def test_the_same_words_as_texts_are_predicted_as_texts(predictor, tmp_path: Path) -> None:
    texts = tmp_path / "texts.txt"
    texts.write_text("Alice Smith visited Paris .\nBob lives in Rome .\n")
    rows = [json.loads(line) for line in predict_input(predictor, read_input(texts))]
    assert [(row["line"], row["tokens"]) for row in rows] == [
        (1, ["Alice", "Smith", "visited", "Paris", "."]), (2, ["Bob", "lives", "in", "Rome", "."])
    ]


def test_conll_on_standard_input_and_keep_are_refused_with_the_command_to_use(predictor, tmp_path: Path) -> None:
    path = write_conll(tmp_path / "test.txt", toy_sentences(2))
    piped = read_input("-", io.BytesIO(path.read_bytes()))
    with pytest.raises(NlpkitError, match=r"^<stdin> holds CoNLL columns, the task's data format: give it as a file"):
        predict_input(predictor, piped)
    with pytest.raises(NlpkitError, match=r"^--keep applies to texts and JSONL rows; .* holds CoNLL columns"):
        predict_input(predictor, read_input(path), keep=["id"])
