"""Recipe options, reading held-out documents, features, heads, export and metrics."""

from __future__ import annotations

import contextlib
import logging
import math
from pathlib import Path
from typing import Iterator

import pytest
import torch

from nlpkit.data import collate
from nlpkit.errors import DataError, RecipeError
from nlpkit.scoring import compute_metrics
from nlpkit.task import Counts
from nlpkit_pretrain.corpus import Document
from nlpkit_pretrain.task import _tokenized

from .conftest import make_task


def test_recipe_options(corpus_file: Path) -> None:
    task = make_task(data={"train": str(corpus_file), "validation_documents": 1})
    assert task.settings.data.validation == str(corpus_file)  # held out from train by default
    assert task.settings.head.objectives == ["mlm", "nsp"] and task.monitor == "perplexity" and task.monitor_mode == "min"
    with pytest.raises(RecipeError, match="objectives must include mlm"):
        make_task(head={"objectives": ["nsp"]})
    with pytest.raises(RecipeError, match="did you mean head.mlm_probability"):
        make_task(head={"mlm_probabilty": 0.2})
    with pytest.raises(RecipeError, match="both hold out"):
        make_task(data={"train": str(corpus_file), "validation_documents": 1, "validation_split": 0.1})


def test_held_out_documents_are_disjoint(corpus_file: Path) -> None:
    task = make_task(data={"train": str(corpus_file), "validation_documents": 1})
    train = task.read(corpus_file, "train")
    validation = task.read(corpus_file, "validation")
    assert len(train) == 3 and len(validation) == 1
    assert {d.title for d in train}.isdisjoint({d.title for d in validation})
    assert [d.title for d in task.read(corpus_file, "validation")] == [d.title for d in validation]


@pytest.mark.parametrize(
    "name, content, why",
    [
        ("empty.txt", "", "the file is empty or holds only blank lines"),
        ("blank.raw", "\n   \n\n", "the file is empty or holds only blank lines"),
        ("titles.raw", " = Alpha = \n\n = = History = = \n\n = Beta = \n",
         "it holds only WikiText titles and section headings (' = Title = ', ' = = Section = = '), no text lines"),
        ("empty.jsonl", '{"text": ""}\n{"text": "  "}\n', "no JSON line holds a non-empty 'text' string"),
    ],
)
def test_a_corpus_without_text_says_why(tmp_path: Path, name: str, content: str, why: str) -> None:
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(DataError) as error:
        make_task(data={"train": str(path)}).read(path, "train")
    assert str(error.value) == f"{path}: no text found: {why}"  # before: "no text found" alone


def test_features(corpus_file: Path, tiny_model: Path, tokenizer) -> None:
    task = make_task(encoder={"name": str(tiny_model), "max_length": 24}, data={"train": str(corpus_file)})
    docs = task.read(corpus_file, "train")
    features = task.encode(docs, tokenizer, training=True, counts=Counts())
    assert len(features) > 8
    for f in features:
        ids, types = f["input_ids"], f["token_type_ids"]
        assert len(ids) <= 24 and ids[0] == tokenizer.cls_token_id and ids[-1] == tokenizer.sep_token_id
        assert ids.count(tokenizer.sep_token_id) == 2 and f["next_sentence_label"] in (0, 1)
        sep = ids.index(tokenizer.sep_token_id)
        assert types == [0] * (sep + 1) + [1] * (len(ids) - sep - 1)
        assert f["special_tokens_mask"] == [int(i in (0, sep, len(ids) - 1)) for i in range(len(ids))]
    assert task.encode(docs, tokenizer, training=False, counts=Counts()) == task.encode(docs, tokenizer, training=False, counts=Counts())
    mlm = make_task(encoder={"name": str(tiny_model), "max_length": 24}, head={"objectives": ["mlm"]})
    single = mlm.encode(docs, tokenizer, training=True, counts=Counts())
    assert all(f["input_ids"].count(tokenizer.sep_token_id) == 1 and "next_sentence_label" not in f for f in single)


def test_rust_tokenizer_path_gives_what_the_transformers_call_gives(corpus_file: Path, tiny_model: Path, tokenizer) -> None:
    """Sentences go to the Rust tokenizer directly; where an earlier call left truncation
    set on it, through the transformers call: the same features either way."""
    task = make_task(encoder={"name": str(tiny_model), "max_length": 24}, data={"train": str(corpus_file)})
    docs = task.read(corpus_file, "train") + [Document(["Don't stop-believing!! Naïve café. 日本語のテキスト。"], "x", 1)]
    direct = task.encode(docs, tokenizer, training=True, counts=Counts())
    tokenizer.backend_tokenizer.enable_truncation(4)
    try:
        through_transformers = task.encode(docs, tokenizer, training=True, counts=Counts())
    finally:
        tokenizer.backend_tokenizer.no_truncation()
    assert direct == through_transformers
    sentence = docs[-1].sentences()[0]
    encoded = tokenizer([sentence], add_special_tokens=False)
    words = encoded.word_ids(0)
    assert _tokenized([sentence], tokenizer) == (
        encoded["input_ids"], [[int(i == 0 or w != words[i - 1]) for i, w in enumerate(words)]]
    )


