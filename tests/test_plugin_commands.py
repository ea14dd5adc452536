"""Plugin commands (``register_commands``): they run like the core's, fail alone, and
leave ``nlpkit --help`` light."""

from __future__ import annotations

import importlib.metadata as md
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from nlpkit import plugins
from nlpkit.cli import main
from tests.conftest import write_sentiment_tsv

DOCS = Path(__file__).resolve().parents[1] / "docs" / "plugins.md"

PLUGINS = '''
import click
from nlpkit import hookimpl
from nlpkit.errors import RecipeError
from nlpkit_classification.task import ClassificationTask


class Own(ClassificationTask):
    name = "own"


class tools:
    @hookimpl
    def register_commands(cli):
        @cli.command()
        def fails():
            """Raises an nlpkit error."""
            raise RecipeError("a recipe went wrong")

        @cli.command()
        def stops():
            """Ctrl-C."""
            raise KeyboardInterrupt


class raises:
    @hookimpl
    def register_tasks(register):
        register(Own)

    @hookimpl
    def register_commands(cli):
        @cli.command()
        def first():
            pass
        raise RuntimeError("no commands today")


class takes_run:
    @hookimpl
    def register_commands(cli):
        @cli.command()
        def run():
            pass


class takes_fails:
    @hookimpl
    def register_commands(cli):
        @cli.command()
        def fails():
            pass


class takes_nsp_score:
    @hookimpl
    def register_commands(cli):
        @cli.command("nsp-score")
        def mine():
            pass


class not_a_command:
    @hookimpl
    def register_commands(cli):
        cli.commands["odd"] = print
'''


def fake_plugins(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, module: str, source: str, entry_points: dict[str, str]
) -> plugins.Registry:
    """``module`` written from ``source``, and entry points (name: value) as an installed
    plugin would have; the registry loaded with them."""
    (tmp_path / f"{module}.py").write_text(source)
    monkeypatch.syspath_prepend(str(tmp_path))
    real = md.entry_points

    def with_fakes(*args, **kwargs):
        found = list(real(*args, **kwargs))
        if kwargs.get("group") == plugins.ENTRY_POINT_GROUP:
            found += [md.EntryPoint(n, value, plugins.ENTRY_POINT_GROUP) for n, value in entry_points.items()]
        return found

    monkeypatch.setattr(md, "entry_points", with_fakes)
    return plugins.reload()


@pytest.fixture
def fresh_registry():
    plugins.reload()
    yield
    plugins.reload()


