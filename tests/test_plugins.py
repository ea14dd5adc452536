"""Plugin discovery through entry points; errors that name the plugin."""

from __future__ import annotations

import importlib.metadata as md
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from nlpkit import plugins
from nlpkit.cli import main
from nlpkit.errors import PluginError, RecipeError


@pytest.fixture
def fresh_registry():
    plugins.reload()
    yield
    plugins.reload()


def test_builtin_plugins_register_through_entry_points(fresh_registry) -> None:
    reg = plugins.registry()
    assert reg.task_plugin["classification"] == "classification"
    assert "minilm" in reg.encoders
    assert plugins.get_task("classification").name == "classification"


def test_unknown_task_lists_the_registered_names(fresh_registry) -> None:
    with pytest.raises(RecipeError, match=r"registered tasks: .*classification"):
        plugins.get_task("sentimentt")


def test_a_plugin_that_fails_to_import_is_reported_by_name(fresh_registry, monkeypatch, capsys) -> None:
    real = md.entry_points

    def with_broken(*args, **kwargs):
        found = list(real(*args, **kwargs))
        if kwargs.get("group") == plugins.ENTRY_POINT_GROUP:
            found.append(md.EntryPoint("broken", "nlpkit_no_such_module_xyz", plugins.ENTRY_POINT_GROUP))
        return found

    monkeypatch.setattr(md, "entry_points", with_broken)
    reg = plugins.reload()
    assert "No module named 'nlpkit_no_such_module_xyz'" in reg.plugins["broken"].error
    assert "plugin 'broken'" in capsys.readouterr().err
    assert "classification" in reg.tasks  # the others still load
    with pytest.raises(RecipeError, match=r"plugins that failed to load: broken"):
        plugins.get_task("nosuch")
    result = CliRunner().invoke(main, ["plugins"])
    assert result.exit_code == 1
    assert "broken" in result.output and "FAILED" in result.output


def test_plugins_command_lists_versions_and_tasks(fresh_registry) -> None:
    result = CliRunner().invoke(main, ["plugins"])
    assert result.exit_code == 0, result.output
    line = next(l for l in result.output.splitlines() if l.startswith("classification "))
    assert "0.1.0" in line and "tasks: classification" in line


BAD_PLUGINS = '''
from nlpkit import hookimpl
from nlpkit_classification.task import ClassificationTask
from nlpkit.task import Task


class Clash(ClassificationTask):
    name = "classification"          # a built-in's name


class Unfinished(Task):              # no encode, build_head, metric...
    name = "unfinished"
    monitor = "accuracy"


class NoMonitor(ClassificationTask):
    name = "nomonitor"


class Fine(ClassificationTask):
    name = "fine"


class clash:
    @hookimpl
    def register_tasks(register):
        register(Fine)
        register(Clash)


class unfinished:
    @hookimpl
    def register_tasks(register):
        register(Unfinished)


class nomonitor:
    @hookimpl
    def register_tasks(register):
        NoMonitor.monitor = None
        register(NoMonitor)


class notatask:
    @hookimpl
    def register_tasks(register):
        register("classification")


class misspelt:
    @hookimpl
    def register_task(register):  # not a hook of nlpkit's
        register(Fine)


class hijack:
    @hookimpl
    def register_encoders(register):
        register("minilm", lambda: "/nowhere")
'''


def test_a_plugin_that_breaks_the_contract_fails_alone_and_says_why(
    fresh_registry, monkeypatch, tmp_path, capsys
) -> None:
    (tmp_path / "nlpkit_bad_plugins.py").write_text(BAD_PLUGINS)
    monkeypatch.syspath_prepend(str(tmp_path))
    names = ("clash", "unfinished", "nomonitor", "notatask", "misspelt", "hijack")
    real = md.entry_points

    def with_bad(*args, **kwargs):
        found = list(real(*args, **kwargs))
        if kwargs.get("group") == plugins.ENTRY_POINT_GROUP:
            found += [md.EntryPoint(n, f"nlpkit_bad_plugins:{n}", plugins.ENTRY_POINT_GROUP) for n in names]
        return found

    monkeypatch.setattr(md, "entry_points", with_bad)
    reg = plugins.reload()
    errors = {n: reg.plugins[n].error for n in names}
    assert errors["clash"] == (
        "registers names already taken: task 'classification' (plugin 'classification'); nothing of it was loaded"
    )
    assert "fine" not in reg.tasks and reg.task_plugin["classification"] == "classification"
    assert errors["unfinished"].startswith("task 'unfinished' (Unfinished) does not implement build_head, ")
    assert errors["nomonitor"].startswith("task 'nomonitor' (NoMonitor) sets no monitor")
    assert errors["notatask"] == "register_tasks registered 'classification', which is not a subclass of nlpkit.task.Task"
    assert "register_task" in errors["misspelt"] and "nlpkit's hooks: register_commands, register_encoders, register_tasks" in errors["misspelt"]
    assert "encoder alias 'minilm' (plugin 'nlpkit.encoders')" in errors["hijack"]
    assert plugins.resolve_encoder("minilm") != "/nowhere"
    # Every other plugin still loads, and every failure is said on stderr by name.
    assert {"classification", "ner", "qa", "pretrain", "pair", "nsp", "sentiment"} <= set(reg.tasks)
    stderr = capsys.readouterr().err
    assert all(f"plugin '{n}'" in stderr for n in names)