def _checkpoint_with_heads(tiny_model: Path, tokenizer, directory: Path) -> Path:
    """The tiny BERT saved as BertForPreTraining with non-zero cls.* weights."""
    from transformers import AutoModel

    from nlpkit_pretrain.head import PretrainingHeads, save_checkpoint

    encoder = AutoModel.from_pretrained(tiny_model)
    head = PretrainingHeads(encoder, nsp=True)
    torch.nn.init.normal_(head.predictions.bias)
    return save_checkpoint(encoder, head, tokenizer, directory)


@contextlib.contextmanager
def captured_log() -> Iterator[list[str]]:
    """Messages of the plugin's logger (the core's "nlpkit" logger does not propagate to pytest's)."""
    messages: list[str] = []
    handler = logging.Handler(logging.INFO)
    handler.emit = lambda record: messages.append(record.getMessage())  # type: ignore[method-assign]
    logger = logging.getLogger("nlpkit.pretrain")
    logger.addHandler(handler)
    level = logger.level
    logger.setLevel(logging.INFO)
    try:
        yield messages
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def test_heads_match_bert_for_pretraining(corpus_file: Path, tiny_model: Path, tokenizer, tmp_path: Path) -> None:
    """Same loss and per-token numbers as transformers' BertForPreTraining on the same masks."""
    from transformers import AutoModel, BertForPreTraining

    checkpoint = _checkpoint_with_heads(tiny_model, tokenizer, tmp_path / "ckpt")
    task = make_task(encoder={"name": str(checkpoint), "max_length": 32})
    encoder = AutoModel.from_pretrained(checkpoint)
    with captured_log() as messages:
        head = task.build_head(encoder)
    assert "loaded from" in " ".join(messages) and "initialised" not in " ".join(messages)
    # Tied decoder: the embedding matrix is used, not copied nor registered twice.
    assert all(p is not encoder.get_input_embeddings().weight for p in head.parameters())

    reference = BertForPreTraining.from_pretrained(checkpoint).eval()
    encoder.eval(), head.eval()
    features = task.encode(task.read(corpus_file, "train"), tokenizer, training=False, counts=Counts())[:6]
    batch = collate(task, features, tokenizer, training=False)
    inputs = {k: batch[k] for k in ("input_ids", "attention_mask", "token_type_ids")}
    with torch.no_grad():
        output = head(encoder(**inputs), batch)
        expected = reference(**inputs, labels=batch["labels"], next_sentence_label=batch["next_sentence_label"])
        loss = head.loss(output, batch)
    assert torch.allclose(loss, expected.loss, atol=1e-5)

    summaries = task.split_outputs(output, batch)
    logits = expected.prediction_logits[batch["labels"] != -100]
    token_loss = torch.nn.functional.cross_entropy(logits, batch["labels"][batch["labels"] != -100], reduction="sum")
    assert sum(s["mlm_loss_sum"] for s in summaries) == pytest.approx(float(token_loss), rel=1e-5)
    assert sum(s["masked"] for s in summaries) == int((batch["labels"] != -100).sum())
    docs = task.read(corpus_file, "train")
    predictions = task.decode(docs, features, summaries)
    metrics = compute_metrics(task, docs, predictions)
    masked = sum(s["masked"] for s in summaries)
    assert metrics["perplexity"] == pytest.approx(math.exp(float(token_loss) / masked), rel=1e-5)
    assert metrics["masked_tokens"] == masked and 0 <= metrics["nsp_accuracy"] <= 1
    assert all(isinstance(v, float) for v in metrics.values())  # logged as val_* during training


def test_missing_heads_are_initialised_and_logged(tiny_model: Path) -> None:
    from transformers import AutoModel

    task = make_task(encoder={"name": str(tiny_model)})
    with captured_log() as messages:
        task.build_head(AutoModel.from_pretrained(tiny_model))
    assert "has no MLM/NSP head" in " ".join(messages)


def test_export_is_a_standard_checkpoint(tiny_model: Path, tokenizer, tmp_path: Path) -> None:
    from transformers import AutoModel, AutoModelForSequenceClassification, AutoTokenizer

    from nlpkit_pretrain.head import checkpoint_state

    directory = _checkpoint_with_heads(tiny_model, tokenizer, tmp_path / "out")
    assert (directory / "model.safetensors").is_file() and (directory / "config.json").is_file()
    original = AutoModel.from_pretrained(tiny_model)
    reloaded = AutoModel.from_pretrained(directory)
    for name, value in original.state_dict().items():
        assert torch.equal(value, reloaded.state_dict()[name]), name
    assert AutoTokenizer.from_pretrained(directory).get_vocab() == tokenizer.get_vocab()
    AutoModelForSequenceClassification.from_pretrained(directory, num_labels=3)  # a fine-tune recipe's view
    assert {"cls.predictions.bias", "cls.seq_relationship.weight"} <= set(checkpoint_state(directory))
