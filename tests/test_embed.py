"""Sentence embeddings: ``Embedder``, ``Predictor.embed`` and ``nlpkit embed`` on tiny models."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from transformers import AutoModel, AutoTokenizer

import nlpkit
from nlpkit.cli import main
from nlpkit.embed import Embedder, max_length_of
from nlpkit.errors import InputError

TEXTS = ["a great fun movie", "awful", "i loved it , truly a good and fun story with wonderful actors", "bad plot"]


def alone(path: Path, text: str, pooling: str = "mean") -> np.ndarray:
    """The embedding of one text computed by hand: no batch, no padding."""
    tokenizer, model = AutoTokenizer.from_pretrained(path), AutoModel.from_pretrained(path).eval()
    with torch.inference_mode():
        states = model(**tokenizer(text, return_tensors="pt")).last_hidden_state[0]
    return (states[0] if pooling == "cls" else states.mean(dim=0)).numpy()


@pytest.fixture(scope="module")
def embedder(tiny_encoder: Path) -> Embedder:
    return Embedder.load(str(tiny_encoder))


def test_mean_pooling_counts_real_tokens_only(embedder: Embedder, tiny_encoder: Path) -> None:
    # Batches of 3 mix the longest text with short ones: padding must not change their means.
    vectors = embedder.embed(TEXTS, batch_size=3)
    assert vectors.shape == (4, 32) and vectors.dtype == np.float32
    for text, vector in zip(TEXTS, vectors):
        np.testing.assert_allclose(vector, alone(tiny_encoder, text), atol=1e-5)
    np.testing.assert_allclose(embedder.embed(TEXTS, batch_size=1), vectors, atol=1e-5)


def test_cls_pooling_normalisation_and_one_text(embedder: Embedder, tiny_encoder: Path) -> None:
    np.testing.assert_allclose(embedder.embed(TEXTS[2], pooling="cls"), alone(tiny_encoder, TEXTS[2], "cls"), atol=1e-5)
    unit = embedder.embed(TEXTS, normalize=True)
    np.testing.assert_allclose(np.linalg.norm(unit, axis=1), 1.0, atol=1e-6)
    raw = embedder.embed(TEXTS)
    np.testing.assert_allclose(unit, raw / np.linalg.norm(raw, axis=1, keepdims=True), atol=1e-6)
    assert embedder.embed("one text").shape == (32,)
    assert embedder.embed([]).shape == (0, 32)


def test_bad_texts_are_refused_with_their_position(embedder: Embedder) -> None:
    with pytest.raises(InputError, match=r"inputs\[1\]: the text is empty"):
        embedder.embed(["fine", "  "])
    with pytest.raises(InputError, match=r"inputs\[0\]: expected a text"):
        embedder.embed([3])  # type: ignore[list-item]


def test_truncation_follows_sentence_transformers_settings(tiny_encoder: Path, tmp_path: Path) -> None:
    tokenizer = AutoTokenizer.from_pretrained(tiny_encoder)
    config = AutoModel.from_pretrained(tiny_encoder).config
    assert max_length_of(str(tiny_encoder), tokenizer, config) == 512
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "sentence_bert_config.json").write_text('{"max_seq_length": 7}')
    assert max_length_of(str(folder), tokenizer, config) == 7


def test_a_run_embeds_with_its_fine_tuned_encoder(tiny_classifier_run: Path) -> None:
    predictor = nlpkit.load(tiny_classifier_run)
    vectors = predictor.embed(TEXTS)
    model_dir = tiny_classifier_run / "model"
    for text, vector in zip(TEXTS, vectors):
        np.testing.assert_allclose(vector, alone(model_dir, text), atol=1e-5)


def test_the_command_writes_npy_and_jsonl(tiny_encoder: Path, tmp_path: Path) -> None:
    source = tmp_path / "texts.txt"
    source.write_text("\n".join(TEXTS) + "\n", encoding="utf-8")
    runner = CliRunner()
    done = runner.invoke(main, ["embed", str(tiny_encoder), "--input", str(source), "--output", str(tmp_path / "x.npy"),
                                "--normalize"])
    assert done.exit_code == 0, done.output
    expected = Embedder.load(str(tiny_encoder)).embed(TEXTS, normalize=True)
    np.testing.assert_allclose(np.load(tmp_path / "x.npy"), expected, atol=1e-6)
    done = runner.invoke(main, ["embed", str(tiny_encoder), "--input", "-", "--pooling", "cls"], input="awful\nbad plot\n")
    rows = [json.loads(line) for line in done.stdout.splitlines()]
    assert [row["line"] for row in rows] == [1, 2] and len(rows[0]["embedding"]) == 32


def test_the_command_refuses_bad_input_and_output(tiny_encoder: Path, tmp_path: Path) -> None:
    source = tmp_path / "texts.txt"
    source.write_text("fine\n\nafter a blank\n", encoding="utf-8")
    runner = CliRunner()
    done = runner.invoke(main, ["embed", str(tiny_encoder), "--input", str(source)])
    assert done.exit_code == 2 and f"{source}:2: blank line" in done.stderr
    done = runner.invoke(main, ["embed", str(tiny_encoder), "--input", str(source), "--output", "x.csv"])
    assert done.exit_code == 2 and "name a .npy or a .jsonl file" in done.stderr
    rows = tmp_path / "rows.jsonl"
    rows.write_text('{"text": "fine"}\n{"id": 3}\n', encoding="utf-8")
    done = runner.invoke(main, ["embed", str(tiny_encoder), "--input", str(rows)])
    assert done.exit_code == 2 and f"{rows}:2: expected a text" in done.stderr
