"""`nlpkit recipe texts`: the raw text a recipe trains on, for adapting the encoder first."""

from __future__ import annotations

import csv
from pathlib import Path

import yaml
from click.testing import CliRunner

from nlpkit.cli import main


def _texts_of(path: Path) -> list[str]:
    with path.open(encoding="utf-8") as f:
        return [row["sentence"] for row in csv.DictReader(f, delimiter="\t")]


def test_the_training_split_leaves_the_held_out_parts_out(classification_recipe: dict, tmp_path: Path) -> None:
    train_file = Path(classification_recipe["data"]["train"])
    recipe = {**classification_recipe, "data": {"train": str(train_file), "validation_split": 0.25, "test_split": 0.25}}
    path = tmp_path / "r.yaml"
    path.write_text(yaml.safe_dump(recipe))
    runner = CliRunner()

    written = {}
    for split in ("train", "validation", "test"):
        out = tmp_path / "texts" / f"{split}.txt"
        result = runner.invoke(main, ["recipe", "texts", str(path), "--split", split, "--output", str(out)])
        assert result.exit_code == 0, result.output
        written[split] = out.read_text(encoding="utf-8").splitlines()
        assert f"{len(written[split])} texts of the {split} split" in result.output

    every = _texts_of(train_file)
    assert len(written["train"]) == len(every) // 2 and len(written["test"]) == len(every) // 4
    assert sorted(written["train"] + written["validation"] + written["test"]) == sorted(every)
    # Standard output carries the same lines, and overrides apply as in `nlpkit run`.
    shown = runner.invoke(main, ["recipe", "texts", str(path), "data.limit_train=3"])
    assert shown.output.splitlines() == written["train"][:3]


def test_a_split_the_recipe_lacks_is_an_error(classification_recipe: dict, tmp_path: Path) -> None:
    recipe = {**classification_recipe, "data": {"train": classification_recipe["data"]["train"]}}
    path = tmp_path / "r.yaml"
    path.write_text(yaml.safe_dump(recipe))
    result = CliRunner().invoke(main, ["recipe", "texts", str(path), "--split", "test"])
    assert result.exit_code == 2 and "has no test data" in result.output
