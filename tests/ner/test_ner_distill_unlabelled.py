"""An NER student with a CRF distilled from its teacher on unlabelled sentences too
(``distill.unlabelled``): raw texts and pre-split words, one a line, as ``nlpkit predict``
reads them; the run trains on them and predicts what it evaluated."""

from __future__ import annotations

import json
from pathlib import Path

import nlpkit
from tests.distill_helpers import transfer_recipe
from tests.export_helpers import tiny_run
from tests.ner.conftest import toy_sentences, write_conll


def test_a_crf_student_distils_on_unlabelled_sentences(tmp_path: Path, ner_encoder: Path) -> None:
    data = {"train": str(write_conll(tmp_path / "train.txt", toy_sentences(16))),
            "validation": str(write_conll(tmp_path / "dev.txt", toy_sentences(6, offset=16)))}
    teacher = tiny_run(tmp_path / "teacher", ner_encoder, "ner", data, head={"crf": True}, max_length=10)
    unlabelled = tmp_path / "more.jsonl"
    sentences = [[w for w, _ in s] for s in toy_sentences(12, offset=30)]
    unlabelled.write_text("".join(json.dumps(" ".join(w) if i % 2 else w) + "\n" for i, w in enumerate(sentences)))
    recipe = transfer_recipe("ner", ner_encoder, data, teacher, unlabelled, tmp_path / "student", 10, crf=True)
    run = nlpkit.run(recipe).run_dir
    metrics = json.loads((run / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["training"]["examples"]["unlabelled"] == 12
    saved = [json.loads(line) for line in (run / "predictions" / "validation.jsonl").read_text().splitlines()]
    again = nlpkit.load(run).predict([tuple(row["tokens"]) for row in saved])
    assert [p["tags"] for p in again] == [row["tags"] for row in saved]
