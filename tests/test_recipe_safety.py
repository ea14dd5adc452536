"""Recipe mistakes that used to pass `nlpkit recipe check` (or hang it): alias bombs,
duplicate keys, non-UTF-8 bytes, unknown encodings, step counts, booleans for numbers,
and monitored metrics that the task never reports."""

from __future__ import annotations

import textwrap
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from nlpkit.cli import main
from nlpkit.errors import RecipeError
from nlpkit.plugins import registry
from nlpkit.recipe import ALIAS_BUDGET, check_monitor, load_recipe
from nlpkit.scoring import compute_metrics
from nlpkit.task import Task, TaskSettings


def write(tmp_path: Path, text: str, name: str = "recipe.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def check(path: Path, *overrides: str) -> Result:
    return CliRunner().invoke(main, ["recipe", "check", str(path), *overrides], catch_exceptions=False)


def refused(path: Path, *overrides: str) -> str:
    """The one-paragraph message of a recipe that `nlpkit recipe check` refuses (exit 2)."""
    result = check(path, *overrides)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert result.stderr.startswith(f"error: {path}")
    return result.stderr


def billion_laughs(levels: int = 9) -> str:
    lines = ["task: classification", "a0: &a0 [" + ",".join(["lol"] * 9) + "]"]
    lines += [f"a{i}: &a{i} [{','.join([f'*a{i - 1}'] * 9)}]" for i in range(1, levels)]
    return "\n".join(lines) + "\n"


@pytest.fixture
def data_file(tmp_path: Path) -> Path:
    path = tmp_path / "train.tsv"
    path.write_text("sentence\tlabel\ngood\t1\nbad\t0\n", encoding="utf-8")
    return path


# -- YAML: alias bombs ------------------------------------------------------------------
@pytest.mark.parametrize("levels", [8, 9])
def test_a_billion_laughs_recipe_is_refused_at_once(tmp_path: Path, levels: int) -> None:
    path = write(tmp_path, billion_laughs(levels))
    assert len(path.read_bytes()) < 450
    start = time.perf_counter()
    with pytest.raises(RecipeError, match="billion laughs"):
        load_recipe(path)
    assert time.perf_counter() - start < 0.5
    message = refused(path)
    assert f"at most {ALIAS_BUDGET:,} more than written" in message


def test_merge_keys_that_repeat_each_other_are_refused(tmp_path: Path) -> None:
    lines = ["task: classification", "m0: &m0 {x: lol, y: lol}"]
    lines += [f"m{i}: &m{i} {{<<: [*m{i - 1}], a: *m{i - 1}, b: *m{i - 1}}}" for i in range(1, 40)]
    path = write(tmp_path, "\n".join(lines) + "\n")
    start = time.perf_counter()
    assert "aliases expand" in refused(path)
    assert time.perf_counter() - start < 1.0


def test_an_alias_inside_its_own_anchor_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "task: classification\nencoder:\n  config: &loop {inner: *loop}\n")
    assert f"{path}:3: an alias refers to the node that contains it" in refused(path)


def test_an_alias_bomb_in_an_override_is_refused(tmp_path: Path, data_file: Path) -> None:
    path = write(tmp_path, f"task: classification\ndata:\n  train: {data_file}\n")
    levels = ["&b0 [x, x, x, x, x, x, x, x, x, x]"] + [f"&b{i} [{', '.join([f'*b{i - 1}'] * 10)}]" for i in range(1, 8)]
    bomb = "encoder.config=[" + ", ".join(levels) + "]"
    with pytest.raises(RecipeError, match=r"recipe\.yaml: override encoder\.config: aliases expand"):
        load_recipe(path, [bomb])


def test_ordinary_anchors_aliases_and_merge_keys_still_work(tmp_path: Path, data_file: Path) -> None:
    path = write(tmp_path, f"""\
        task: classification
        data:
          train: &train {data_file}
          validation: *train
        encoder:
          config: &small {{num_hidden_layers: 2, hidden_size: 64}}
        train:
          <<: &fast {{epochs: 1, batch_size: 8, eval_batch_size: 8}}
          epochs: 2
        trainer:
          <<: {{limit_train_batches: 2, limit_val_batches: 2}}
          limit_val_batches: 1
        """)
    recipe = load_recipe(path)
    assert recipe.data.validation == str(data_file)
    assert recipe.encoder.config == {"num_hidden_layers": 2, "hidden_size": 64}
    assert (recipe.train.epochs, recipe.train.batch_size, recipe.train.eval_batch_size) == (2, 8, 8)
    assert recipe.trainer == {"limit_train_batches": 2, "limit_val_batches": 1}
    assert check(path).exit_code == 0


