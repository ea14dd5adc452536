"""Fixtures of the pre-training tests: a tiny corpus and a tiny random BERT (offline, <1 s)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402

# Tiny models: one thread is fastest, and the 2-core machines are shared.
torch.set_num_threads(1)

ARTICLES = {
    "Alpha river": [
        "The Alpha river flows north through the valley . It is long and slow .",
        "Fishermen work on its banks every morning . They sell fish in the town market .",
        "The river freezes in winter . Children skate on the ice until spring comes .",
    ],
    "Beta castle": [
        "Beta castle was built in 1204 by a local lord . Its walls are thick and tall .",
        "The castle was besieged twice . Both sieges failed after many months .",
        "Today the castle is a museum . Visitors climb the towers to see the sea .",
    ],
    "Gamma song": [
        "Gamma is a song recorded by a famous band . It was released as a single in 1999 .",
        "The song reached number one in many countries . Critics praised its chorus .",
        "A music video was filmed in the desert . The band played on top of a truck .",
    ],
    "Delta station": [
        "Delta station is a railway station in the old town . Trains stop there every hour .",
        "The station opened in 1890 . It was rebuilt after a fire in 1950 .",
        "Passengers wait on two platforms . A small cafe sells coffee and cake .",
    ],
}


def wikitext(articles: dict[str, list[str]] = ARTICLES) -> str:
    """WikiText-style raw text: ' = Title = ' lines, section headings, CRLF endings."""
    lines = []
    for title, paragraphs in articles.items():
        lines.append(f" = {title} = ")
        lines.append(f" {paragraphs[0]} ")
        lines.append(" = = History = = ")
        lines.extend(f" {p} " for p in paragraphs[1:])
    return "\r\n".join(lines) + "\r\n"


def corpus_texts() -> list[str]:
    return [p for paragraphs in ARTICLES.values() for p in paragraphs]


@pytest.fixture(scope="session")
def corpus_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("corpus") / "wiki.raw"
    path.write_bytes(wikitext().encode("utf-8"))
    return path


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from nlpkit.testing import tiny_bert

    return tiny_bert(tmp_path_factory.mktemp("tiny") / "bert", corpus_texts() * 3, vocab_size=300)


@pytest.fixture(scope="session")
def tokenizer(tiny_model: Path):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_model)


def make_task(**sections):
    """A PretrainTask from recipe sections (mappings), validated like a recipe file."""
    from nlpkit.plugins import get_task
    from nlpkit.recipe import load_recipe
    from nlpkit.task import TaskSettings

    recipe = load_recipe({"task": "pretrain", **sections})
    return get_task("pretrain")(TaskSettings.of(recipe))
