"""Fixtures of the NER tests: a tiny BERT whose vocabulary knows the toy sentences."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import SHARED_DATA

CONLL_TRAIN = SHARED_DATA / "conll2003" / "eng.train"

# Toy sentences (IOB1, like CoNLL-2003): names and places in a few templates.
PEOPLE = ["Alice Smith", "Bob", "Carol Jones", "Dave", "Erin Brown"]
PLACES = ["Paris", "London", "New York", "Berlin", "Rome"]
TEMPLATES = ["{p} visited {l} .", "{p} lives in {l} .", "yesterday {p} flew to {l} .", "in {l} , {p} met friends ."]


def toy_sentences(n: int, offset: int = 0) -> list[list[tuple[str, str]]]:
    out = []
    for i in range(offset, offset + n):
        person, place = PEOPLE[i % len(PEOPLE)], PLACES[(i // 2) % len(PLACES)]
        words: list[tuple[str, str]] = []
        for token in TEMPLATES[i % len(TEMPLATES)].split():
            if token == "{p}":
                words += [(w, "I-PER") for w in person.split()]
            elif token == "{l}":
                words += [(w, "I-LOC") for w in place.split()]
            else:
                words.append((token, "O"))
        out.append(words)
    return out


def write_conll(path: Path, sentences: list[list[tuple[str, str]]], docstart: bool = True) -> Path:
    lines = ["-DOCSTART- -X- O O", ""] if docstart else []
    for sentence in sentences:
        lines += [f"{w} NNP I-NP {t}" for w, t in sentence] + [""]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def ner_encoder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from nlpkit.testing import tiny_bert

    texts = [" ".join(w for w, _ in s) for s in toy_sentences(40)]
    texts += ["Angela Merkel visited Paris", "Düsseldorf, café – naïve!", "北京 是 中国 的 首都"]
    return tiny_bert(tmp_path_factory.mktemp("ner-bert"), texts, vocab_size=300)


@pytest.fixture(scope="session")
def ner_tokenizer(ner_encoder: Path):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(ner_encoder)
