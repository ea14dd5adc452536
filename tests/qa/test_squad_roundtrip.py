"""Real SQuAD through encode -> logits that mark the labelled span -> decode: the
offsets map MiniLM's windows back to the gold answers' characters."""

from __future__ import annotations

import numpy as np
import pytest

from .test_metric import SQUAD_DIR


@pytest.mark.skipif(not (SQUAD_DIR / "eval-from-dev.json").exists(), reason=f"no SQuAD data at {SQUAD_DIR}")
def test_gold_labels_decode_back_to_the_gold_answers() -> None:
    from nlpkit.encoder import load_tokenizer
    from nlpkit.recipe import load_recipe
    from nlpkit.scoring import compute_metrics
    from nlpkit.task import Counts, TaskSettings
    from nlpkit_qa.task import QATask

    recipe = load_recipe({"task": "qa", "encoder": {"max_length": 192}, "data": {"window_overlap": 64}})
    task = QATask(TaskSettings.of(recipe))
    examples = task.read(SQUAD_DIR / "eval-from-dev.json", "validation")[:300]
    tokenizer = load_tokenizer(recipe.encoder)
    features = task.encode(examples, tokenizer, training=True, counts=Counts())
    assert len(features) > len(examples)  # some contexts need several windows at 192 tokens
    outputs = []
    for f in features:
        start, end = np.zeros(len(f["input_ids"])), np.zeros(len(f["input_ids"]))
        start[f["start_positions"]] = end[f["end_positions"]] = 10.0  # [CLS] when not in the window
        outputs.append({"start_logits": start, "end_logits": end})
    predictions = task.decode(examples, features, outputs)
    assert all(e.context[p["start"] : p["end"]] == p["answer"] for e, p in zip(examples, predictions))
    metrics = compute_metrics(task, examples, predictions)
    # Only answers that start or end inside a token (e.g. "1990" in "1990s") can differ.
    assert metrics["exact_match"] > 97 and metrics["f1"] > 99
