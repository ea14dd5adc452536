"""``nlpkit export --format hf`` of NER: ``AutoModelForTokenClassification`` and the
token-classification pipeline tag each word as ``nlpkit.load(run).predict`` does; a
CRF's scores go beside the model, and Viterbi over them gives nlpkit's tags."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import nlpkit
from nlpkit.export import export
from nlpkit.task import Counts
from tests.export_helpers import close, export_meta, tiny_run
from tests.ner.conftest import toy_sentences, write_conll

SENTENCES = [["Alice", "Smith", "visited", "Berlin", "."], ["yesterday", "Dave", "flew", "to", "New", "York", "."]]


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory, ner_encoder: Path) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("export-ner")
    data = {"train": str(write_conll(root / "train.txt", toy_sentences(40))),
            "validation": str(write_conll(root / "dev.txt", toy_sentences(8, offset=40)))}
    return {
        name: tiny_run(root / name, ner_encoder, "ner", data, {"crf": name == "crf"})
        for name in ("softmax", "crf")
    }


def first_piece_logits(export: Path, words: list[str]) -> torch.Tensor:
    """The logits of each word's first piece, as a transformers user computes them."""
    from transformers import AutoModelForTokenClassification, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(export)
    model = AutoModelForTokenClassification.from_pretrained(export)
    encoded = tokenizer(words, is_split_into_words=True, return_tensors="pt")
    with torch.inference_mode():
        logits = model(**encoded).logits[0]
    word_ids = encoded.word_ids()
    firsts = [i for i, w in enumerate(word_ids) if w is not None and (i == 0 or word_ids[i - 1] != w)]
    return logits[firsts]


def test_plain_transformers_tags_every_word_as_nlpkit(runs: dict[str, Path], tmp_path: Path) -> None:
    from transformers import AutoConfig

    run = runs["softmax"]
    out = export(run, tmp_path / "export")
    meta = export_meta(out)
    assert meta["hf"]["architecture"] == "BertForTokenClassification" and not meta["hf"]["trust_remote_code"]
    predictor = nlpkit.load(run)
    id2label = AutoConfig.from_pretrained(out).id2label
    assert [id2label[i] for i in range(len(id2label))] == predictor.task.tags == meta["labels"]
    for words in SENTENCES:
        probabilities = torch.softmax(first_piece_logits(out, words).double(), dim=-1)
        expected = predictor.predict(tuple(words))
        assert [id2label[int(i)] for i in probabilities.argmax(-1)] == expected["tags"]
        examples = predictor.task.examples_from_inputs([tuple(words)])
        features = predictor.task.encode(examples, predictor.tokenizer, training=False, counts=Counts())
        scores = [s for s, u in zip(predictor.infer(features)[0]["score"], features[0]["units"]) if u >= 0]
        assert all(close(a, b) for a, b in zip(probabilities.max(-1).values.tolist(), scores))


def test_the_token_classification_pipeline_finds_nlpkits_entities(runs: dict[str, Path], tmp_path: Path) -> None:
    from transformers import pipeline

    run = runs["softmax"]
    out = export(run, tmp_path / "export")
    text = "Alice Smith visited Berlin ."
    expected = nlpkit.load(run).predict(text)["entities"]
    found = pipeline("token-classification", model=str(out), aggregation_strategy="first")(text)
    assert [(e["word"], e["entity_group"], e["start"], e["end"]) for e in found] == [
        (e["text"].lower(), e["label"], e["start"], e["end"]) for e in expected
    ]


def viterbi(emissions: torch.Tensor, transitions: torch.Tensor, start: torch.Tensor, end: torch.Tensor) -> list[int]:
    score, back = start + emissions[0], []
    for row in emissions[1:]:
        total = score[:, None] + transitions + row[None, :]
        score, best = total.max(dim=0)
        back.append(best)
    path = [int((score + end).argmax())]
    for best in reversed(back):
        path.append(int(best[path[-1]]))
    return path[::-1]


def test_a_crf_model_exports_its_transitions_and_viterbi_over_them_gives_nlpkits_tags(
    runs: dict[str, Path], tmp_path: Path
) -> None:
    from safetensors.torch import load_file

    run = runs["crf"]
    out = export(run, tmp_path / "export")
    meta = export_meta(out)
    assert meta["hf"]["beside"] == ["crf.safetensors"] and "without it" in meta["hf"]["notes"][0]
    crf = load_file(str(out / "crf.safetensors"))
    predictor = nlpkit.load(run)
    tags = predictor.task.tags
    for words in SENTENCES:
        path = viterbi(first_piece_logits(out, words).double(), *(crf[k].double() for k in
                       ("transitions", "start_transitions", "end_transitions")))
        assert [tags[i] for i in path] == predictor.predict(tuple(words))["tags"]
    assert "Viterbi" in (out / "README.md").read_text(encoding="utf-8")
