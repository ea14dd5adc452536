"""``nlpkit export --format hf`` of sequence-level tasks (classification, sentiment,
sentence pairs, NSP): plain transformers gives the labels and scores that
``nlpkit.load(run).predict`` gives, and ``nlpkit.load(export)`` predicts as the run."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import yaml

import nlpkit
from nlpkit.export import export
from tests.conftest import write_sentiment_tsv
from tests.export_helpers import close, export_meta, hf_logits, tiny_run
from tests.pair.conftest import write_pairs_tsv, write_ratings_jsonl

TEXTS = ["i loved it", "awful and dull", "a great fun movie , truly good", "bad plot , bad actors"]


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("export-sequence")


@pytest.fixture(scope="module")
def classifier(tiny_classifier_run: Path) -> Path:
    """The default head: mean pooling, which needs nlpkit's modeling file."""
    return tiny_classifier_run


def sentiment_data(root: Path) -> dict[str, str]:
    return {"train": str(write_sentiment_tsv(root / "train.tsv", 24, seed=1)),
            "validation": str(write_sentiment_tsv(root / "dev.tsv", 8, seed=2))}


def softmax(logits: torch.Tensor) -> list[float]:
    return torch.softmax(logits.double(), dim=-1)[0].tolist()


def test_a_mean_pooled_classifier_loads_in_transformers_with_its_modeling_file(classifier: Path, root: Path) -> None:
    out = export(classifier, root / "mean-export")
    meta = export_meta(out)
    assert meta["format"] == "hf" and meta["task"] == "classification" and meta["labels"] == ["0", "1"]
    assert meta["hf"]["trust_remote_code"] and (out / "modeling_nlpkit.py").is_file()
    predictions = nlpkit.load(classifier).predict(TEXTS)
    from transformers import AutoModelForSequenceClassification, pipeline

    for text, expected in zip(TEXTS, predictions):
        output = hf_logits(out, "AutoModelForSequenceClassification", text, trust_remote_code=True)
        model = AutoModelForSequenceClassification.from_pretrained(out, trust_remote_code=True)
        probabilities = dict(zip((model.config.id2label[i] for i in range(2)), softmax(output.logits)))
        assert max(probabilities, key=probabilities.get) == expected["label"]
        assert all(close(probabilities[k], v) for k, v in expected["probabilities"].items())
    served = pipeline("text-classification", model=str(out), trust_remote_code=True, top_k=None)(TEXTS)
    for rows, expected in zip(served, predictions):
        assert rows[0]["label"] == expected["label"]
        assert all(close(row["score"], expected["probabilities"][row["label"]]) for row in rows)


def test_without_trust_remote_code_transformers_refuses_rather_than_guess_a_head(classifier: Path, root: Path) -> None:
    from transformers import AutoModelForSequenceClassification

    out = export(classifier, root / "refused")
    with pytest.raises(ValueError, match="trust_remote_code"):
        AutoModelForSequenceClassification.from_pretrained(out, trust_remote_code=False)


def test_the_export_loads_back_into_nlpkit_and_predicts_as_the_run(classifier: Path, root: Path) -> None:
    out = export(classifier, root / "back")
    assert nlpkit.load(out).predict(TEXTS) == nlpkit.load(classifier).predict(TEXTS)


def test_the_model_card_has_hub_front_matter_and_the_runs_metrics(classifier: Path, root: Path) -> None:
    import json

    out = export(classifier, root / "card")
    text = (out / "README.md").read_text(encoding="utf-8")
    front = yaml.safe_load(text.split("---\n")[1])
    assert front["library_name"] == "transformers" and front["pipeline_tag"] == "text-classification"
    validation = json.loads((classifier / "metrics.json").read_text())["validation"]
    results = {r["dataset"]["name"]: r["metrics"] for r in front["model-index"][0]["results"]}
    numbers = {k: v for k, v in validation.items() if isinstance(v, float)}  # per-class figures are nested
    assert numbers and {m["type"]: m["value"] for m in results["validation"]} == numbers
    assert set(results) == {"validation"}  # training timings are no evaluation
    assert "trust_remote_code=True" in text and "## Intended use" in text and "task: classification" in text
    assert 'AutoModelForSequenceClassification.from_pretrained("card", trust_remote_code=True)' in text


