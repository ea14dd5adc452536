"""int8 at predict time: ``nlpkit.load(run, quantize="int8")`` and ``nlpkit predict
--quantize int8`` run the encoder's linear layers in int8 and predict (nearly) what the
fp32 model predicts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

import nlpkit
from nlpkit.cli import main
from nlpkit.errors import NlpkitError

TEXTS = ["i loved it", "awful and dull", "a great fun movie , truly good", "bad plot , bad actors"]


def test_int8_quantizes_the_encoder_and_keeps_the_predictions_close(tiny_classifier_run: Path) -> None:
    from torch import nn
    from torch.ao.nn.quantized.dynamic import Linear as Int8Linear

    fp32 = nlpkit.load(tiny_classifier_run)
    int8 = nlpkit.load(tiny_classifier_run, quantize="int8")
    modules = list(int8.model.encoder.modules())
    assert not any(type(m) is nn.Linear for m in modules)  # every linear layer of the encoder...
    assert sum(isinstance(m, Int8Linear) for m in modules) == 2 * 6  # ...is int8: 6 per layer (no pooler: mean pooling)
    assert isinstance(int8.model.head.out, nn.Linear)  # the head stays in float
    assert int8.device == "cpu" and int8.precision == "32"
    ours, theirs = fp32.predict(TEXTS), int8.predict(TEXTS)
    assert [p["label"] for p in theirs] == [p["label"] for p in ours]
    worst = max(abs(a["probabilities"][k] - b["probabilities"][k]) for a, b in zip(ours, theirs) for k in a["probabilities"])
    assert 0 < worst < 0.05  # int8 changes the outputs, a little


def test_an_unknown_quantization_is_refused(tiny_classifier_run: Path) -> None:
    with pytest.raises(NlpkitError, match=r"unknown quantize 'int4'; choose int8"):
        nlpkit.load(tiny_classifier_run, quantize="int4")


def test_nlpkit_predict_quantize_int8_writes_the_quantized_models_rows(tiny_classifier_run: Path) -> None:
    result = CliRunner().invoke(main, ["predict", str(tiny_classifier_run), "--input", "-", "--quantize", "int8"],
                                input="\n".join(TEXTS) + "\n")
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    expected = nlpkit.load(tiny_classifier_run, quantize="int8").predict(TEXTS)
    assert [r["probabilities"] for r in rows] == [e["probabilities"] for e in expected]
    wrong = CliRunner().invoke(main, ["predict", str(tiny_classifier_run), "--input", "-", "--quantize", "fp8"], input="x\n")
    assert wrong.exit_code == 2 and "'fp8' is not 'int8'" in wrong.output
