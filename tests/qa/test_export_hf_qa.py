"""``nlpkit export --format hf`` of extractive QA: ``AutoModelForQuestionAnswering`` gives
the start and end logits of nlpkit's model, and nlpkit's span decoding over them gives
the answers and scores of ``nlpkit.load(run).predict`` (transformers 5 has no QA pipeline)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

import nlpkit
from nlpkit.export import export
from nlpkit.task import Counts
from tests.export_helpers import close, export_meta, tiny_run
from tests.qa.conftest import make_rows, train_tiny_qa


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory, tiny_model: Path) -> Path:
    root = tmp_path_factory.mktemp("export-qa")
    return train_tiny_qa(root, tiny_model, 48, window_overlap=8, max_question_length=12)


def test_transformers_logits_decode_to_nlpkits_answers(run: Path, tmp_path: Path) -> None:
    from transformers import AutoModelForQuestionAnswering, AutoTokenizer

    out = export(run, tmp_path / "export")
    assert export_meta(out)["hf"]["architecture"] == "BertForQuestionAnswering"
    model = AutoModelForQuestionAnswering.from_pretrained(out)
    tokenizer = AutoTokenizer.from_pretrained(out)
    predictor = nlpkit.load(run)
    task = predictor.task
    questions = [{"question": r["question"], "context": r["context"]} for r in make_rows(3, offset=20)]
    examples = task.examples_from_inputs(questions)
    features = task.encode(examples, tokenizer, training=False, counts=Counts())
    assert len(features) > len(examples)  # long contexts: several windows each
    outputs = []
    for feature in features:
        ids = torch.tensor([feature["input_ids"]])
        with torch.inference_mode():
            output = model(input_ids=ids, token_type_ids=torch.tensor([feature["token_type_ids"]]))
        outputs.append({"start_logits": output.start_logits[0].numpy(), "end_logits": output.end_logits[0].numpy()})
    theirs = task.decode(examples, features, outputs)
    ours = predictor.predict(questions)
    assert [p["answer"] for p in theirs] == [p["answer"] for p in ours]
    assert all(close(a["score"], b["score"]) for a, b in zip(theirs, ours))


def test_the_export_loads_back_into_nlpkit(run: Path, tmp_path: Path) -> None:
    out = export(run, tmp_path / "export")
    question = {"question": "what is the capital of peru ?", "context": make_rows(1, offset=6)[0]["context"]}
    assert nlpkit.load(out).predict(question) == nlpkit.load(run).predict(question)
