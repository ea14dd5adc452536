"""Plugin discovery through entry points; errors that name the plugin."""

from __future__ import annotations

import importlib.metadata as md

import pytest
from click.testing import CliRunner

from nlpkit import plugins
from nlpkit.cli import main
from nlpkit.errors import RecipeError


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


class Unfinished(Task):              # no encode, build_head, loss...
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
