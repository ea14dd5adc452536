"""``nlpkit explain`` of a classifier: integrated-gradients attributions that add up
(completeness, within captum's delta), the attention maps, and the JSON and HTML outputs.
NER and QA: tests/ner/test_explain_ner.py, tests/qa/test_explain_qa.py."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

import nlpkit
from nlpkit.cli import main
from nlpkit.explain import Explanation, write_explanation
from nlpkit.task import Counts
from tests.conftest import train_tiny_classifier

pytest.importorskip("captum", reason="captum comes with nlpkit[explain]")


@pytest.fixture(scope="module")
def run_dir(tiny_encoder: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return train_tiny_classifier(tmp_path_factory.mktemp("explain"), tiny_encoder)


@pytest.fixture(scope="module")
def explained(run_dir: Path) -> Explanation:
    return nlpkit.load(run_dir).explain("wonderful actors and a good story")


def assert_complete(explained: Explanation) -> None:
    """Each target's attributions sum to its value's rise from the baseline, within
    captum's delta, and nothing is attributed to [CLS] and [SEP] (kept in the baseline)."""
    for target in explained.targets:
        difference = target.value - target.baseline_value
        assert sum(target.attributions) - difference == pytest.approx(target.delta, abs=1e-5)
        assert abs(target.delta) < 1e-3 * max(1.0, abs(difference))
        assert explained.tokens[0] == "[CLS]" and explained.tokens[-1] == "[SEP]"
        assert target.attributions[0] == target.attributions[-1] == 0
        assert len(target.attributions) == len(explained.tokens) and any(target.attributions[1:-1])


def test_attributions_sum_to_the_logit_difference_within_captums_delta(explained: Explanation) -> None:
    assert len(explained.targets) == 1
    assert_complete(explained)


def test_the_explanation_is_of_the_predicted_label(run_dir: Path, explained: Explanation) -> None:
    predictor = nlpkit.load(run_dir)
    prediction = predictor.predict("wonderful actors and a good story")
    assert explained.prediction == prediction
    assert explained.targets[0].target == f"label {prediction['label']}"
    # The explained value is the largest of the head's outputs for the input: the predicted label's logit.
    examples = predictor.examples_from_inputs(["wonderful actors and a good story"])
    row = predictor.infer(predictor.task.encode(examples, predictor.tokenizer, training=False, counts=Counts()))[0]
    assert explained.targets[0].value == pytest.approx(float(max(row)), abs=1e-5)
    assert predictor.explain("wonderful actors and a good story", steps=4).targets[0].target == explained.targets[0].target


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
    # Self-contained: no file or address beyond data: URIs; its one script is inline, and
    # its head view carries the tokens and every layer's attention.
    assert not re.findall(r"""(?:src|href)=["'](?!data:)""", page) and "<script src" not in page
    view = json.loads(html.unescape(re.search(r'<script type="application/json" id="hv-data">(.*?)</script>', page, re.S)[1]))
    assert view["tokens"] == explained.tokens and len(view["attentions"]) == len(explained.attentions)
    assert page.count('src="data:image/png;base64,') == 2  # a figure per layer
    assert f"{explained.targets[0].delta:.2e}" in page and explained.targets[0].target in page


def test_nlpkit_explain_prints_json_and_refuses_an_empty_text(run_dir: Path) -> None:
    outcome = CliRunner().invoke(main, ["explain", str(run_dir), "i loved it", "--steps", "8"])
    assert outcome.exit_code == 0, outcome.output
    assert json.loads(outcome.output)["steps"] == 8
    outcome = CliRunner().invoke(main, ["explain", str(run_dir), "   "])
    assert outcome.exit_code == 2 and "empty" in outcome.output.lower()
