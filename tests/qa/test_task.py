"""The task contract: recipe validation, v2 mode through decode/compute_metrics/render."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from nlpkit.errors import RecipeError
from nlpkit.data import collate
from nlpkit.recipe import load_recipe
from nlpkit.scoring import compute_metrics
from nlpkit.task import Counts, TaskSettings
from nlpkit_qa.readers import Answer, QAExample
from nlpkit_qa.task import QATask

from .test_metric import SQUAD_DIR

RECIPE = Path(__file__).parents[2] / "recipes" / "squad.yaml"


@pytest.mark.skipif(not SQUAD_DIR.exists(), reason=f"no SQuAD data at {SQUAD_DIR}")
def test_squad_recipe_validates(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NLPKIT_DATA", str(SQUAD_DIR.parent))
    recipe = load_recipe(RECIPE)
    assert (recipe.encoder.max_length, recipe.data.window_overlap) == (384, 128)
    with pytest.raises(RecipeError, match=r"squad.yaml: data.window_overlap \(317\) must be smaller"):
        load_recipe(RECIPE, ["data.window_overlap=317"])


def test_v2_mode_decode_metrics_and_render(tokenizer) -> None:
    data = {"max_question_length": 12, "squad_v2": True}
    task = QATask(TaskSettings.of(load_recipe({"task": "qa", "encoder": {"max_length": 32}, "data": data})))
    context = "paris is the capital of france ."
    examples = [
        QAExample("has", "what is the capital of france ?", context, [Answer("paris", 0)]),
        QAExample("none", "what is the capital of peru ?", context, [], is_impossible=True),
    ]
    task.setup(examples)
    assert task.squad_v2 and task.state_dict() == {"squad_v2": True}
    features = task.encode(examples, tokenizer, training=False, counts=Counts())
    outputs = []
    for f in features:
        start, end = np.zeros(len(f["input_ids"])), np.zeros(len(f["input_ids"]))
        if f["example_id"] == 0:  # confident span "paris"
            start[f["context_start"]] = end[f["context_start"]] = 5.0
        else:  # confident null
            start[0] = end[0] = 5.0
        outputs.append({"start_logits": start, "end_logits": end})
    predictions = task.decode(examples, features, outputs)
    assert [p["answer"] for p in predictions] == ["paris", ""]
    metrics = compute_metrics(task, examples, predictions)
    assert metrics["exact"] == metrics["f1"] == metrics["HasAns_f1"] == metrics["NoAns_f1"] == 100.0
    assert "best_f1_thresh" in metrics
    assert json.loads("".join(task.render(examples, predictions, "squad"))) == {"has": "paris", "none": ""}
    record = json.loads(next(task.render(examples, predictions, "jsonl")))
    assert record["gold"] == ["paris"] and record["null_score_diff"] < 0


def test_batches_pad_to_the_recipes_multiple(tokenizer) -> None:
    examples = [QAExample(str(i), "what is the capital of france ?", "paris is the capital of france .",
                          [Answer("paris", 0)]) for i in range(2)]
    batches = []
    for multiple in (1, 8):
        recipe = load_recipe({"task": "qa", "encoder": {"max_length": 32}, "data": {"max_question_length": 12},
                              "train": {"pad_to_multiple_of": multiple}})
        task = QATask(TaskSettings.of(recipe))
        task.setup(examples)
        features = task.encode(examples, tokenizer, training=True, counts=Counts())
        batches.append(collate(task, features, tokenizer, training=True, pad_to_multiple_of=recipe.train.pad_to_multiple_of))
    plain, padded = batches
    width = plain["input_ids"].shape[1]
    assert width % 8 and padded["input_ids"].shape[1] == -(-width // 8) * 8
    for key, value in plain.items():
        assert padded[key][:, :width].equal(value) if value.dim() == 2 else padded[key].equal(value), key
    assert not padded["attention_mask"][:, width:].any()


def test_predict_inputs_of_the_wrong_shape_name_the_missing_key() -> None:
    from nlpkit.errors import NlpkitError

    task = QATask(TaskSettings.of(load_recipe({"task": "qa"})))
    shape = "task qa predicts from {'question': ..., 'context': ...} objects or (question, context) pairs"
    with pytest.raises(NlpkitError) as info:
        task.examples_from_inputs([{"question": "Who?", "context": "Bob."}, {"question": "Who?", "contxt": "Bob."}])
    assert str(info.value) == f"{shape}; no 'context' key (keys: 'question', 'contxt')"
    with pytest.raises(NlpkitError) as info:
        task.examples_from_inputs(["Who went home?"])
    assert str(info.value) == f"{shape}; got 'Who went home?'"
    with pytest.raises(NlpkitError) as info:
        task.examples_from_inputs([{"question": 3, "context": "Bob."}])
    assert str(info.value) == f"{shape} of strings; got {{'question': 3, 'context': 'Bob.'}}"
