"""The label strategies on their own: ClassLabels (single- and multi-label) and ScaleLabels."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from nlpkit.errors import DataError, RecipeError
from nlpkit.readers import BadRow, Record, find_column, read_examples
from nlpkit_classification.labels import ClassLabels, ScaleLabels, label_order, spread


def test_class_labels_learn_their_order_and_check_unseen_ones() -> None:
    labels = ClassLabels(pattern=r"^([a-z0-9]+)")
    assert [labels.parse(raw, "label") for raw in (" b:x ", 10, "9")] == ["b", "10", "9"]
    labels.setup(["b", "10", "a", "9", None])
    assert labels.labels == ["9", "10", "a", "b"] == sorted(labels.labels, key=label_order)
    assert labels.state_dict() == {"labels": ["9", "10", "a", "b"]}
    assert [labels.target(name) for name in ("9", "b", "zz")] == [0, 3, -100]  # unseen: ignored by the loss
    assert labels.check([(3, "zz"), (4, "a")]) == [
        "1 example(s) have labels unseen in training (zz; lines 3); they stay in the evaluation and count as errors"
    ]
    with pytest.raises(BadRow, match=r"missing label \(key 'label'\)"):
        labels.parse(" ", "label", "key")
    with pytest.raises(BadRow, match="set head.multi_label: true"):
        labels.parse(["a"], "label")
    with pytest.raises(RecipeError, match=r"<recipe>: training labels \['c'\] are not in data.labels \['a', 'b'\]"):
        ClassLabels(["a", "b"]).setup(["a", "c"])
    with pytest.raises(RecipeError, match=r"the training data has 1 label\(s\); need at least 2"):
        ClassLabels().setup(["a", "a"])


def test_class_labels_decode_softmax_and_report_the_positive_class_f1() -> None:
    labels = ClassLabels(positive_f1=True)
    labels.setup(["0", "1"])
    prediction = labels.decode(np.array([0.0, np.log(3.0)], dtype=np.float32))
    assert prediction["label"] == "1" and prediction["probabilities"]["1"] == pytest.approx(0.75)
    assert labels.position(prediction) == pytest.approx(0.5)  # P(last) - P(first) for two labels
    inputs = labels.metric_inputs(["1", "0"], [prediction, prediction])
    assert inputs == {"predictions": ["1", "1"], "references": ["1", "0"], "positive_label": "1"}
    metrics = labels.metric().compute(**inputs)
    assert list(metrics) == ["accuracy", "f1", "macro_f1", "mcc", "per_class"] and metrics["f1"] == pytest.approx(2 / 3)
    assert labels.metric_names() == {"accuracy", "f1", "macro_f1", "mcc"}
    three = ClassLabels(["e", "n", "c"], positive_f1=True)
    assert three.positive_label() is None and "f1" not in three.metric_names()
    with pytest.raises(RecipeError, match=r"data.positive_label 'x' is not a label \(0, 1\)"):
        ClassLabels(positive="x", positive_f1=True).setup(["0", "1"])
    loss = labels.loss(torch.tensor([[0.0, 0.0]]), torch.tensor([1]))
    assert loss.item() == pytest.approx(np.log(2.0))


def test_multi_label_class_labels_use_sets_a_threshold_and_multi_hot_targets() -> None:
    labels = ClassLabels(multi_label=True, threshold=0.4, separator="|")
    assert labels.parse("b| a|b", "label") == ["a", "b"] and labels.parse(["c"], "label") == ["c"]
    labels.setup([["a", "b"], ["c"]])
    assert labels.target(["a", "c"]) == [1.0, 0.0, 1.0]
    prediction = labels.decode(np.array([0.0, -1.0, 3.0]))
    assert prediction["labels"] == ["a", "c"] and set(prediction["probabilities"]) == {"a", "b", "c"}
    assert labels.metric_inputs([["a"]], [prediction])["predictions"] == [["a", "c"]]
    assert labels.metric_names() == {"accuracy", "micro_f1", "macro_f1"} and labels.num_outputs() == 3


def test_scale_labels_standardise_clip_and_restore() -> None:
    scale = ScaleLabels((1.0, 5.0), value_key="rating")
    assert scale.parse(" 4 ", "label") == 4.0 and scale.labels == [] and scale.monitor == "pearson"
    with pytest.raises(BadRow, match=r"label 'x' \(column 'label'\) is not a number \(head.type: regression\)"):
        scale.parse("x", "label")
    with pytest.raises(BadRow, match="is not a finite number"):
        scale.parse("nan", "label")
    scale.setup([1.0, 3.0, None])
    assert scale.state_dict() == {"scale": {"mean": 2.0, "std": 1.0, "low": 1.0, "high": 5.0}}
    assert scale.target(4.0) == 2.0 and scale.num_outputs() == 1
    assert scale.decode(np.array([1.5])) == {"rating": 3.5}
    assert scale.decode(np.array([9.0])) == {"rating": 5.0}  # clipped to the range
    assert scale.position({"rating": 2.0}) == -0.5
    assert scale.check([(7, 6.0), (8, 2.0)]) == [
        "1 label(s) lie outside the range [1, 5] that predictions are clipped to (lines 7); set head.range"
    ]
    restored = ScaleLabels(value_key="rating")
    restored.load_state_dict(scale.state_dict())
    assert restored.decode(np.array([1.5])) == {"rating": 3.5}
    assert scale.metric_inputs([2, 3], [{"rating": 2.5}, {"rating": 3.0}]) == {
        "predictions": [2.5, 3.0], "references": [2.0, 3.0]
    }
    assert scale.loss(torch.tensor([[1.0], [0.0]]), torch.tensor([1.0, 0.0])).item() == 0.0
    with pytest.raises(RecipeError, match="every training label is 2; regression needs varied labels"):
        ScaleLabels().setup([2.0, 2.0])


def test_spread_puts_ordered_labels_on_minus_one_to_one() -> None:
    assert spread(2) == [-1.0, 1.0] and spread(3) == [-1.0, 0.0, 1.0]


def test_read_examples_skips_bad_rows_and_finds_columns(tmp_path: Path) -> None:
    from nlpkit.recipe import DataSection

    class Options(DataSection):
        format: str = "auto"
        header: bool | None = None
        delimiter: str | None = None

    path = tmp_path / "rows.tsv"
    path.write_text("label\tsentence\n1\tgood\n\tblank\n0\tbad\n", encoding="utf-8")

    def convert(record: Record) -> tuple[str, str]:
        column = find_column(record, None, ("text", "sentence"), 1)
        if not record.values["label"]:
            raise BadRow("missing label")
        return record.values[str(column)], record.values["label"]

    with pytest.raises(DataError, match="rows.tsv:3: missing label"):
        read_examples(path, Options(), ("label", "sentence"), convert)
    assert read_examples(path, Options(on_error="skip"), ("label",), convert) == [("good", "1"), ("bad", "0")]