def test_a_pooler_head_is_plain_bert_for_sequence_classification(root: Path, tiny_encoder: Path) -> None:
    from transformers import pipeline

    run = tiny_run(root / "pooler", tiny_encoder, "classification", sentiment_data(root), {"pooling": "pooler"})
    out = export(run, root / "pooler-export")
    assert export_meta(out)["hf"]["architecture"] == "BertForSequenceClassification"
    assert not (out / "modeling_nlpkit.py").exists()
    predictions = nlpkit.load(run).predict(TEXTS)
    served = pipeline("text-classification", model=str(out), top_k=None)(TEXTS)  # no remote code
    for rows, expected in zip(served, predictions):
        assert rows[0]["label"] == expected["label"]
        assert all(close(row["score"], expected["probabilities"][row["label"]]) for row in rows)


def test_multi_label_exports_sigmoid_scores(root: Path, tiny_encoder: Path) -> None:
    from transformers import pipeline

    path = root / "multi.tsv"
    rows = ["text\tlabel", *[f"{t}\t{labels}" for t, labels in [
        ("i loved it", "pos,fun"), ("awful and dull", "neg"), ("a great fun movie", "pos,fun"), ("bad plot", "neg"),
    ] * 6]]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    run = tiny_run(root / "multi", tiny_encoder, "classification", {"train": str(path), "validation": str(path)},
                   {"multi_label": True, "pooling": "cls"})
    out = export(run, root / "multi-export")
    from transformers import AutoConfig

    assert AutoConfig.from_pretrained(out, trust_remote_code=True).problem_type == "multi_label_classification"
    predictions = nlpkit.load(run).predict(TEXTS)
    served = pipeline("text-classification", model=str(out), trust_remote_code=True, top_k=None)(TEXTS)
    for rows, expected in zip(served, predictions):
        assert all(close(row["score"], expected["probabilities"][row["label"]]) for row in rows)
        assert sorted(r["label"] for r in rows if r["score"] >= 0.5) == sorted(expected["labels"])


def test_a_rating_regression_exports_its_score_on_the_labels_scale(root: Path, tiny_encoder: Path) -> None:
    data = {"train": str(write_ratings_jsonl(root / "ratings.jsonl", 32, seed=1))}
    data["validation"] = data["train"]
    run = tiny_run(root / "ratings", tiny_encoder, "sentiment", data, {"type": "regression", "range": [1, 5]})
    out = export(run, root / "ratings-export")
    from transformers import AutoConfig

    config = AutoConfig.from_pretrained(out, trust_remote_code=True)
    assert config.num_labels == 1 and config.problem_type == "regression"
    for text, expected in zip(TEXTS, nlpkit.load(run).predict(TEXTS)):
        score = float(hf_logits(out, "AutoModelForSequenceClassification", text, trust_remote_code=True).logits[0, 0])
        assert close(min(max(score, 1.0), 5.0), expected["rating"])  # nlpkit clips to head.range


def test_sentence_pairs_export_with_both_texts(root: Path, tiny_encoder: Path) -> None:
    from transformers import pipeline

    data = {"train": str(write_pairs_tsv(root / "pairs.tsv", 32, seed=1)),
            "validation": str(write_pairs_tsv(root / "pairs-dev.tsv", 8, seed=2))}
    run = tiny_run(root / "pairs", tiny_encoder, "pair", data)
    out = export(run, root / "pairs-export")
    pairs = [("the movie was great", "the film was wonderful"), ("i loved it", "paris is the capital")]
    predictions = nlpkit.load(run).predict(pairs)
    served = pipeline("text-classification", model=str(out), trust_remote_code=True, top_k=None)(
        [{"text": a, "text_pair": b} for a, b in pairs])
    for rows, expected in zip(served, predictions):
        assert rows[0]["label"] == expected["label"]
        assert all(close(row["score"], expected["probabilities"][row["label"]]) for row in rows)


def test_nsp_exports_as_bert_for_next_sentence_prediction(root: Path, tiny_encoder: Path) -> None:
    path = root / "nsp.tsv"
    rows = ["text_a\ttext_b\tlabel"] + [f"{a}\t{b}\t{label}" for a, b, label in [
        ("the movie was great", "the actors were wonderful", "is_next"), ("i loved it", "paris is the capital", "not_next"),
    ] * 8]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    run = tiny_run(root / "nsp", tiny_encoder, "nsp", {"train": str(path), "validation": str(path), "format": "tsv"})
    out = export(run, root / "nsp-export")
    for (a, b), expected in zip([("i loved it", "the film was wonderful")], nlpkit.load(run).predict([("i loved it", "the film was wonderful")])):
        output = hf_logits(out, "AutoModelForNextSentencePrediction", a, b)
        assert close(softmax(output.logits)[0], expected["probability"])  # index 0: is_next
