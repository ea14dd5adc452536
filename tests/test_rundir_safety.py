"""The run directory is safe: --overwrite deletes only a marked run's own entries, and
never where the user's files are; a run in progress locks its directory; nlpkit says at
once when it could not write; partial files of killed writers are cleaned up."""

from __future__ import annotations

import fcntl
import json
import logging
import os
import subprocess
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

import nlpkit
from nlpkit import rundir
from nlpkit.cli import main
from nlpkit.errors import RecipeError, RunDirError


def cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.stderr


def dead_pid() -> int:
    """The PID of a process that has ended (and been reaped)."""
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


def finished_run(recipe: dict) -> Path:
    recipe["train"]["epochs"] = 1
    return nlpkit.run(recipe).run_dir


# --overwrite


def test_overwrite_refuses_a_directory_that_is_not_a_run_and_deletes_nothing(
    classification_recipe: dict, tmp_path: Path
) -> None:
    mine = tmp_path / "thesis"
    (mine / "chapters").mkdir(parents=True)
    (mine / "notes.txt").write_text("years of work")
    (mine / "model").mkdir()  # a name of the run layout, but not in a run directory
    path = tmp_path / "r.yaml"
    path.write_text(yaml.safe_dump(classification_recipe))
    code, stderr = cli("run", str(path), f"output.dir={mine}", "--overwrite")
    assert code == 2
    assert f"output directory {mine} is not empty and is not an nlpkit run directory" in stderr
    assert "it holds chapters, model, notes.txt" in stderr
    assert sorted(p.name for p in mine.iterdir()) == ["chapters", "model", "notes.txt"]  # not even a lock file


