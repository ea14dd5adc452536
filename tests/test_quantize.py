"""int8 at predict time: ``nlpkit.load(run, quantize="int8")`` and ``nlpkit predict
--quantize int8`` predict with onnxruntime's int8 graph of the run's model, made once and
cached, and predict (nearly) what the fp32 model predicts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

import nlpkit
from nlpkit.cli import main
from nlpkit.errors import NlpkitError

TEXTS = ["i loved it", "awful and dull", "a great fun movie , truly good", "bad plot , bad actors"]


def test_int8_predicts_with_a_cached_int8_graph_close_to_fp32(tiny_classifier_run: Path, monkeypatch) -> None:
    import nlpkit.export
    from nlpkit.export.onnx import OnnxModel

    fp32 = nlpkit.load(tiny_classifier_run)
    int8 = nlpkit.load(tiny_classifier_run, quantize="int8")
    assert isinstance(int8.model, OnnxModel)
    ours, theirs = fp32.predict(TEXTS), int8.predict(TEXTS)
    assert [p["label"] for p in theirs] == [p["label"] for p in ours]
    worst = max(abs(a["probabilities"][k] - b["probabilities"][k]) for a, b in zip(ours, theirs) for k in a["probabilities"])
    assert 0 < worst < 0.05  # int8 changes the outputs, a little

    def no_export(*args, **kwargs):
        raise AssertionError("exported again")

    monkeypatch.setattr(nlpkit.export, "export", no_export)
    assert nlpkit.load(tiny_classifier_run, quantize="int8").predict(TEXTS) == theirs  # from the cache


def test_an_unknown_quantization_or_an_export_is_refused(tiny_classifier_run: Path, tmp_path: Path) -> None:
    from nlpkit.export import export

    with pytest.raises(NlpkitError, match=r"unknown quantize 'int4'; choose int8"):
        nlpkit.load(tiny_classifier_run, quantize="int4")
    out = export(tiny_classifier_run, tmp_path / "hf")
    with pytest.raises(NlpkitError, match=r"is an export: quantize applies to run directories"):
        nlpkit.load(out, quantize="int8")


def test_nlpkit_predict_quantize_int8_writes_the_int8_models_rows(tiny_classifier_run: Path) -> None:
    result = CliRunner().invoke(main, ["predict", str(tiny_classifier_run), "--input", "-", "--quantize", "int8"],
                                input="\n".join(TEXTS) + "\n")
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    expected = nlpkit.load(tiny_classifier_run, quantize="int8").predict(TEXTS)
    assert [r["probabilities"] for r in rows] == [e["probabilities"] for e in expected]
    wrong = CliRunner().invoke(main, ["predict", str(tiny_classifier_run), "--input", "-", "--quantize", "fp8"], input="x\n")
    assert wrong.exit_code == 2 and "'fp8' is not 'int8'" in wrong.output
