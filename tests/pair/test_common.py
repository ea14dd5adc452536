"""What sentiment and pairs share: label maps and the strategy that head.type picks."""

from __future__ import annotations

import pytest

from nlpkit.plugins import get_task
from nlpkit.readers import BadRow
from nlpkit.recipe import build_recipe
from nlpkit.task import TaskSettings
from nlpkit_classification.labels import ClassLabels, ScaleLabels
from nlpkit_pair.common import ScoredHead, map_label, scored_labels


def test_map_label_maps_refuses_unknown_and_missing_labels() -> None:
    assert map_label({"0": "negative"}, 0, "label", "column") == "negative"
    assert map_label(None, " 3 ", "label", "column") == " 3 "  # unchanged without a map
    with pytest.raises(BadRow, match=r"label '7' \(key 'label'\) is not in data.label_map \(0, 1\)"):
        map_label({"0": "a", "1": "b"}, 7, "label", "key")
    with pytest.raises(BadRow, match=r"missing label \(column 'Quality'\)"):
        map_label({"0": "a"}, "", "Quality", "column")


def test_head_type_picks_the_strategy_once() -> None:
    classes = ClassLabels()
    assert scored_labels(ScoredHead(), lambda: classes, value_key="score", source="r") is classes
    scale = scored_labels(ScoredHead(type="regression", range=(0, 5)), lambda: classes, value_key="score", source="r")
    assert isinstance(scale, ScaleLabels) and scale.bounds == (0, 5)


@pytest.mark.parametrize(
    ("name", "head", "strategy", "monitor"),
    [
        ("sentiment", {}, ClassLabels, "accuracy"),
        ("sentiment", {"type": "regression"}, ScaleLabels, "pearson"),
        ("pair", {}, ClassLabels, "accuracy"),
        ("pair", {"type": "regression"}, ScaleLabels, "pearson"),
        ("nsp", {}, ClassLabels, "nsp_accuracy"),
    ],
)
def test_each_task_holds_its_strategy(name: str, head: dict, strategy: type, monitor: str) -> None:
    task = get_task(name)(TaskSettings.of(build_recipe({"task": name, "head": head}, check_paths=False)))
    assert isinstance(task.strategy, strategy) and task.monitor == monitor
