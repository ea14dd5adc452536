"""MLM masking statistics, whole-word masking, dynamic vs reproducible masks."""

from __future__ import annotations

import torch

from nlpkit.data import collate
from nlpkit.task import Counts

from .conftest import corpus_texts, make_task


def _features(task, tokenizer, copies: int = 40):
    from nlpkit_pretrain.corpus import Document

    docs = [Document([text], "<test>", i + 1) for i, text in enumerate(corpus_texts() * copies)]
    return task.encode(docs, tokenizer, training=True, counts=Counts())


def test_masking_statistics(tiny_model, tokenizer) -> None:
    torch.manual_seed(0)
    task = make_task(encoder={"name": str(tiny_model), "max_length": 64}, head={"objectives": ["mlm"]})
    features = _features(task, tokenizer)
    batch = collate(task, features, tokenizer, training=True)
    original = collate(task, features, tokenizer, training=True)  # for the unmasked ids: use labels
    del original
    from nlpkit.batching import pad_features

    plain = pad_features([{"input_ids": f["input_ids"], "special": f["special_tokens_mask"]} for f in features])
    ids, real = plain["input_ids"], batch["attention_mask"].bool()
    special = (plain["special"] == 1) & real
    selected = batch["labels"] != -100

    assert not (selected & (special | ~real)).any()  # never a special token or padding
    share = selected.sum() / (real & ~special).sum()
    assert 0.13 < share < 0.17
    assert torch.equal(batch["labels"][selected], ids[selected])  # labels are the original ids
    n = selected.sum()
    as_mask = (batch["input_ids"] == tokenizer.mask_token_id) & selected
    unchanged = (batch["input_ids"] == ids) & selected
    assert abs(as_mask.sum() / n - 0.8) < 0.04
    # "random" includes a few draws of the original id, so unchanged is ~10% + 10%/|V|.
    assert abs(unchanged.sum() / n - 0.1) < 0.03
    assert abs((n - as_mask.sum() - unchanged.sum()) / n - 0.1) < 0.03
    assert not ((batch["input_ids"] == tokenizer.mask_token_id) & ~selected).any()


def test_mlm_probability_is_configurable(tiny_model, tokenizer) -> None:
    task = make_task(encoder={"name": str(tiny_model)}, head={"objectives": ["mlm"], "mlm_probability": 0.4})
    batch = collate(task, _features(task, tokenizer), tokenizer, training=True)
    real = batch["attention_mask"].sum() - 2 * batch["input_ids"].shape[0]
    assert 0.36 < (batch["labels"] != -100).sum() / real < 0.44


def test_whole_word_masking_masks_all_pieces(tiny_model, tokenizer) -> None:
    torch.manual_seed(1)
    task = make_task(encoder={"name": str(tiny_model)}, head={"objectives": ["mlm"], "whole_word_mask": True})
    features = _features(task, tokenizer, copies=20)
    assert any(0 in f["word_starts"][1:-1] for f in features), "corpus must have multi-piece words"
    batch = collate(task, features, tokenizer, training=True)
    selected = batch["labels"] != -100
    words = 0
    for i, feature in enumerate(features):
        starts = feature["word_starts"]
        special = feature["special_tokens_mask"]
        j = 0
        while j < len(starts):
            if special[j]:
                j += 1
                continue
            end = j + 1
            while end < len(starts) and not special[end] and starts[end] == 0:
                end += 1
            picked = selected[i, j:end]
            assert picked.all() or not picked.any(), tokenizer.convert_ids_to_tokens(feature["input_ids"][j:end])
            words += int(picked.all() and end - j > 1)
            j = end
    assert words > 0  # some multi-piece words were masked whole
    share = selected.sum() / (batch["attention_mask"].sum() - 2 * len(features))
    assert 0.10 < share < 0.20
    # The 80/10/10 replacement applies to whole-word selections too.
    as_mask = ((batch["input_ids"] == tokenizer.mask_token_id) & selected).sum() / selected.sum()
    assert 0.72 < as_mask < 0.88


def test_dynamic_masks_differ_between_epochs(tiny_model, tokenizer) -> None:
    task = make_task(encoder={"name": str(tiny_model)})
    features = _features(task, tokenizer, copies=2)
    first = collate(task, features, tokenizer, training=True)["labels"]
    second = collate(task, features, tokenizer, training=True)["labels"]
    assert not torch.equal(first != -100, second != -100)


def test_evaluation_masks_fixed_by_eval_seed(tiny_model, tokenizer) -> None:
    task = make_task(encoder={"name": str(tiny_model)}, head={"whole_word_mask": True})
    features = _features(task, tokenizer, copies=2)
    whole = collate(task, features, tokenizer, training=False)
    again = collate(task, features, tokenizer, training=False)
    assert torch.equal(whole["input_ids"], again["input_ids"]) and torch.equal(whole["labels"], again["labels"])
    # Independent of batch composition and order: row 5 alone equals row 5 in the full batch.
    alone = collate(task, [features[5], features[0]], tokenizer, training=False)
    n = len(features[5]["input_ids"])
    assert torch.equal(alone["labels"][0, :n], whole["labels"][5, :n])
    assert torch.equal(alone["input_ids"][0, :n], whole["input_ids"][5, :n])
    other = make_task(encoder={"name": str(tiny_model)}, head={"whole_word_mask": True, "eval_seed": 7})
    assert not torch.equal(collate(other, features, tokenizer, training=False)["labels"], whole["labels"])