# -- the contract's other checks: the head's loss, the metric ---------------------------------
def test_a_head_without_loss_is_refused_before_training(tiny_encoder: Path) -> None:
    from torch import nn
    from transformers import AutoModel

    from nlpkit.model import TaskModel
    from nlpkit.module import TaskModule
    from nlpkit.recipe import TrainSection, load_recipe
    from nlpkit.task import TaskSettings

    task = plugins.get_task("classification")(TaskSettings.of(load_recipe({"task": "classification"})))
    model = TaskModel(AutoModel.from_pretrained(tiny_encoder), nn.Linear(2, 2))
    with pytest.raises(PluginError, match=r"task classification: its head \(Linear\) has no loss\(output, batch\)"):
        TaskModule(task, model, TrainSection())


def test_a_metric_must_be_an_evaluate_metric() -> None:
    from nlpkit.recipe import load_recipe
    from nlpkit.scoring import compute_metrics
    from nlpkit.task import TaskSettings
    from nlpkit_classification.task import ClassificationTask, TextExample

    class NotEvaluate(ClassificationTask):
        def metric(self):  # type: ignore[override]
            return lambda **inputs: {"accuracy": 1.0}

    task = NotEvaluate(TaskSettings.of(load_recipe({"task": "classification"})))
    task.setup([TextExample("a", "x"), TextExample("b", "y")])
    with pytest.raises(PluginError, match=r"task classification: metric\(\) returned function, not an evaluate\.Metric"):
        compute_metrics(task, [TextExample("a", "x")], [{"label": "x"}])


# -- what prediction and recipe checks import: never evaluate or a plugin's metric -------------
def metric_modules(imported: list[str]) -> list[str]:
    """``evaluate`` and its submodules, and the plugins' metric modules, among ``imported``."""
    return sorted(m for m in imported if m.split(".")[0] == "evaluate" or m.endswith(".metric"))


def imported_modules(importtime_stderr: str) -> list[str]:
    """The modules a ``python -X importtime`` run imported, from its report on stderr."""
    prefix = "import time:"
    return [line.rsplit("|", 1)[1].strip() for line in importtime_stderr.splitlines() if line.startswith(prefix)]


def python(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *args], cwd=cwd, capture_output=True, text=True, timeout=600)


@pytest.mark.integration  # fresh interpreters: the test run itself has imported evaluate long ago
def test_prediction_from_a_finished_run_never_imports_evaluate(classification_recipe: dict, tmp_path: Path) -> None:
    import nlpkit

    run_dir = nlpkit.run(classification_recipe).run_dir
    api = python("-c", (
        "import json, sys, nlpkit\n"
        f"predictor = nlpkit.load({str(run_dir)!r})\n"
        "print(predictor.predict(['a great fun movie', 'awful and dull'])[0]['label'])\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    ), cwd=tmp_path)
    assert api.returncode == 0, api.stderr[-2000:]
    label, modules = api.stdout.splitlines()[-2:]
    assert label in ("0", "1")
    assert "nlpkit_classification.task" in modules and metric_modules(json.loads(modules)) == []

    (tmp_path / "in.txt").write_text("a great fun movie\nawful and dull\n", encoding="utf-8")
    cli = python("-X", "importtime", "-m", "nlpkit", "predict", str(run_dir), "--input", "in.txt", cwd=tmp_path)
    assert cli.returncode == 0, cli.stderr[-2000:]
    assert [json.loads(line)["line"] for line in cli.stdout.splitlines()] == [1, 2]
    imported = imported_modules(cli.stderr)
    assert "nlpkit.predictor" in imported and metric_modules(imported) == []


@pytest.mark.integration
def test_recipe_check_never_imports_evaluate(tmp_path: Path) -> None:
    recipe = tmp_path / "ner.yaml"
    recipe.write_text(yaml.safe_dump({"task": "ner", "train": {"monitor": "macro_f1"}}))
    cli = python("-X", "importtime", "-m", "nlpkit", "recipe", "check", str(recipe), cwd=tmp_path)
    assert cli.returncode == 0, cli.stderr[-2000:]
    imported = imported_modules(cli.stderr)
    assert "nlpkit_ner.task" in imported and metric_modules(imported) == []
    # Every task's recipe, its monitor checked against metric_names (the classes of every plugin imported).
    every = python("-c", (
        "import json, sys\n"
        "from nlpkit.plugins import registry\n"
        "from nlpkit.recipe import load_recipe\n"
        "for name, cls in registry().tasks.items():\n"
        "    load_recipe({'task': name, 'train': {'monitor': cls.monitor}})\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    ), cwd=tmp_path)
    assert every.returncode == 0, every.stderr[-2000:]
    modules = json.loads(every.stdout.splitlines()[-1])
    assert {"nlpkit_qa.task", "nlpkit_pretrain.task", "nlpkit_pair.nsp"} <= set(modules)
    assert metric_modules(modules) == []
