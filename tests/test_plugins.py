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
