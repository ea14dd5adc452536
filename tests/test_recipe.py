"""The recipe system: YAML, environment, overrides, validation and its messages."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from nlpkit.errors import RecipeError
from nlpkit.recipe import apply_overrides, dump_recipe, load_recipe


def write(tmp_path: Path, text: str, name: str = "recipe.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


@pytest.fixture
def data_file(tmp_path: Path) -> Path:
    path = tmp_path / "train.tsv"
    path.write_text("sentence\tlabel\ngood\t1\nbad\t0\n", encoding="utf-8")
    return path


def test_defaults_fill_what_the_recipe_omits(tmp_path: Path, data_file: Path) -> None:
    recipe = load_recipe(write(tmp_path, f"task: classification\ndata:\n  train: {data_file}\n"))
    assert recipe.encoder.name == "minilm"
    assert recipe.train.epochs == 3 and recipe.train.precision == "auto"
    assert recipe.data.train == str(data_file)
    assert recipe.output_dir == Path("runs/classification")


def test_environment_interpolation_with_default(tmp_path: Path, data_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MY_DATA", str(data_file.parent))
    monkeypatch.delenv("UNSET_VAR", raising=False)
    path = write(tmp_path, "task: classification\ndata:\n  train: ${MY_DATA}/train.tsv\noutput:\n  dir: ${UNSET_VAR:-runs/x}\n")
    recipe = load_recipe(path)
    assert recipe.data.train == str(data_file)
    assert recipe.output.dir == "runs/x"


def test_an_empty_variable_takes_the_default_as_in_the_shell(
    tmp_path: Path, data_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EMPTY_DATA", "")  # e.g. `NLPKIT_DATA= nlpkit run ...`
    monkeypatch.setenv("SET_DIR", "runs/set")
    path = write(tmp_path, f"task: classification\ndata:\n  train: ${{EMPTY_DATA:-{data_file.parent}}}/train.tsv\n"
                           "output:\n  dir: ${SET_DIR:-runs/x}\n")
    recipe = load_recipe(path)
    assert recipe.data.train == str(data_file)
    assert recipe.output.dir == "runs/set"


def test_unset_variable_names_key_and_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOPE_NOT_SET", raising=False)
    path = write(tmp_path, "task: classification\ndata:\n  train: ${NOPE_NOT_SET}/a.tsv\n")
    with pytest.raises(RecipeError, match=r"data\.train uses \$\{NOPE_NOT_SET\}"):
        load_recipe(path)


def test_overrides_are_typed_and_create_sections(tmp_path: Path, data_file: Path) -> None:
    path = write(tmp_path, f"task: classification\ndata:\n  train: {data_file}\n")
    recipe = load_recipe(path, ["train.epochs=1", "train.lr=2e-5", "trainer.accumulate_grad_batches=2", "data.limit_train=10"])
    assert recipe.train.epochs == 1 and recipe.train.lr == 2e-5
    assert recipe.trainer == {"accumulate_grad_batches": 2}
    assert recipe.data.limit_train == 10
    assert apply_overrides({"a": {"b": 1}}, ["a.c=x"], "s") == {"a": {"b": 1, "c": "x"}}


def test_misspelt_key_gets_a_did_you_mean(tmp_path: Path, data_file: Path) -> None:
    path = write(tmp_path, f"task: classification\ndata:\n  train: {data_file}\ntrain:\n  epoch: 2\n")
    with pytest.raises(RecipeError) as err:
        load_recipe(path)
    message = str(err.value)
    assert str(path) in message and "unknown key train.epoch" in message and "did you mean train.epochs?" in message


def test_task_specific_keys_are_validated_too(tmp_path: Path, data_file: Path) -> None:
    path = write(tmp_path, f"task: classification\ndata:\n  train: {data_file}\n  text_colum: sentence\n")
    with pytest.raises(RecipeError, match=r"did you mean data\.text_column\?"):
        load_recipe(path)


def test_wrong_type_names_key_and_value(tmp_path: Path, data_file: Path) -> None:
    path = write(tmp_path, f"task: classification\ndata:\n  train: {data_file}\ntrain:\n  epochs: three\n")
    with pytest.raises(RecipeError, match=r"train\.epochs: .*integer.*'three'"):
        load_recipe(path)


def test_missing_data_file_is_named(tmp_path: Path) -> None:
    path = write(tmp_path, "task: classification\ndata:\n  train: nowhere/train.tsv\n")
    with pytest.raises(RecipeError, match=r"data file not found: data\.train = nowhere/train\.tsv"):
        load_recipe(path)


def test_unknown_task_lists_registered_tasks(tmp_path: Path) -> None:
    path = write(tmp_path, "task: clasification\n")
    with pytest.raises(RecipeError) as err:
        load_recipe(path)
    message = str(err.value)
    assert "task 'clasification' is not registered" in message
    assert "did you mean 'classification'" in message and "registered tasks: " in message


def test_invalid_yaml_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, "task: classification\ndata: [unclosed\n")
    # PyYAML finds the problem at the end of the file; the line to fix is where "[" opened.
    with pytest.raises(RecipeError, match=r"recipe\.yaml:2: not valid YAML"):
        load_recipe(path)
    path = write(tmp_path, "task: classification\ndata:\n  train: a\n   bad: indent\n")
    with pytest.raises(RecipeError, match=r"recipe\.yaml:4: not valid YAML"):
        load_recipe(path)


def test_exponent_numbers_are_floats_in_files_and_overrides(tmp_path: Path, data_file: Path) -> None:
    # YAML 1.1 (PyYAML) reads 1e-4 as a string; the typed keys would convert it anyway, the
    # free-form sections passed to Lightning and to the encoder's config would not.
    path = write(tmp_path, f"task: classification\ndata:\n  train: {data_file}\ntrainer:\n  gradient_clip_val: 5e-1\n")
    recipe = load_recipe(path, ["encoder.config.hidden_dropout_prob=2E-1", "trainer.val_check_interval=1e+0"])
    assert recipe.trainer == {"gradient_clip_val": 0.5, "val_check_interval": 1.0}
    assert recipe.encoder.config == {"hidden_dropout_prob": 0.2}
    assert apply_overrides({}, ["a=1e5x", "b=e5", "c=10"], "s") == {"a": "1e5x", "b": "e5", "c": 10}


def test_validation_file_and_validation_split_together_fail_at_check(tmp_path: Path, data_file: Path) -> None:
    path = write(tmp_path, f"task: classification\ndata:\n  train: {data_file}\n  validation: {data_file}\n"
                           "  validation_split: 0.1\n")
    with pytest.raises(RecipeError, match="give either data.validation or data.validation_split, not both"):
        load_recipe(path)


def test_type_messages_keep_the_names_of_types(tmp_path: Path, data_file: Path) -> None:
    path = write(tmp_path, "task: classification\ndata: 5\n")
    with pytest.raises(RecipeError, match=r"data: input should be a valid dictionary or instance of ClassificationData"):
        load_recipe(path)


def test_resolved_recipe_round_trips(tmp_path: Path, data_file: Path) -> None:
    recipe = load_recipe(write(tmp_path, f"task: classification\ndata:\n  train: {data_file}\n"), ["train.seed=3"])
    again = load_recipe(write(tmp_path, dump_recipe(recipe), "resolved.yaml"))
    assert again.to_dict() == recipe.to_dict()


@pytest.mark.integration  # a fresh interpreter: what `nlpkit recipe check` imports
@pytest.mark.parametrize(
    "body, expected",
    [
        ("task: classification\ntrain:\n  epoch: 1\n", "did you mean train.epochs?"),
        ("task: classification\ntrain:\n  epochs: many\n", "train.epochs"),
        ("task: classification\ndata:\n  train: missing.tsv\n", "data file not found"),
        ("task: nosuchtask\n", "is not registered"),
        ("task: classification\ntrainer:\n  max_stepz: 5\n", "unknown key trainer.max_stepz (did you mean trainer.max_steps?)"),
    ],
)
def test_cli_rejects_bad_recipes_with_exit_code_2_and_no_heavy_imports(tmp_path: Path, body: str, expected: str) -> None:
    path = write(tmp_path, body)
    probe = (
        "import sys\nfrom nlpkit.cli import main\n"
        "try:\n    main(['recipe', 'check', sys.argv[1]])\n"
        "except SystemExit as exc:\n"
        "    heavy = [m for m in ('torch', 'pytorch_lightning', 'evaluate', 'transformers') if m in sys.modules]\n"
        "    print('HEAVY', heavy, file=sys.stderr)\n    raise\n"
    )
    result = subprocess.run([sys.executable, "-c", probe, str(path)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert expected in result.stderr
    assert "Traceback" not in result.stderr
    # Validation must not pay for torch/Lightning/evaluate imports: that keeps it fast.
    assert "HEAVY []" in result.stderr


def test_trainer_keys_are_read_from_lightnings_source_without_importing_it() -> None:
    import inspect

    import pytorch_lightning as pl

    from nlpkit.recipe import trainer_arguments

    assert trainer_arguments() == frozenset(inspect.signature(pl.Trainer.__init__).parameters) - {"self"}


def test_every_core_key_is_documented() -> None:
    from nlpkit.recipe import DataSection, EncoderSection, HeadSection, OutputSection, TrainSection

    doc = (Path(__file__).resolve().parents[1] / "docs" / "recipes.md").read_text(encoding="utf-8")
    for section, model in [("encoder", EncoderSection), ("data", DataSection), ("head", HeadSection),
                           ("train", TrainSection), ("output", OutputSection)]:
        for key in model.model_fields:
            assert f"`{section}.{key}`" in doc, f"{section}.{key} is missing from docs/recipes.md"
