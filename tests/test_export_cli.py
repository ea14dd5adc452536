"""``nlpkit export``: what it refuses (exit code 2, one paragraph naming the directory)
and what ``--overwrite`` replaces; an export that does not reproduce the model is never
written."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from nlpkit.cli import main
from tests.export_helpers import export_meta


@pytest.fixture(scope="module")
def run(tiny_classifier_run: Path) -> Path:
    return tiny_classifier_run


def export(*args: str | Path) -> object:
    return CliRunner().invoke(main, ["export", *map(str, args)])


def test_export_writes_a_directory_and_says_where(run: Path, tmp_path: Path) -> None:
    result = export(run, tmp_path / "out")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == f"export directory: {tmp_path / 'out'}"
    assert export_meta(tmp_path / "out")["format"] == "hf"
    assert [p.name for p in tmp_path.iterdir()] == ["out"]  # nothing left beside it


def test_predict_and_evaluate_take_an_export_as_they_take_the_run(run: Path, tmp_path: Path) -> None:
    from tests.conftest import write_sentiment_tsv

    assert export(run, tmp_path / "out").exit_code == 0
    texts = tmp_path / "texts.txt"
    texts.write_text("i loved it\nawful and dull\n", encoding="utf-8")
    data = write_sentiment_tsv(tmp_path / "dev.tsv", 8, seed=3)
    for command in (["predict", "--input", str(texts)], ["evaluate", "--data", str(data)]):
        results = [CliRunner().invoke(main, [command[0], str(where), *command[1:]]) for where in (run, tmp_path / "out")]
        assert all(r.exit_code == 0 for r in results), [r.output for r in results]
        assert results[0].stdout == results[1].stdout


def test_a_directory_that_is_not_a_finished_run_is_refused(tmp_path: Path) -> None:
    result = export(tmp_path, tmp_path / "out")
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: {tmp_path} is not a finished nlpkit run directory")
    assert not (tmp_path / "out").exists()


def test_a_foreign_directory_is_never_written_into_even_with_overwrite(run: Path, tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    for flags in ([], ["--overwrite"]):
        result = export(run, tmp_path, *flags)
        assert result.exit_code == 2 and "is not an nlpkit export" in result.stderr, result.output
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]


def test_a_run_directory_is_not_an_export_destination(run: Path) -> None:
    result = export(run, run, "--overwrite")
    assert result.exit_code == 2 and "is an nlpkit run directory" in result.stderr


def test_an_earlier_export_is_replaced_only_with_overwrite(run: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert export(run, out).exit_code == 0
    (out / "mine.txt").write_text("kept")
    first = export_meta(out)["created"]
    result = export(run, out)
    assert result.exit_code == 2 and "already holds an export; replace it with --overwrite" in result.stderr
    (out / "config.json").write_text("{}")  # damaged by hand: the new export replaces it
    result = export(run, out, "--overwrite")
    assert result.exit_code == 0, result.output
    assert (out / "mine.txt").read_text() == "kept"
    assert "model_type" in (out / "config.json").read_text() and export_meta(out)["created"] >= first
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_overwrite_never_deletes_in_the_current_directory(run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = export(run, ".", "--overwrite")
    assert result.exit_code == 2 and "refusing to delete anything" in result.stderr


def test_quantize_is_for_onnx_only(run: Path, tmp_path: Path) -> None:
    result = export(run, tmp_path / "out", "--quantize", "int8")
    assert result.exit_code == 2 and "--quantize applies to --format onnx only" in result.stderr


def test_a_task_that_does_not_map_its_head_is_refused(run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from nlpkit.task import Task
    from nlpkit_classification.sequence import SequenceTask

    monkeypatch.setattr(SequenceTask, "hf_head", Task.hf_head)  # the contract's default
    result = export(run, tmp_path / "out")
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        "error: task classification cannot be exported to transformers (its plugin does not map its head)"
    )
    assert list(tmp_path.iterdir()) == []


def test_an_export_that_computes_something_else_is_not_written(
    run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import nlpkit_classification.export as mapping

    real = mapping.sequence_hf_head

    def shifted(head, strategy):  # type: ignore[no-untyped-def]
        spec = real(head, strategy)
        spec.weights["classifier.bias"] = spec.weights["classifier.bias"] + 0.01
        return spec

    monkeypatch.setattr(mapping, "sequence_hf_head", shifted)
    result = export(run, tmp_path / "out")
    assert result.exit_code == 2 and "does not compute what nlpkit's model does: logits differ by" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_a_head_tensor_without_a_place_is_refused(run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import nlpkit_classification.export as mapping

    real = mapping.sequence_hf_head

    def misnamed(head, strategy):  # type: ignore[no-untyped-def]
        spec = real(head, strategy)
        spec.weights["score.weight"] = spec.weights.pop("classifier.weight")
        return spec

    monkeypatch.setattr(mapping, "sequence_hf_head", misnamed)
    result = export(run, tmp_path / "out")
    assert result.exit_code == 2
    assert "no value for classifier.weight; no place for score.weight" in result.stderr
    assert list(tmp_path.iterdir()) == []