class Messages(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def test_overwrite_replaces_only_the_entries_of_a_run_and_names_what_it_leaves(classification_recipe: dict) -> None:
    out = finished_run(classification_recipe)
    assert json.loads((out / ".nlpkit-run").read_text())["nlpkit"] == nlpkit.__version__
    (out / "my-notes.md").write_text("observations")
    (out / "predictions" / "old.jsonl").write_text("{}\n")
    messages = Messages()
    logging.getLogger("nlpkit").addHandler(messages)
    try:
        nlpkit.run(classification_recipe, overwrite=True)
    finally:
        logging.getLogger("nlpkit").removeHandler(messages)
    assert (out / "my-notes.md").read_text() == "observations"
    assert not (out / "predictions" / "old.jsonl").exists()  # predictions/ is the run's: replaced whole
    assert (out / "metrics.json").exists() and (out / ".nlpkit-run").exists()
    assert f"--overwrite: {out} also holds my-notes.md, not part of a run directory: left in place" in messages.lines


@pytest.mark.parametrize("where", ["data", "recipe", "cwd"])
def test_overwrite_never_deletes_where_the_recipe_the_data_or_the_current_directory_is(
    classification_recipe: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    out = finished_run(classification_recipe)
    recipe: dict | Path = classification_recipe
    if where == "data":
        (out / "data").mkdir()
        train = out / "data" / "train.tsv"
        train.write_text(Path(classification_recipe["data"]["train"]).read_text())
        classification_recipe["data"]["train"] = str(train)
    elif where == "recipe":
        recipe = out / "recipe.yaml"  # the user runs the recipe the run directory keeps
    else:
        monkeypatch.chdir(out / "model")
    before = sorted(p.name for p in out.iterdir())
    with pytest.raises(RunDirError, match=rf"--overwrite: refusing to delete anything in {out}: it is or holds"):
        nlpkit.run(recipe, overwrite=True)
    assert sorted(p.name for p in out.iterdir()) == before


def test_overwrite_refuses_the_home_directory(classification_recipe: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    home = Path(classification_recipe["output"]["dir"])
    home.mkdir()
    (home / ".nlpkit-run").write_text("{}")  # even marked
    monkeypatch.setenv("HOME", str(home))
    with pytest.raises(RunDirError, match=r"refusing to delete anything in .*: it is or holds the home directory"):
        nlpkit.run(classification_recipe, overwrite=True)
    assert (home / ".nlpkit-run").exists()


def test_rerunning_a_finished_run_does_not_point_to_a_resume_that_would_refuse(classification_recipe: dict) -> None:
    out = finished_run(classification_recipe)  # its checkpoints are removed at the end
    with pytest.raises(RunDirError) as again:
        nlpkit.run(classification_recipe)
    assert "continue it with --resume" not in str(again.value)
    assert str(again.value) == (
        f"output directory {out} already holds a run (finished, so --resume has no checkpoints/last.ckpt to "
        "continue from); replace it with --overwrite, or choose another with output.dir=..."
    )
    with pytest.raises(RunDirError, match=r"--resume: .* has no checkpoints/last.ckpt to continue from \(the run "
                                          r"finished\); start it again with --overwrite"):
        nlpkit.run(classification_recipe, resume=True)


# The lock


def hold_lock(out: Path):  # type: ignore[no-untyped-def]
    out.mkdir(parents=True, exist_ok=True)
    handle = (out / ".nlpkit-lock").open("a")
    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    handle.truncate(0)
    handle.write("4242\n")
    handle.flush()
    return handle


@pytest.mark.parametrize("mode", [{}, {"resume": True}, {"overwrite": True}])
def test_a_directory_locked_by_a_run_in_progress_is_refused(classification_recipe: dict, mode: dict) -> None:
    out = Path(classification_recipe["output"]["dir"])
    (out / "checkpoints").mkdir(parents=True)
    (out / ".nlpkit-run").write_text("{}")
    (out / "checkpoints" / "last.ckpt").write_bytes(b"the running run's")
    handle = hold_lock(out)
    with pytest.raises(RunDirError, match=(
        rf"output directory {out} is in use by another nlpkit run \(process 4242 holds {out}/.nlpkit-lock\)"
    )):
        nlpkit.run(classification_recipe, **mode)
    assert (out / "checkpoints" / "last.ckpt").read_bytes() == b"the running run's"
    handle.close()


def test_a_run_holds_the_lock_with_its_pid_and_releases_it_however_it_ends(
    classification_recipe: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    import nlpkit.data

    out = Path(classification_recipe["output"]["dir"])
    seen: list[str] = []

    def read_splits(*args, **kwargs):  # type: ignore[no-untyped-def]
        seen.append((out / ".nlpkit-lock").read_text().strip())
        with pytest.raises(BlockingIOError):
            hold_lock(out)
        raise RecipeError("stop here")

    monkeypatch.setattr(nlpkit.data, "read_splits", read_splits)
    with pytest.raises(RecipeError, match="stop here"):
        nlpkit.run(classification_recipe)
    assert seen == [str(os.getpid())]
    hold_lock(out).close()  # released on the error


# Writable or not, said before any data is read


@pytest.fixture
def no_data_read(monkeypatch: pytest.MonkeyPatch) -> None:
    import nlpkit.data

    def read_splits(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise AssertionError("the data was read")

    monkeypatch.setattr(nlpkit.data, "read_splits", read_splits)


def test_an_output_dir_that_cannot_be_created_is_refused_at_once(
    classification_recipe: dict, tmp_path: Path, no_data_read: None
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    path = tmp_path / "r.yaml"
    path.write_text(yaml.safe_dump(classification_recipe))
    code, stderr = cli("run", str(path), f"output.dir={blocker}/run")
    assert code == 2 and "Traceback" not in stderr
    assert stderr.strip() == (
        f"error: output.dir {blocker}/run cannot be written: {blocker} is a file, not a directory; "
        "choose another with output.dir=..., or make it writable"
    )


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes in read-only directories")
def test_a_read_only_output_dir_is_refused_at_once(
    classification_recipe: dict, tmp_path: Path, no_data_read: None
) -> None:
    parent = tmp_path / "read-only"
    parent.mkdir()
    parent.chmod(0o555)
    try:
        with pytest.raises(RunDirError, match=rf"output.dir {parent}/run cannot be written: a file cannot be created"):
            nlpkit.run(classification_recipe, {"output.dir": str(parent / "run")})
    finally:
        parent.chmod(0o755)


def test_a_feature_cache_that_cannot_be_written_is_a_recipe_error_at_once(
    classification_recipe: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_data_read: None
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv("NLPKIT_CACHE", str(blocker / "cache"))
    with pytest.raises(RecipeError, match=(
        rf"the feature cache {blocker}/cache/features cannot be written: {blocker} is a file, not a directory; "
        r"set data.cache_dir \(or \$NLPKIT_CACHE\) to a writable directory, or turn the cache off"
    )):
        nlpkit.run(classification_recipe)
    assert not Path(classification_recipe["output"]["dir"]).exists()


def test_a_missing_feature_cache_directory_is_created(classification_recipe: dict, tmp_path: Path) -> None:
    classification_recipe["train"]["epochs"] = 1
    classification_recipe["data"]["cache_dir"] = str(tmp_path / "new" / "cache")
    nlpkit.run(classification_recipe)
    assert list((tmp_path / "new" / "cache" / "features").iterdir())


# Partial files of killed writers


def test_partial_files_of_ended_processes_are_removed_when_the_file_is_written_again(tmp_path: Path) -> None:
    target = tmp_path / "predictions.jsonl"
    stale = [tmp_path / f".predictions.jsonl.partial{dead_pid()}", tmp_path / f".predictions.jsonl.partial"
             f"{dead_pid()}-{rundir._HOST}"]
    kept = [
        tmp_path / f".predictions.jsonl.partial{os.getppid()}",  # a process still running
        tmp_path / f".predictions.jsonl.partial{dead_pid()}-another-host",  # its PIDs are not ours to check
        tmp_path / f".other.jsonl.partial{dead_pid()}",  # another file's: cleaned when that one is written
    ]
    for path in stale + kept:
        path.write_text("half")
    assert rundir.write_lines(target, ["a", "b"]) == 2
    assert target.read_text() == "a\nb\n"
    assert [p for p in stale if p.exists()] == [] and all(p.exists() for p in kept)
