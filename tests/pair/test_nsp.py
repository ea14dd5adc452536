"""``task: nsp``: pairs from a corpus, a checkpoint's own NSP head, training, prediction."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
import torch

import nlpkit
from nlpkit.errors import DataError, NlpkitError
from nlpkit.plugins import get_task
from nlpkit.recipe import build_recipe
from nlpkit.task import TaskSettings

TOPICS = {
    "Cats": ["the cat sleeps on the mat", "the cat likes fish", "a cat chases the mouse", "the cat purrs at night"],
    "Trains": ["the train leaves at noon", "trains run on rails", "the station is busy", "the train is late again"],
    "Rivers": ["the river flows north", "fish swim in the river", "the river floods in spring", "boats sail down the river"],
    "Songs": ["the song is loud", "the band plays the song", "fans sing the chorus", "the song topped the charts"],
}


def write_wikitext(path: Path, sentences_per_doc: int = 4, repeat: int = 1) -> Path:
    """WikiText-shaped: ` = Title = ` lines, ` = = Section = = ` headings, CRLF."""
    lines = []
    for title, sentences in TOPICS.items():
        lines += [f" = {title} = ", ""]
        for _ in range(repeat):
            lines.append(" " + " . ".join(s.capitalize() for s in sentences[:sentences_per_doc]) + " . ")
        lines += ["", " = = History = = ", ""]
    path.write_bytes("\r\n".join(lines).encode("utf-8"))
    return path


def make_task(data: dict | None = None, **sections):
    recipe = build_recipe({"task": "nsp", "data": data or {}, **sections}, check_paths=False)
    return get_task("nsp")(TaskSettings.of(recipe))


def test_corpus_pairs_are_seeded_balanced_and_respect_documents(tmp_path: Path) -> None:
    corpus = write_wikitext(tmp_path / "wiki.raw", repeat=5)
    task = make_task({"train": str(corpus)})
    pairs = task.read(corpus, "train")
    assert len(pairs) == 4 * (5 * 4 - 1)  # consecutive sentences of each article
    assert pairs == task.read(corpus, "train")  # same seed, same pairs
    assert pairs != task.read(corpus, "validation")  # evaluation pairs use head.eval_seed
    counts = Counter(p.label for p in pairs)
    assert set(counts) == {"is_next", "not_next"} and abs(counts["is_next"] - counts["not_next"]) < 20
    topic_of = {s.capitalize(): t for t, ss in TOPICS.items() for s in ss}
    for p in pairs:
        a, b = topic_of[p.text_a.rstrip(" .")], topic_of[p.text_b.rstrip(" .")]
        assert (a == b) == (p.label == "is_next") and a == p.id  # NotNext: another article; headings dropped


def test_whole_articles_are_held_out(tmp_path: Path) -> None:
    corpus = write_wikitext(tmp_path / "wiki.raw", repeat=3)
    task = make_task({"train": str(corpus), "validation_documents": 2})
    assert task.settings.data.validation == str(corpus)
    train = {p.id for p in task.read(corpus, "train")}
    validation = {p.id for p in task.read(corpus, "validation")}
    assert len(train) == 2 and len(validation) == 2 and not train & validation
    with pytest.raises(DataError, match="NotNext sentences come from another document"):
        make_task({"train": str(corpus), "validation_documents": 3}).read(corpus, "train")  # one article left


def test_reads_labelled_pair_files(tmp_path: Path) -> None:
    path = tmp_path / "pairs.jsonl"
    path.write_text('{"text_a": "a", "text_b": "b", "label": 1}\n{"text_a": "c", "text_b": "d", "label": "NotNext"}\n')
    assert [e.label for e in make_task().read(path, "test")] == ["is_next", "not_next"]
    tsv = tmp_path / "pairs.tsv"
    tsv.write_text("text_a\ttext_b\tlabel\na\tb\tmaybe\n")
    with pytest.raises(DataError, match="pairs.tsv:2: label 'maybe' .* not an NSP label"):
        make_task().read(tsv, "test")


def test_a_corpus_without_text_and_a_jsonl_pair_row_of_the_wrong_shape(tmp_path: Path) -> None:
    blank = tmp_path / "blank.txt"
    blank.write_text("\n  \n\n")
    with pytest.raises(DataError) as info:
        make_task().read(blank, "train")
    assert str(info.value) == f"{blank}: no text found: the file is empty or holds only blank lines"
    path = tmp_path / "pairs.jsonl"
    path.write_text('{"text_a": "a", "text_b": "b", "label": 1}\n{"text_a": "c", "text_b": "d", "label": "maybe"}\n')
    with pytest.raises(DataError) as info:
        make_task().read(path, "test")
    assert str(info.value) == f"{path}:2: label 'maybe' (key 'label') is not an NSP label (is_next/not_next, 1/0, true/false)"


@pytest.fixture
def pretraining_checkpoint(tiny_encoder: Path, tmp_path: Path) -> Path:
    """A tiny ``BertForPreTraining`` checkpoint whose NSP head strongly prefers NotNext."""
    from transformers import AutoTokenizer, BertConfig, BertForPreTraining

    torch.manual_seed(3)
    model = BertForPreTraining(BertConfig.from_pretrained(tiny_encoder))
    with torch.no_grad():
        model.cls.seq_relationship.bias.copy_(torch.tensor([-2.0, 2.0]))
    out = tmp_path / "bert-pretraining"
    model.save_pretrained(out)
    AutoTokenizer.from_pretrained(tiny_encoder).save_pretrained(out)
    return out


def test_a_checkpoints_nsp_head_scores_pairs_as_bert_does(pretraining_checkpoint: Path) -> None:
    from transformers import AutoTokenizer, BertForPreTraining

    from nlpkit_pair.scoring import load_nsp

    a, b = "the movie was great", "i loved it"
    reference = BertForPreTraining.from_pretrained(pretraining_checkpoint).eval()
    tokenizer = AutoTokenizer.from_pretrained(pretraining_checkpoint)
    with torch.no_grad():
        logits = reference(**tokenizer(a, b, return_tensors="pt")).seq_relationship_logits[0]
    expected = torch.softmax(logits, -1)[0].item()  # index 0 = IsNext
    prediction = load_nsp(pretraining_checkpoint).predict((a, b))
    assert prediction["probability"] == pytest.approx(expected, abs=1e-5)
    assert prediction["is_next"] is False and prediction["label"] == "not_next"


def test_a_checkpoint_without_nsp_head_is_refused(tiny_encoder: Path) -> None:
    from nlpkit_pair.scoring import load_nsp

    with pytest.raises(NlpkitError, match="has no next-sentence-prediction head"):
        load_nsp(tiny_encoder)


def test_nsp_trains_from_a_corpus_and_predicts_pairs(tiny_encoder: Path, tmp_path: Path) -> None:
    from nlpkit_pair.scoring import load_nsp

    corpus = write_wikitext(tmp_path / "wiki.raw", repeat=3)
    recipe = {
        "task": "nsp",
        "encoder": {"name": str(tiny_encoder), "max_length": 32},
        "data": {"train": str(corpus), "validation_documents": 2},
        "train": {"epochs": 2, "batch_size": 8, "lr": 1e-3, "precision": "32", "seed": 7},
        "output": {"dir": str(tmp_path / "run"), "report": False},
    }
    result = nlpkit.run(recipe)
    metrics = result.metrics["validation"]
    assert 0.0 <= metrics["nsp_accuracy"] <= 1.0 and "f1" in metrics
    predictor = nlpkit.load(result.run_dir)
    one = predictor.predict(("a sentence", "another sentence"))
    assert set(one) == {"label", "is_next", "probability"} and 0.0 <= one["probability"] <= 1.0
    many = predictor.predict([("a", "b"), ("c", "d")])
    assert len(many) == 2
    # The run directory is also a scorer, and scoring a corpus gives the run's validation numbers.
    scorer = load_nsp(result.run_dir)
    assert scorer.predict(("a sentence", "another sentence")) == one
    held_out = make_task({"train": str(corpus), "validation_documents": 2}).read(corpus, "validation")
    _, again = scorer.evaluate(held_out)
    assert again["nsp_accuracy"] == metrics["nsp_accuracy"]
    from nlpkit.evaluation import evaluate_checkpoint  # scores any checkpoint on a recipe's split

    assert evaluate_checkpoint(recipe, result.run_dir)["nsp_accuracy"] == metrics["nsp_accuracy"]
    with pytest.raises(NlpkitError, match="pairs of texts"):
        predictor.predict(["a sentence", "another sentence"])
