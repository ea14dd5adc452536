"""The Chinese NER and QA recipes on the real data sets in ../shared/data: what they read,
hold out and find, and the vocabulary fix they rely on."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import SHARED_DATA, needs_data, recipe_splits

pytestmark = pytest.mark.usefixtures("shared_data_env")  # each test skips without its data set (needs_data)


@pytest.mark.slow  # reads a whole data set: seconds
@needs_data("peoples_daily")
def test_peoples_daily_holds_out_seeded_test_and_validation_parts_and_fixes_the_unknowns() -> None:
    from nlpkit.encoder import load_tokenizer
    from nlpkit.vocab import extend_vocabulary, unk_rate

    recipe, task, splits = recipe_splits("peoples-daily.yaml")
    sizes = {name: len(split.examples) for name, split in splits.items()}
    assert sizes == {"train": 3245, "test": 927, "validation": 464}  # 70/20/10 of 4,636 sentences
    train = splits["train"].examples
    assert {tag.split("-")[-1] for e in train for tag in e.tags} == {"O", "PER", "LOC", "ORG"}
    texts = list(task.texts(train))
    tokenizer = load_tokenizer(recipe.encoder)
    assert unk_rate(tokenizer, texts) > 0.5  # the English vocabulary
    extend_vocabulary(tokenizer, texts, recipe.encoder.extend_vocab_min_count)
    assert unk_rate(tokenizer, texts) == 0.0
    test_texts = [" ".join(e.words) for e in splits["test"].examples]
    assert unk_rate(tokenizer, test_texts) < 0.01  # characters never seen in training remain


@needs_data("cmrc2018")
def test_cmrc2018_trial_is_read_with_its_answers_found() -> None:
    from nlpkit_qa.readers import read_qa

    examples, report = read_qa(SHARED_DATA / "cmrc2018" / "trial.json", on_error="skip")
    assert len(examples) == 1000 and report.skipped == 2  # two questions with an empty or blank query_text
    assert report.located.counts == {"once": 924, "several": 76}
    assert all(e.context[a.start : a.end] == a.text for e in examples for a in e.answers)
    recipe, task, splits = recipe_splits("cmrc2018.yaml")
    assert {name: len(split.examples) for name, split in splits.items()} == {"train": 700, "test": 200, "validation": 100}
    task.setup(splits["train"].examples)
    assert task.scoring == "cmrc2018"

@pytest.mark.slow  # two short real runs of the default encoder: about a minute
@needs_data("peoples_daily")
def test_adapting_the_encoder_first_carries_the_added_characters_into_the_fine_tuning(tmp_path, monkeypatch) -> None:
    """The documented two steps: `recipe texts` writes the training split alone, the MLM run
    adds its characters, and the NER run from its model finds every character known."""
    import nlpkit
    from click.testing import CliRunner

    from nlpkit.cli import main
    from nlpkit.recipe import load_recipe

    monkeypatch.setenv("NLPKIT_CACHE", str(tmp_path / "cache"))
    text = tmp_path / "train.txt"
    written = CliRunner().invoke(main, ["recipe", "texts", "recipes/peoples-daily.yaml", "--output", str(text)])
    assert written.exit_code == 0, written.output
    lines = text.read_text(encoding="utf-8").splitlines()
    _, _, splits = recipe_splits("peoples-daily.yaml")
    assert lines == [" ".join(e.words) for e in splits["train"].examples]  # no held-out sentence

    quick = ["train.max_steps=2", "train.batch_size=8", "train.precision=32", "output.report=false"]
    adapted = nlpkit.run(load_recipe("recipes/adapt-peoples-daily.yaml",
                                     [f"data.train={text}", "data.limit_train=64", f"output.dir={tmp_path / 'mlm'}", *quick]))
    tuned = nlpkit.run(load_recipe("recipes/peoples-daily.yaml", [
        f"encoder.name={adapted.run_dir}/model", "data.limit_train=64", "data.limit_validation=16", "data.limit_test=16",
        f"output.dir={tmp_path / 'ner'}", *quick]))
    from transformers import AutoTokenizer

    from nlpkit.vocab import unk_rate

    mlm, ner = (AutoTokenizer.from_pretrained(Path(run) / "model") for run in (adapted.run_dir, tuned.run_dir))
    assert unk_rate(mlm, lines[:64]) == 0.0  # the MLM run added the characters it trained on ...
    assert len(ner) == len(mlm)  # ... so the NER run from it, on the same sentences, adds none
    assert 0.0 <= tuned.metrics["test"]["f1"] <= 1.0