def documented_example() -> str:
    section = DOCS.read_text(encoding="utf-8").split("## 5. Adding commands", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_the_documented_example_runs_as_a_command(fresh_registry, monkeypatch, tmp_path) -> None:
    fake_plugins(monkeypatch, tmp_path, "nlpkit_wordcount", documented_example(), {"wordcount": "nlpkit_wordcount"})
    runner = CliRunner()
    listing = runner.invoke(main, ["-h"])
    assert listing.exit_code == 0
    assert "word-count" in listing.output.split("Plugin commands:")[1]
    notes = tmp_path / "notes.txt"
    notes.write_text("three little words\nand two\n", encoding="utf-8")
    counted = runner.invoke(main, ["word-count", str(notes)])
    assert (counted.exit_code, counted.output) == (0, "5\n")
    assert "Count the words of PATH" in runner.invoke(main, ["word-count", "-h"]).output
    empty = tmp_path / "empty.txt"
    empty.write_text("\n")
    failed = runner.invoke(main, ["word-count", str(empty)])
    assert failed.exit_code == 2 and failed.stderr == f"error: {empty}: no words\n"
    line = next(l for l in runner.invoke(main, ["plugins"]).output.splitlines() if l.startswith("wordcount "))
    assert line.endswith("commands: word-count")


def test_plugin_commands_report_errors_and_ctrl_c_like_the_core(fresh_registry, monkeypatch, tmp_path) -> None:
    fake_plugins(monkeypatch, tmp_path, "nlpkit_cmd_plugins", PLUGINS, {"tools": "nlpkit_cmd_plugins:tools"})
    runner = CliRunner()
    failed = runner.invoke(main, ["fails"])
    assert (failed.exit_code, failed.stderr) == (2, "error: a recipe went wrong\n")
    stopped = runner.invoke(main, ["stops"])
    assert (stopped.exit_code, stopped.stderr) == (130, "stopped: interrupted (Ctrl-C)\n")


def test_a_plugin_whose_commands_break_the_contract_fails_alone(fresh_registry, monkeypatch, tmp_path, capsys) -> None:
    names = ("tools", "raises", "takes_run", "takes_fails", "takes_nsp_score", "not_a_command")
    reg = fake_plugins(monkeypatch, tmp_path, "nlpkit_cmd_plugins", PLUGINS, {n: f"nlpkit_cmd_plugins:{n}" for n in names})
    errors = {n: reg.plugins[n].error for n in names}
    assert errors["tools"] is None and reg.command_plugin["fails"] == "tools"
    assert errors["raises"] == "RuntimeError: no commands today"
    assert "own" not in reg.tasks and "first" not in reg.commands  # nothing of it is loaded
    assert errors["takes_run"] == "registers names already taken: command 'run' (nlpkit's own); nothing of it was loaded"
    assert errors["takes_fails"].startswith("registers names already taken: command 'fails' (plugin 'tools')")
    assert "command 'nsp-score' (plugin 'pair')" in errors["takes_nsp_score"]  # built-ins first
    assert "register_commands added <built-in function print> as 'odd'" in errors["not_a_command"]
    stderr = capsys.readouterr().err
    assert all(f"plugin '{n}'" in stderr for n in names[1:])
    runner = CliRunner()
    listed = runner.invoke(main, ["plugins"])
    assert listed.exit_code == 1
    assert "takes_run ?  FAILED: registers names already taken: command 'run'" in listed.output
    assert "raises ?  FAILED: RuntimeError: no commands today" in listed.output
    # The core's commands and the other plugins' still work.
    assert runner.invoke(main, ["run", "-h"]).exit_code == 0
    assert "Train and evaluate RECIPE" in runner.invoke(main, ["run", "-h"]).output
    assert reg.commands["nsp-score"].callback.__module__ == "nlpkit_pair.scoring"
    assert runner.invoke(main, ["fails"]).exit_code == 2


def test_core_commands_never_load_the_plugins(monkeypatch) -> None:
    def broken() -> None:
        raise AssertionError("the plugins were loaded")

    monkeypatch.setattr(plugins, "registry", broken)
    runner = CliRunner()
    for args in (["run", "-h"], ["evaluate", "--help"], ["recipe", "check", "-h"], ["--version"]):
        result = runner.invoke(main, args)
        assert result.exit_code == 0, (args, result.output)


@pytest.mark.parametrize("args", [["-h"], ["recipe", "-h"], ["recipe", "show", "-h"], ["predict", "-h"], ["nsp-score", "-h"]])
def test_dash_h_is_help_everywhere(fresh_registry, args: list[str]) -> None:
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0 and result.output.startswith("Usage: ")


def test_nsp_score_is_a_command_of_the_pair_plugin(fresh_registry, tmp_path: Path, tiny_encoder: Path) -> None:
    from transformers import AutoTokenizer, BertConfig, BertForPreTraining

    from nlpkit_pair.scoring import load_nsp, score_file

    checkpoint = tmp_path / "bert-pretraining"  # with a (random) NSP head
    BertForPreTraining(BertConfig.from_pretrained(tiny_encoder)).save_pretrained(checkpoint)
    AutoTokenizer.from_pretrained(tiny_encoder).save_pretrained(checkpoint)
    pairs = tmp_path / "pairs.tsv"
    pairs.write_text("text_a\ttext_b\tlabel\nthe cat sleeps\tit purrs\t1\nthe train leaves\tfish swim\t0\n")
    out = tmp_path / "out.jsonl"
    runner = CliRunner()
    result = runner.invoke(main, ["nsp-score", str(checkpoint), str(pairs), "--max-length", "32", "--predictions", str(out)])
    assert result.exit_code == 0, result.output
    _, predictions, metrics = score_file(load_nsp(checkpoint, max_length=32), pairs)
    assert json.loads(result.stdout) == json.loads(json.dumps(metrics))
    assert [json.loads(l)["probability"] for l in out.read_text().splitlines()] == [p["probability"] for p in predictions]
    refused = runner.invoke(main, ["nsp-score", str(tiny_encoder), str(pairs)])
    assert refused.exit_code == 2
    assert refused.stderr.startswith(f"error: {tiny_encoder} has no next-sentence-prediction head")
    missing = runner.invoke(main, ["nsp-score", str(checkpoint), str(tmp_path / "nowhere.tsv")])
    assert missing.exit_code == 2 and "does not exist" in missing.stderr


HEAVY_PROBE = """
import sys
from nlpkit.cli import main
try:
    main(sys.argv[1:])
except SystemExit as exc:
    heavy = [m for m in ('torch', 'pytorch_lightning', 'transformers', 'evaluate') if m in sys.modules]
    print('HEAVY', heavy, 'EXIT', exc.code, file=sys.stderr)
"""


@pytest.mark.integration
@pytest.mark.parametrize("args", [["--help"], ["nsp-score", "-h"], ["recipe", "check", "RECIPE"]])
def test_help_and_recipe_check_import_no_torch(args: list[str], tmp_path: Path) -> None:
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(f"task: classification\ndata:\n  train: {write_sentiment_tsv(tmp_path / 'train.tsv', 8, 0)}\n")
    args = [str(recipe) if a == "RECIPE" else a for a in args]
    result = subprocess.run([sys.executable, "-c", HEAVY_PROBE, *args], capture_output=True, text=True, timeout=120)
    assert "HEAVY [] EXIT 0" in result.stderr, result.stderr
    if args == ["--help"]:
        assert "nsp-score" in result.stdout
