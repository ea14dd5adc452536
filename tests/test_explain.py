"""``nlpkit explain``: integrated-gradients attributions that add up (completeness, within
captum's delta), the attention maps, and the JSON and HTML outputs."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

import nlpkit
from nlpkit.cli import main
from nlpkit.explain import Explanation, explain, write_explanation
from tests.conftest import train_tiny_classifier

pytest.importorskip("captum", reason="captum comes with nlpkit[explain]")


@pytest.fixture(scope="module")
def run_dir(tiny_encoder: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return train_tiny_classifier(tmp_path_factory.mktemp("explain"), tiny_encoder)


@pytest.fixture(scope="module")
def explained(run_dir: Path) -> Explanation:
    return explain(nlpkit.load(run_dir), "wonderful actors and a good story")


def test_attributions_sum_to_the_logit_difference_within_captums_delta(explained: Explanation) -> None:
    difference = explained.logit - explained.baseline_logit
    assert sum(explained.attributions) - difference == pytest.approx(explained.delta, abs=1e-5)
    assert abs(explained.delta) < 1e-3 * max(1.0, abs(difference))
    # [CLS] and [SEP] are the same in the baseline: nothing to attribute to them.
    assert explained.tokens[0] == "[CLS]" and explained.tokens[-1] == "[SEP]"
    assert explained.attributions[0] == explained.attributions[-1] == 0
    assert len(explained.attributions) == len(explained.tokens) and any(explained.attributions[1:-1])


def test_the_explanation_is_of_the_predicted_label(run_dir: Path, explained: Explanation) -> None:
    prediction = nlpkit.load(run_dir).predict("wonderful actors and a good story")
    assert explained.label == prediction["label"]
    assert explained.probability == pytest.approx(prediction["probabilities"][prediction["label"]], abs=1e-5)


def test_attention_maps_per_layer_and_head(explained: Explanation) -> None:
    tokens = len(explained.tokens)
    assert len(explained.attentions) == 2 and all(len(layer) == 2 for layer in explained.attentions)  # tiny BERT
    for layer in explained.attentions:
        for head in layer:
            assert len(head) == tokens and all(sum(row) == pytest.approx(1, abs=1e-4) for row in head)


def test_json_and_html_outputs(explained: Explanation, tmp_path: Path) -> None:
    write_explanation(explained, tmp_path / "e.json")
    assert json.loads((tmp_path / "e.json").read_text(encoding="utf-8"))["tokens"] == explained.tokens
    write_explanation(explained, tmp_path / "e.html")
    page = (tmp_path / "e.html").read_text(encoding="utf-8")
    assert not re.findall(r"""(?:src|href)=["'](?!data:)""", page) and "<script" not in page
    assert page.count('src="data:image/png;base64,') == 2  # a figure per layer
    assert f"{explained.delta:.2e}" in page


def test_nlpkit_explain_prints_json_and_refuses_an_empty_text(run_dir: Path) -> None:
    outcome = CliRunner().invoke(main, ["explain", str(run_dir), "i loved it", "--steps", "8"])
    assert outcome.exit_code == 0, outcome.output
    assert json.loads(outcome.output)["steps"] == 8
    outcome = CliRunner().invoke(main, ["explain", str(run_dir), "   "])
    assert outcome.exit_code == 2 and "empty" in outcome.output.lower()