# -- YAML: duplicate keys and bytes ------------------------------------------------------
def test_a_section_given_twice_names_both_lines(tmp_path: Path, data_file: Path) -> None:
    path = write(tmp_path, f"task: classification\ntrain:\n  epochs: 1\ndata:\n  train: {data_file}\ntrain:\n  lr: 1e-4\n")
    message = refused(path)
    assert f"{path}:6: duplicate key train (lines 2 and 6)" in message
    assert "keep only the last" in message


@pytest.mark.parametrize(
    ("body", "key", "lines"),
    [
        ("train:\n  epochs: 1\n  lr: 1e-4\n  epochs: 2\n", "train.epochs", "lines 3 and 5"),
        ("encoder:\n  config:\n    layers: [{a: 1}, {b: 1, b: 2}]\n", "encoder.config.layers[1].b", "lines 4 and 4"),
        ("trainer: {devices: 1, devices: 2}\n", "trainer.devices", "lines 2 and 2"),
    ],
)
def test_a_key_given_twice_at_any_depth(tmp_path: Path, body: str, key: str, lines: str) -> None:
    path = write(tmp_path, "task: classification\n" + body)
    assert f"duplicate key {key} ({lines})" in refused(path)


def test_a_non_utf8_byte_names_file_line_and_byte(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes("task: classification\ndata:\n  train: caf\xe9.tsv\n".encode("latin-1"))
    message = refused(path)
    assert f"{path}:3: byte 0xe9 (column 13) is not UTF-8" in message


# -- values -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("data.encoding=nosuchcodec", "data.encoding: not a known text encoding"),
        ("data.encoding=rot13", "data.encoding: a codec, but not a text encoding"),
        ("train.max_steps=-7", "train.max_steps: expected -1 (the epochs decide) or a positive number of steps, got -7"),
        ("train.max_steps=0", "train.max_steps: expected -1 (the epochs decide) or a positive number of steps, got 0"),
        ("train.epochs=true", "train.epochs: expected a number, not a boolean, got True"),
        ("train.lr=false", "train.lr: expected a number, not a boolean, got False"),
        ("train.max_grad_norm=true", "train.max_grad_norm: expected a number, not a boolean"),
        ("encoder.max_length=true", "encoder.max_length: expected a number, not a boolean"),
        ("data.limit_train=true", "data.limit_train: expected a number, not a boolean"),
        ("head.threshold=true", "head.threshold: expected a number, not a boolean"),  # a task's own option
        ("data.label_column=true", "data.label_column: expected a number, not a boolean"),
    ],
)
def test_bad_values_fail_the_check(tmp_path: Path, data_file: Path, override: str, expected: str) -> None:
    path = write(tmp_path, f"task: classification\ndata:\n  train: {data_file}\n")
    assert expected in refused(path, override)


def test_booleans_are_refused_in_a_tasks_number_lists(tmp_path: Path) -> None:
    path = write(tmp_path, "task: sentiment\nhead:\n  type: regression\n  range: [true, 5]\n")
    assert "head.range: expected a number, not a boolean, got [True, 5]" in refused(path)


