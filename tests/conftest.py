"""Shared fixtures: a tiny random BERT, small labelled files, an isolated feature cache.

Tiers (markers registered in pyproject.toml): the default run is in-process; a test that
starts Python in a subprocess (the CLI, signals, DDP, pip install) is marked
`integration`, one that reads a whole data set in ../shared/data or trains on one `slow`.
The default tier runs in parallel (``-n auto``: pytest-xdist), the other two in one process."""

from __future__ import annotations

import os
import random
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("NLPKIT_DATA", REPO.parent / "shared" / "data"))

POSITIVE = ["a great fun movie", "i loved it", "wonderful actors and a good story", "truly good fun"]
NEGATIVE = ["a terrible boring film", "awful and dull", "i hated every minute", "bad plot , bad actors"]


DEFAULT_TIER = "not slow and not integration"  # pyproject's addopts


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """``-n auto`` (pyproject's addopts): the default tier's single-threaded tiny-model tests
    spread over the cores (at most 4 workers: each builds the session fixtures once); the
    integration and slow tiers run in one process, as their tests use every core already."""
    if config.getoption("markexpr") != DEFAULT_TIER:
        return 0
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return min(4, cores)


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NLPKIT_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))


@pytest.fixture(autouse=True)
def _subprocesses_only_in_integration_tests(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep the default tier in-process: a test that starts Python (nlpkit, pip) in a
    subprocess fails unless it is marked integration (or slow)."""
    if request.node.get_closest_marker("integration") or request.node.get_closest_marker("slow"):
        return
    popen_init = subprocess.Popen.__init__

    def guarded(self, args, *rest, **kwargs):  # type: ignore[no-untyped-def]
        first = args.split()[0] if isinstance(args, str) and args.strip() else args
        if not isinstance(first, (str, bytes, os.PathLike)):
            first = next(iter(first), "")
        program = os.path.basename(os.fsdecode(first))
        if os.fsdecode(first) == sys.executable or program.startswith("python") or program in ("nlpkit", "pip", "pip3"):
            pytest.fail(f"{request.node.nodeid} starts a subprocess ({program}): mark it @pytest.mark.integration",
                        pytrace=False)
        popen_init(self, args, *rest, **kwargs)

    monkeypatch.setattr(subprocess.Popen, "__init__", guarded)


@pytest.fixture(autouse=True)
def _slow_tests_use_every_core(request: pytest.FixtureRequest) -> Iterator[None]:
    """The tiny-model tests run on one torch thread (tests/pair and tests/pretrain set it
    for the whole session); a slow test trains MiniLM on real data, as a user would, with
    torch's usual thread count."""
    if not request.node.get_closest_marker("slow"):
        yield
        return
    import torch

    threads = torch.get_num_threads()
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS") or cores))
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def tiny_encoder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from nlpkit.testing import DEFAULT_TEXTS, tiny_bert

    return tiny_bert(tmp_path_factory.mktemp("tiny-bert"), [*DEFAULT_TEXTS, *POSITIVE, *NEGATIVE])


def write_sentiment_tsv(path: Path, n: int, seed: int, header: bool = True) -> Path:
    rng = random.Random(seed)
    lines = ["sentence\tlabel"] if header else []
    for i in range(n):
        if i % 2:
            lines.append(f"{rng.choice(POSITIVE)}\t1")
        else:
            lines.append(f"{rng.choice(NEGATIVE)}\t0")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def train_tiny_classifier(root: Path, encoder: Path, report: bool = False) -> Path:
    """One tiny classification run (24 training sentences, one epoch) under ``root``; its
    run directory. For module-scoped fixtures of tests that load or damage a finished run.
    No report unless asked: its figures take longer than the tiny training."""
    import nlpkit

    recipe = {
        "task": "classification",
        "encoder": {"name": str(encoder), "max_length": 32},
        "data": {"train": str(write_sentiment_tsv(root / "train.tsv", 24, seed=1)),
                 "validation": str(write_sentiment_tsv(root / "dev.tsv", 8, seed=2))},
        "train": {"epochs": 1, "batch_size": 8, "lr": 1e-3, "precision": "32", "seed": 7},
        "output": {"dir": str(root / "run"), "report": report},
    }
    return nlpkit.run(recipe).run_dir


@pytest.fixture(scope="session")
def tiny_classifier_run(tmp_path_factory: pytest.TempPathFactory, tiny_encoder: Path) -> Path:
    """One finished tiny classification run, shared by the tests that only read it (export)."""
    return train_tiny_classifier(tmp_path_factory.mktemp("tiny-classifier"), tiny_encoder)


@pytest.fixture
def sentiment_files(tmp_path: Path) -> dict[str, Path]:
    return {
        "train": write_sentiment_tsv(tmp_path / "train.tsv", 48, seed=1),
        "validation": write_sentiment_tsv(tmp_path / "dev.tsv", 16, seed=2),
    }


@pytest.fixture
def classification_recipe(tiny_encoder: Path, sentiment_files: dict[str, Path], tmp_path: Path) -> dict:
    return {
        "task": "classification",
        "encoder": {"name": str(tiny_encoder), "max_length": 32},
        "data": {
            "train": str(sentiment_files["train"]),
            "validation": str(sentiment_files["validation"]),
            "test": str(sentiment_files["validation"]),
        },
        "train": {"epochs": 2, "batch_size": 8, "lr": 1e-3, "precision": "32", "seed": 7},
        "output": {"dir": str(tmp_path / "run"), "report": False},  # tests/test_report.py covers it
    }


@pytest.fixture
def shared_data_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Recipes read ../shared/data through $NLPKIT_DATA, relative to the repository."""
    monkeypatch.setenv("NLPKIT_DATA", str(SHARED_DATA))
    monkeypatch.chdir(REPO)


def needs_data(name: str) -> pytest.MarkDecorator:
    """Skip where a data set is absent from ../shared/data altogether; a data set that is
    there but lacks a file a recipe names still fails (that is a broken recipe)."""
    return pytest.mark.skipif(not (SHARED_DATA / name).is_dir(), reason=f"no {name} under {SHARED_DATA}")


def recipe_splits(recipe_name: str, *overrides: str):
    """A shipped recipe, its task and its splits as a run would read them."""
    from nlpkit.data import read_splits
    from nlpkit.plugins import get_task
    from nlpkit.recipe import load_recipe
    from nlpkit.task import TaskSettings

    recipe = load_recipe(REPO / "recipes" / recipe_name, list(overrides))
    task = get_task(recipe.task)(TaskSettings.of(recipe))
    return recipe, task, read_splits(task, recipe)
