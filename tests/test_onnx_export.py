"""``nlpkit export --format onnx``: for a tiny trained run of each task family, the graph
computes what the torch model does (max abs difference 1e-4 in fp32, the CRF's tags
equal), and ``nlpkit.load(export).predict`` gives the run's predictions; an int8 export
loads and predicts; a missing or damaged graph is a clear error.

The default tier covers a head that returns a tensor (classification) and one that
returns a dict and finishes in Python (NER with a CRF); the integration tier exports the
other families (pair, rating scale, QA) through the ``nlpkit export`` command."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any, Callable

import pytest
import torch
from click.testing import CliRunner

import nlpkit
from nlpkit.errors import NlpkitError, RunDirError
from nlpkit.export import export
from nlpkit.rundir import ExportDir
from tests.conftest import NEGATIVE, POSITIVE, train_tiny_classifier, write_sentiment_tsv
from tests.ner.conftest import toy_sentences, write_conll
from tests.pair.conftest import write_pairs_tsv, write_ratings_jsonl
from tests.qa.conftest import make_rows, squad_json

TOLERANCE = 1e-4
TRAIN = {"epochs": 1, "batch_size": 8, "lr": 1e-3, "precision": "32", "seed": 3}
QUIET = {"enable_progress_bar": False}


def _pair(root: Path) -> dict[str, Any]:
    return {"task": "pair", "data": {"train": str(write_pairs_tsv(root / "train.tsv", 16, seed=1))}}


def _rating(root: Path) -> dict[str, Any]:
    return {"task": "sentiment", "head": {"type": "regression", "range": [1, 5]},
            "data": {"train": str(write_ratings_jsonl(root / "train.jsonl", 16, seed=1))}}


def _ner(root: Path) -> dict[str, Any]:
    return {"task": "ner", "head": {"crf": True},
            "data": {"train": str(write_conll(root / "train.txt", toy_sentences(16)))}}


def _qa(root: Path) -> dict[str, Any]:
    (root / "train.json").write_text(json.dumps(squad_json(make_rows(8))), encoding="utf-8")
    return {"task": "qa", "data": {"train": str(root / "train.json"), "window_overlap": 8, "max_question_length": 12}}


RECIPES: dict[str, Callable[[Path], dict[str, Any]]] = {"pair": _pair, "rating": _rating, "ner": _ner, "qa": _qa}
INPUTS: dict[str, list[Any]] = {
    "classification": [*POSITIVE, *NEGATIVE, "the plot is a mess and the jokes fall flat , " * 4],
    "pair": [("the movie was great", "the film was wonderful"), ("i loved it", "a terrible boring film")],
    "rating": ["a great fun movie", "dull and slow", "awful , bad plot , i hated every minute"],
    "ner": [("Alice", "Smith", "visited", "Paris", "."), "yesterday Bob flew to New York .",
            " ".join(["in London , Carol Jones met friends ."] * 6)],  # longer than one window
    "qa": [{"question": row["question"], "context": row["context"]} for row in make_rows(3, offset=2)],
}


class Runs:
    """Tiny trained runs by task family, each trained when first asked for (one epoch: a
    trained head is not needed to compare two engines, only a saved one)."""

    def __init__(self, root: Path, encoder: Path) -> None:
        self.root, self.encoder, self.made = root, encoder, {}

    def __getitem__(self, family: str) -> Path:
        if family not in self.made:
            folder = self.root / family
            folder.mkdir()
            self.made[family] = train_tiny_classifier(folder, self.encoder) if family == "classification" \
                else nlpkit.run(self.recipe(family, folder)).run_dir
        return self.made[family]

    def recipe(self, family: str, folder: Path) -> dict[str, Any]:
        recipe = RECIPES[family](folder)
        recipe["data"]["cache"] = False
        max_length = 12 if family == "ner" else 48  # NER: long sentences go into windows
        return recipe | {"encoder": {"name": str(self.encoder), "max_length": max_length}, "train": TRAIN,
                         "trainer": QUIET, "output": {"dir": str(folder / "run"), "report": False}}


class Exports(dict):  # type: ignore[type-arg]
    """ONNX exports of the runs, by family, each made when first asked for."""

    def __init__(self, runs: Runs, root: Path) -> None:
        super().__init__()
        self.runs, self.root = runs, root

    def __missing__(self, family: str) -> Path:
        self[family] = export(self.runs[family], self.root / family, format="onnx")
        return self[family]


@pytest.fixture(scope="module")
def runs(tiny_encoder: Path, tmp_path_factory: pytest.TempPathFactory) -> Runs:
    return Runs(tmp_path_factory.mktemp("onnx-runs"), tiny_encoder)


@pytest.fixture(scope="module")
def exports(runs: Runs, tmp_path_factory: pytest.TempPathFactory) -> Exports:
    return Exports(runs, tmp_path_factory.mktemp("onnx-exports"))


def head_outputs(predictor: Any, inputs: list[Any]) -> list[Any]:
    """The model's outputs (the head's, before decoding) batch by batch."""
    from nlpkit.data import encode, eval_loader

    features = encode(predictor.task, predictor.examples_from_inputs(inputs), predictor.tokenizer, training=False)
    loader = eval_loader(predictor.task, features, predictor.tokenizer, 4)
    with torch.inference_mode():
        return [predictor.model(batch) for batch in loader]


def tensors(output: Any) -> dict[str, torch.Tensor]:
    return dict(output) if isinstance(output, dict) else {"output": output}


def split_floats(value: Any) -> tuple[Any, list[float]]:
    """A prediction with every float taken out: (what is left, the floats in order)."""
    if isinstance(value, float):
        return None, [value]
    if isinstance(value, dict):
        parts = {k: split_floats(v) for k, v in value.items()}
        return {k: p[0] for k, p in parts.items()}, [f for p in parts.values() for f in p[1]]
    if isinstance(value, (list, tuple)):
        parts = [split_floats(v) for v in value]
        return [p[0] for p in parts], [f for p in parts for f in p[1]]
    return value, []


def assert_same_model(run: Path, exported: Path, family: str) -> None:
    """The export's head outputs match the run's (floats within TOLERANCE, the CRF's tags
    equal), and so do its predictions (labels, spans, answers equal; scores within TOLERANCE)."""
    torch_model, onnx_model = nlpkit.load(run), nlpkit.load(exported)
    assert type(onnx_model.model).__name__ == "OnnxModel"
    for ours, theirs in zip(head_outputs(torch_model, INPUTS[family]), head_outputs(onnx_model, INPUTS[family]), strict=True):
        ours, theirs = tensors(ours), tensors(theirs)
        assert ours.keys() == theirs.keys()
        for name, tensor in ours.items():
            if tensor.is_floating_point():
                assert (tensor - theirs[name]).abs().max().item() <= TOLERANCE, name
            else:  # the CRF's Viterbi tags, decoded in Python after the graph
                assert torch.equal(tensor, theirs[name]), name

    expected, got = torch_model.predict(INPUTS[family]), onnx_model.predict(INPUTS[family])
    assert [split_floats(p)[0] for p in got] == [split_floats(p)[0] for p in expected]
    assert sum((split_floats(p)[1] for p in got), []) == pytest.approx(
        sum((split_floats(p)[1] for p in expected), []), abs=TOLERANCE)


# One head returning a tensor, one returning a dict with a step in Python after the graph.
@pytest.mark.parametrize("family", ["classification", "ner"])
def test_the_graph_computes_what_the_model_does(runs: Runs, exports: Exports, family: str) -> None:
    assert_same_model(runs[family], exports[family], family)


@pytest.mark.integration
@pytest.mark.parametrize("family", ["pair", "rating", "qa"])
def test_nlpkit_export_makes_a_graph_of_every_other_family(runs: Runs, family: str, tmp_path: Path) -> None:
    import subprocess
    import sys

    from tests.helpers import child_env

    out = tmp_path / family
    done = subprocess.run([sys.executable, "-m", "nlpkit", "export", str(runs[family]), str(out), "--format", "onnx"],
                          capture_output=True, text=True, env=child_env(), timeout=600)
    assert done.returncode == 0, done.stderr
    assert_same_model(runs[family], out, family)


def test_the_export_says_what_it_holds(exports: Exports) -> None:
    meta = json.loads(ExportDir(exports["ner"]).meta.read_text(encoding="utf-8"))
    assert meta["format"] == "onnx" and meta["onnx"]["opset"] == 17
    assert meta["onnx"]["inputs"] == ["input_ids", "attention_mask", "token_type_ids"]
    assert meta["onnx"]["outputs"] == ["logits"] and meta["onnx"]["finish_in_python"] is True
    assert meta["onnx"]["max_abs_difference"] <= TOLERANCE
    assert "Attention" in meta["onnx"]["fused"]
    assert json.loads(ExportDir(exports["classification"]).meta.read_text())["labels"] == ["0", "1"]


def test_loading_an_export_reads_no_torch_weights(exports: Exports, monkeypatch: pytest.MonkeyPatch) -> None:
    import transformers

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the ONNX path loaded the torch encoder")

    monkeypatch.setattr(transformers.AutoModel, "from_pretrained", refuse)
    for family in ("classification", "ner"):
        assert len(nlpkit.load(exports[family]).predict(INPUTS[family])) == len(INPUTS[family])


def test_evaluate_scores_an_export_as_it_scores_the_run(runs: Runs, exports: Exports, tmp_path: Path) -> None:
    from nlpkit.cli import main

    data = write_sentiment_tsv(tmp_path / "dev.tsv", 12, seed=5)
    scores = []
    for target in (runs["classification"], exports["classification"]):
        result = CliRunner().invoke(main, ["evaluate", str(target), "--data", str(data)])
        assert result.exit_code == 0, result.output
        scores.append(json.loads(result.stdout[result.stdout.index("{"):]))
    assert scores[0] == scores[1]  # metrics come from the labels: the same labels, the same metrics


def test_the_predict_command_runs_an_export(runs: Runs, exports: Exports, tmp_path: Path) -> None:
    from nlpkit.cli import main

    texts = tmp_path / "texts.txt"
    texts.write_text("\n".join(INPUTS["classification"]) + "\n", encoding="utf-8")
    rows = []
    for target in (runs["classification"], exports["classification"]):
        result = CliRunner().invoke(main, ["predict", str(target), "--input", str(texts)])
        assert result.exit_code == 0, result.output
        rows.append([json.loads(line) for line in result.stdout.splitlines()])
    assert [(r["line"], r["label"]) for r in rows[1]] == [(r["line"], r["label"]) for r in rows[0]]
    assert len(rows[0]) == len(INPUTS["classification"])


def test_an_int8_export_loads_and_predicts(runs: Runs, tmp_path: Path) -> None:
    import onnx

    out = export(runs["classification"], tmp_path / "int8", format="onnx", quantize="int8")
    ops = {node.op_type for node in onnx.load(str(ExportDir(out).onnx_model)).graph.node}
    assert {"DynamicQuantizeLinear", "MatMulInteger"} & ops  # the matrix products run in int8
    meta = json.loads(ExportDir(out).meta.read_text(encoding="utf-8"))
    assert meta["quantize"] == "int8" and meta["onnx"]["max_abs_difference"] >= 0
    predictions = nlpkit.load(out).predict(INPUTS["classification"])
    assert len(predictions) == len(INPUTS["classification"])
    assert {p["label"] for p in predictions} <= {"0", "1"}


def test_a_missing_or_damaged_graph_is_a_clear_error(exports: Exports, tmp_path: Path) -> None:
    broken = shutil.copytree(exports["classification"], tmp_path / "broken")
    graph = ExportDir(broken).onnx_model
    graph.unlink()
    with pytest.raises(RunDirError, match=r"model\.onnx is missing.*export the run again"):
        nlpkit.load(broken)
    graph.write_bytes(b"\x08\x07this is not a protobuf")
    with pytest.raises(RunDirError, match=r"model\.onnx is not a loadable ONNX graph .*export the run again"):
        nlpkit.load(broken)


def test_a_head_that_reads_more_than_the_encoder_inputs_is_refused() -> None:
    from types import SimpleNamespace

    from nlpkit.export.onnx import graph_outputs

    class MaskedHead(torch.nn.Module):  # as pre-training's, which scores the masked positions only
        def forward(self, encoder_output: Any, batch: dict[str, torch.Tensor]) -> torch.Tensor:
            return encoder_output.last_hidden_state[batch["labels"] != -100]

    encoder = lambda **inputs: SimpleNamespace(last_hidden_state=torch.zeros(1, 3, 4))  # noqa: E731
    predictor = SimpleNamespace(model=SimpleNamespace(encoder=encoder, head=MaskedHead()),
                                task=SimpleNamespace(name="pretrain"))
    with pytest.raises(NlpkitError, match=r"task pretrain: its head reads 'labels' .*no ONNX export"):
        graph_outputs(predictor, {"input_ids": torch.zeros(1, 3, dtype=torch.long)})  # type: ignore[arg-type]