def test_numbers_from_the_environment_and_booleans_where_due_still_load(
    tmp_path: Path, data_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EPOCHS", "4")
    monkeypatch.delenv("NO_LR", raising=False)
    path = write(tmp_path, f"""\
        task: classification
        data:
          train: {data_file}
          encoding: latin-1
        train:
          epochs: ${{EPOCHS}}
          lr: ${{NO_LR:-1e-4}}
          max_steps: 5
          freeze_encoder: true
        head:
          multi_label: yes
        """)
    recipe = load_recipe(path, ["train.warmup_ratio=1e-1", "data.cache=false"])
    assert (recipe.train.epochs, recipe.train.lr, recipe.train.max_steps) == (4, 1e-4, 5)
    assert recipe.train.freeze_encoder and recipe.head.multi_label and not recipe.data.cache
    assert recipe.train.warmup_ratio == 0.1 and recipe.data.encoding == "latin-1"
    assert load_recipe(path, ["train.max_steps=-1"]).train.max_steps == -1


# -- the monitored metric ---------------------------------------------------------------
def test_a_monitor_the_task_never_reports_fails_the_check(tmp_path: Path, data_file: Path) -> None:
    path = write(tmp_path, f"task: classification\ndata:\n  train: {data_file}\ntrain:\n  monitor: nosuchmetric\n")
    message = refused(path)
    assert "train.monitor: 'nosuchmetric' is not a validation metric of task classification" in message
    assert "its metrics: accuracy, macro_f1, mcc" in message
    assert "did you mean accuracy? the metric is named without the val_ prefix" in refused(path, "train.monitor=val_accuracy")
    assert "(did you mean macro_f1?)" in refused(path, "train.monitor=macro_f")
    assert check(path, "train.monitor=mcc").exit_code == 0


@pytest.mark.parametrize(
    ("recipe", "good", "bad"),
    [
        ({"task": "classification", "head": {"multi_label": True}}, "micro_f1", "mcc"),
        ({"task": "sentiment", "head": {"type": "regression"}}, "spearman", "accuracy"),
        ({"task": "pair", "data": {"labels": ["entailment", "neutral", "contradiction"]}}, "macro_f1", "f1"),
        ({"task": "nsp"}, "f1", "accuracy"),
        ({"task": "qa", "data": {"squad_v2": False}}, "exact_match", "HasAns_f1"),
        ({"task": "qa", "data": {"squad_v2": True}}, "NoAns_f1", "exact_match"),
        ({"task": "pretrain", "head": {"objectives": ["mlm"]}}, "mlm_accuracy", "nsp_accuracy"),
    ],
)
def test_the_monitor_is_checked_against_the_recipes_options(recipe: dict[str, Any], good: str, bad: str) -> None:
    load_recipe({**recipe, "train": {"monitor": good}})
    with pytest.raises(RecipeError, match=f"'{bad}' is not a validation metric of task {recipe['task']}"):
        load_recipe({**recipe, "train": {"monitor": bad}})


def test_a_task_that_does_not_name_its_metrics_is_not_checked() -> None:
    from nlpkit_classification.task import ClassificationTask

    class Unnamed(ClassificationTask):  # a third-party task that keeps the base method
        metric_names = Task.metric_names

    recipe = load_recipe({"task": "classification"})
    recipe.train.monitor = "anything"
    check_monitor(recipe, Unnamed)  # left to the first validation


@pytest.mark.parametrize("name", sorted(registry().tasks))
def test_every_tasks_own_monitor_is_one_of_its_metrics(name: str) -> None:
    variants = [{}, {"head": {"type": "regression"}}] if name in ("sentiment", "pair") else [{}]
    for extra in variants:
        task = registry().tasks[name](TaskSettings.of(load_recipe({"task": name, **extra})))
        names = task.metric_names()
        assert names is None or task.monitor in names, (name, extra, task.monitor, names)


# -- metric_names() against what the metric computes ------------------------------------------
def flat(metrics: dict[str, Any]) -> set[str]:
    return {k for k, v in metrics.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}


def scored(recipe: dict[str, Any], examples: list[Any], predictions: list[dict[str, Any]]) -> tuple[set[str], Any]:
    task = registry().tasks[recipe["task"]](TaskSettings.of(load_recipe(recipe)))
    names = task.metric_names()
    task.setup(examples)
    return flat(compute_metrics(task, examples, predictions)), names


def test_classification_metric_names() -> None:
    from nlpkit_classification.task import TextExample

    examples = [TextExample("a", "1"), TextExample("b", "0"), TextExample("c", "1")]
    predictions = [{"label": "1"}, {"label": "1"}, {"label": "0"}]
    for task in ("classification", "sentiment"):
        keys, names = scored({"task": task}, examples, predictions)
        assert keys == names
    multi = [TextExample("a", ["x", "y"]), TextExample("b", ["y"])]
    keys, names = scored({"task": "classification", "head": {"multi_label": True}}, multi,
                         [{"labels": ["x"]}, {"labels": ["y"]}])
    assert keys == names


def test_regression_metric_names() -> None:
    from nlpkit_classification.task import TextExample
    from nlpkit_pair.pair import PairExample

    ratings = [TextExample("a", 1.0), TextExample("b", 3.0), TextExample("c", 5.0)]
    keys, names = scored({"task": "sentiment", "head": {"type": "regression"}}, ratings,
                         [{"rating": 2.0}, {"rating": 3.5}, {"rating": 4.0}])
    assert keys == names
    pairs = [PairExample("a", "b", 0.5), PairExample("c", "d", 4.0), PairExample("e", "f", 2.0)]
    keys, names = scored({"task": "pair", "head": {"type": "regression"}}, pairs,
                         [{"score": 1.0}, {"score": 3.0}, {"score": 2.5}])
    assert keys == names


def test_pair_and_nsp_metric_names() -> None:
    from nlpkit_pair.pair import PairExample

    binary = [PairExample("a", "b", "1"), PairExample("c", "d", "0"), PairExample("e", "f", "1")]
    keys, names = scored({"task": "pair"}, binary, [{"label": "1"}, {"label": "1"}, {"label": "0"}])
    assert keys == names and "f1" in keys
    three = ["entailment", "neutral", "contradiction"]
    nli = [PairExample("a", "b", label) for label in three]
    keys, names = scored({"task": "pair", "data": {"labels": three}}, nli, [{"label": label} for label in three[::-1]])
    assert keys == names and "f1" not in keys
    nsp = [PairExample("a", "b", "is_next"), PairExample("c", "d", "not_next")]
    keys, names = scored({"task": "nsp"}, nsp, [{"label": "is_next"}, {"label": "is_next"}])
    assert keys == names


def test_ner_metric_names() -> None:
    from nlpkit_ner.readers import NerExample

    examples = [NerExample(["Angela", "visited", "Paris"], ["B-PER", "O", "B-LOC"])]
    keys, names = scored({"task": "ner", "data": {"labels": ["PER", "LOC"]}}, examples, [{"tags": ["B-PER", "O", "O"]}])
    assert keys == names


def test_qa_metric_names() -> None:
    from nlpkit_qa.readers import Answer, QAExample

    examples = [
        QAExample("has", "where ?", "in paris .", [Answer("paris", 3)]),
        QAExample("none", "who ?", "in paris .", [], is_impossible=True),
    ]
    v1_keys, v1 = scored({"task": "qa", "data": {"metric": "squad"}}, examples[:1], [{"id": "has", "answer": "paris"}])
    predictions = [{"id": "has", "answer": "paris", "null_score_diff": -2.0},
                   {"id": "none", "answer": "", "null_score_diff": 3.0}]
    v2_keys, v2 = scored({"task": "qa", "data": {"squad_v2": True}}, examples, predictions)
    chinese = [QAExample("zh", "哪里？", "在巴黎。", [Answer("巴黎", 1)])]
    cmrc_keys, cmrc = scored({"task": "qa", "data": {"metric": "cmrc2018"}}, chinese, [{"id": "zh", "answer": "巴黎"}])
    assert (v1_keys, v2_keys, cmrc_keys) == (v1, v2, cmrc)
    # data.metric auto: the names of either scoring, since only the training data decides.
    auto_keys, auto = scored({"task": "qa"}, examples[:1], [{"id": "has", "answer": "paris"}])
    assert auto_keys == v1 and auto == v1 | cmrc


def test_pretrain_metric_names() -> None:
    row = {"mlm_loss_sum": 6.0, "masked": 3, "correct": 1, "nsp_correct": 1, "nsp_total": 1}
    keys, names = scored({"task": "pretrain"}, [], [row, row])
    assert keys == names
    keys, names = scored({"task": "pretrain", "head": {"objectives": ["mlm"]}}, [],
                         [{**row, "nsp_correct": 0, "nsp_total": 0}])
    assert keys == names and "nsp_accuracy" not in names
