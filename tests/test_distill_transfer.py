"""Distillation beyond the soft loss: unlabelled transfer data (``distill.unlabelled``),
whose rows train on the teacher's outputs alone, and hidden-state matching
(``distill.hidden_weight``, ``distill.hidden_layers``)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

import nlpkit
from nlpkit.data import TEACHER_ONLY, JoinedFeatures, collate, encode
from nlpkit.distill import Distiller, hard_loss, hidden_loss, hidden_pairs
from nlpkit.errors import DataError, RecipeError
from nlpkit.recipe import load_recipe
from nlpkit.sections import DistillSection
from nlpkit.unlabelled import check_unlabelled
from tests.test_distill import student_recipe  # 24 training rows, 8 for validation, a 1-layer student

LABELLED = ["i loved it", "awful and dull", "a great fun movie , truly good"]
UNLABELLED = ["bad plot , bad actors", "wonderful actors and a good story", "i hated every minute"]


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("distill-transfer")


def mixed_batch(predictor: nlpkit.Predictor, labelled: list[str], unlabelled: list[str]) -> dict[str, torch.Tensor]:
    """A training batch as the loader gives it: labelled rows (label 1) first, then
    unlabelled ones, which carry no labels and the teacher-only mark."""
    task, tokenizer = predictor.task, predictor.tokenizer
    labels = encode(task, predictor.examples_from_inputs(labelled), tokenizer, training=True)
    for feature in labels:
        feature["labels"] = 1
    rest = encode(task, predictor.examples_from_inputs(unlabelled), tokenizer, training=True)
    assert all("labels" not in feature for feature in rest)
    joined = JoinedFeatures(labels, rest)
    return collate(task, [joined[i] for i in range(len(joined))], tokenizer, training=True)


# -- unlabelled rows: soft loss only ---------------------------------------------------------


def test_unlabelled_rows_add_no_hard_loss_and_a_soft_one(tiny_classifier_run: Path) -> None:
    teacher, student = nlpkit.load(tiny_classifier_run), nlpkit.load(tiny_classifier_run)
    torch.nn.init.normal_(student.model.head.out.weight)  # the student now differs from its teacher
    model, distiller = student.model.eval(), Distiller(teacher.model, teacher.task, DistillSection(teacher="."))
    batch = mixed_batch(student, LABELLED, UNLABELLED)
    assert batch[TEACHER_ONLY].tolist() == [0, 0, 0, 1, 1, 1]
    with torch.no_grad():
        _, parts = distiller.step(model, batch)
        alone = mixed_batch(student, LABELLED, [])
        assert TEACHER_ONLY not in alone
        # the hard loss is that of the labelled rows alone: the unlabelled rows add nothing
        assert float(parts["hard_loss"]) == pytest.approx(float(model.head.loss(model(alone), alone)), rel=1e-6)

        only = mixed_batch(student, [], UNLABELLED)
        _, parts = distiller.step(model, only)
    assert "labels" not in only and float(parts["hard_loss"]) == 0.0
    assert float(parts["soft_loss"]) > 1e-4


def test_unlabelled_rows_get_no_gradient_from_the_hard_loss(tiny_classifier_run: Path) -> None:
    """The hard loss's gradient does not depend on the unlabelled rows at all: the head's
    output for them is left out, not multiplied by a zero weight after a NaN."""
    student = nlpkit.load(tiny_classifier_run)
    model = student.model.eval()
    batch = mixed_batch(student, LABELLED, UNLABELLED)
    encoded = model.encode(batch)
    hidden = encoded.last_hidden_state
    hidden.retain_grad()
    hard_loss(model, encoded, model.head(encoded, batch), batch).backward()
    assert hidden.grad[3:].abs().sum() == 0 and hidden.grad[:3].abs().sum() > 0


def test_a_crf_likelihood_leaves_the_unlabelled_sentences_out(tiny_encoder: Path) -> None:
    """A CRF's loss is one number per batch, computed in the head's forward: the labelled
    sentences are cut out before the head, so the unlabelled ones (labels -100) count nowhere."""
    from transformers import AutoModel

    from nlpkit.model import TaskModel
    from nlpkit.plugins import get_task
    from nlpkit.recipe import build_recipe
    from nlpkit.task import TaskSettings

    task = get_task("ner")(TaskSettings.of(build_recipe({"task": "ner", "head": {"crf": True, "dropout": 0.0}})))
    task.load_state_dict({"scheme": "IOB2", "types": ["PER"], "tags": ["O", "B-PER", "I-PER"]})
    torch.manual_seed(0)
    model = TaskModel(AutoModel.from_pretrained(tiny_encoder), task.build_head(AutoModel.from_pretrained(tiny_encoder)))
    model.train()
    model.encoder.eval()  # no dropout: two passes give the same numbers
    ids = torch.randint(5, 50, (3, 6))
    batch = {
        "input_ids": ids, "attention_mask": torch.ones_like(ids), "token_type_ids": torch.zeros_like(ids),
        "label_mask": torch.tensor([[0, 1, 1, 1, 1, 0]] * 3),
        "labels": torch.tensor([[-100, 1, 2, 0, 0, -100], [-100] * 6, [-100, 0, 1, 0, 0, -100]]),
        "first_window": torch.ones(3, dtype=torch.long), "last_window": torch.ones(3, dtype=torch.long),
        TEACHER_ONLY: torch.tensor([0, 1, 0]),
    }
    encoded = model.encode(batch)
    loss = hard_loss(model, encoded, model.head(encoded, batch), batch)
    labelled = {k: v[[0, 2]] for k, v in batch.items() if k != TEACHER_ONLY}
    assert float(loss.detach()) == pytest.approx(float(model.head.loss(model(labelled), labelled).detach()), rel=1e-6)


# -- hidden-state matching -------------------------------------------------------------------


def test_the_hidden_loss_is_zero_for_the_teacher_itself_and_positive_otherwise(tiny_classifier_run: Path) -> None:
    teacher, student = nlpkit.load(tiny_classifier_run), nlpkit.load(tiny_classifier_run)
    batch = mixed_batch(student, LABELLED, UNLABELLED)
    same = [(0, 0), (1, 1), (2, 2)]  # every layer against itself
    with torch.no_grad():
        ours = student.model.encode(batch, hidden_states=True).hidden_states
        theirs = teacher.model.encode(batch, hidden_states=True).hidden_states
        assert float(hidden_loss(ours, theirs, same, batch["attention_mask"])) == 0.0
        assert float(hidden_loss(ours, theirs, [(0, 0), (1, 2), (2, 1)], batch["attention_mask"])) > 1e-6

        torch.nn.init.normal_(student.model.encoder.encoder.layer[1].output.dense.weight)
        ours = student.model.encode(batch, hidden_states=True).hidden_states
        errors = [float(hidden_loss(ours, theirs, [pair], batch["attention_mask"])) for pair in same]
    assert errors[:2] == [0.0, 0.0] and errors[2] > 1e-3  # only the changed layer's output differs
    assert float(hidden_loss(ours, theirs, same, batch["attention_mask"])) == pytest.approx(errors[2] / 3)


def test_padding_adds_nothing_to_the_hidden_loss() -> None:
    student, teacher = torch.zeros(1, 3, 4), torch.zeros(1, 3, 4)
    teacher[0, 2] = 5.0  # a padded position
    mask = torch.tensor([[1, 1, 0]])
    assert float(hidden_loss((student,), (teacher,), [(0, 0)], mask)) == 0.0
    teacher[0, 1, 0] = 2.0  # one value of a real token: squared error 4 over 2 tokens x 4 values
    assert float(hidden_loss((student,), (teacher,), [(0, 0)], mask)) == pytest.approx(0.5)


def test_each_student_layer_matches_the_teacher_layer_it_was_copied_from(
    root: Path, tiny_encoder: Path, tiny_classifier_run: Path
) -> None:
    from transformers import AutoConfig

    config = AutoConfig.from_pretrained(tiny_encoder)  # 2 layers
    student = AutoConfig.from_pretrained(tiny_encoder, num_hidden_layers=1)
    recipe = load_recipe(student_recipe(root, tiny_encoder, tiny_classifier_run, hidden_weight=1.0))
    assert recipe.encoder.layers == [1]
    assert hidden_pairs(recipe, student, config) == [(0, 0), (1, 2)]  # embeddings; student layer 0 <- teacher layer 1
    explicit = load_recipe(student_recipe(root, tiny_encoder, tiny_classifier_run, hidden_weight=1.0, hidden_layers=[0]))
    assert hidden_pairs(explicit, student, config) == [(0, 0), (1, 1)]
    off = load_recipe(student_recipe(root, tiny_encoder, tiny_classifier_run))
    assert hidden_pairs(off, student, config) == []

    wider = AutoConfig.from_pretrained(tiny_encoder, hidden_size=64)
    with pytest.raises(RecipeError, match=r"distill\.hidden_weight: the student's hidden states have 32 values, the teacher's 64"):
        hidden_pairs(recipe, student, wider)
    far = load_recipe(student_recipe(root, tiny_encoder, tiny_classifier_run, hidden_weight=1.0, hidden_layers=[4]))
    with pytest.raises(RecipeError, match=r"teacher layer 4 out of range: the teacher has 2 layers, numbered 0 to 1"):
        hidden_pairs(far, student, config)


def test_hidden_matching_settings_that_cannot_work_are_refused(
    root: Path, tiny_encoder: Path, tiny_classifier_run: Path
) -> None:
    unmapped = student_recipe(root, tiny_encoder, tiny_classifier_run, hidden_weight=1.0)
    unmapped["encoder"]["layers"] = None
    with pytest.raises(RecipeError, match=r"distill\.hidden_weight: which teacher layer .* distill\.hidden_layers"):
        load_recipe(unmapped)
    with pytest.raises(RecipeError, match=r"distill\.hidden_layers: 2 layers for a student of 1 \(encoder\.layers = \[1\]\)"):
        load_recipe(student_recipe(root, tiny_encoder, tiny_classifier_run, hidden_weight=1.0, hidden_layers=[0, 1]))
    with pytest.raises(RecipeError, match=r"distill\.hidden_layers is set but distill\.hidden_weight is 0"):
        load_recipe(student_recipe(root, tiny_encoder, tiny_classifier_run, hidden_layers=[0]))


# -- the unlabelled file, checked before training ---------------------------------------------


def test_unlabelled_inputs_without_a_teacher_are_refused(root: Path, tiny_encoder: Path) -> None:
    recipe = student_recipe(root, tiny_encoder, root, unlabelled=str(root / "more.txt"))
    del recipe["distill"]["teacher"]
    with pytest.raises(RecipeError, match=r"distill\.teacher is required with distill\.unlabelled: unlabelled inputs have no label"):
        load_recipe(recipe)


def test_an_unlabelled_file_that_cannot_be_used_is_refused_with_its_name(
    root: Path, tiny_encoder: Path, tiny_classifier_run: Path
) -> None:
    def check(path: Path) -> None:
        check_unlabelled(load_recipe(student_recipe(root, tiny_encoder, tiny_classifier_run, unlabelled=str(path))))

    with pytest.raises(RecipeError, match=r"distill\.unlabelled = .*missing\.txt: no such file"):
        check(root / "missing.txt")
    (root / "empty.txt").write_text("")
    with pytest.raises(RecipeError, match=r"distill\.unlabelled = .*empty\.txt: the file is empty"):
        check(root / "empty.txt")
    (root / "gap.txt").write_text("i loved it\n\nawful\n")
    with pytest.raises(DataError, match=r"gap\.txt:2: blank line"):
        check(root / "gap.txt")
    (root / "keys.jsonl").write_text('{"text": "i loved it"}\n{"review": "awful"}\n')
    with pytest.raises(DataError, match=r"keys\.jsonl:2: "):
        check(root / "keys.jsonl")


def test_recipe_check_reads_the_unlabelled_file(root: Path, tiny_encoder: Path, tiny_classifier_run: Path) -> None:
    from nlpkit.cli import main
    from nlpkit.recipe import dump_recipe

    (root / "bad.jsonl").write_text('{"text": "i loved it"}\n{"text": "awful"\n')
    path = root / "check.yaml"
    path.write_text(dump_recipe(load_recipe(student_recipe(root, tiny_encoder, tiny_classifier_run,
                                                           unlabelled=str(root / "bad.jsonl")))))
    result = CliRunner().invoke(main, ["recipe", "check", str(path)])
    assert result.exit_code == 2 and f"{root / 'bad.jsonl'}:2: not valid JSON" in result.output


# -- a run with unlabelled data and hidden-state matching -------------------------------------


@pytest.fixture(scope="module")
def transfer_run(root: Path, tiny_encoder: Path, tiny_classifier_run: Path) -> Path:
    more = root / "more.txt"
    more.write_text("".join(f"{text}\n" for text in [*UNLABELLED, *LABELLED] * 4))  # 24 inputs
    recipe = student_recipe(root, tiny_encoder, tiny_classifier_run, unlabelled=str(more), unlabelled_limit=20,
                            hidden_weight=1.0)
    recipe["output"]["dir"] = str(root / "transfer")
    return nlpkit.run(recipe).run_dir


def test_a_run_with_unlabelled_inputs_trains_on_them_and_predicts_what_it_evaluated(transfer_run: Path) -> None:
    metrics = json.loads((transfer_run / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["training"]["examples"] == {"train": 24, "validation": 8, "unlabelled": 20}
    assert metrics["training"]["optimizer_steps"] == 6  # 44 rows in batches of 8
    log = (transfer_run / "train.log").read_text(encoding="utf-8")
    assert "distill.unlabelled: 20 inputs from" in log and "embeddings to embeddings, layer 0 to layer 1" in log

    predictor = nlpkit.load(transfer_run)
    saved = [json.loads(line) for line in (transfer_run / "predictions" / "validation.jsonl").read_text().splitlines()]
    dev = [line.split("\t")[0] for line in (transfer_run.parent / "dev.tsv").read_text().splitlines()[1:]]
    assert [p["probabilities"] for p in predictor.predict(dev)] == [s["probabilities"] for s in saved]


def test_the_logs_hold_a_curve_for_each_part_of_the_loss(transfer_run: Path) -> None:
    with (transfer_run / "logs" / "metrics.csv").open(encoding="utf-8") as file:
        rows = [row for row in csv.DictReader(file) if row.get("train_loss")]
    assert rows and any(float(row["hard_loss"]) > 0 for row in rows)  # (a batch of unlabelled rows has none)
    for row in rows:
        parts = {name: float(row[name]) for name in ("hard_loss", "soft_loss", "hidden_loss")}
        assert parts["soft_loss"] > 0 and parts["hidden_loss"] > 0
        # one point is the mean of its steps, and each step's loss is alpha * hard + (1 - alpha) * soft + hidden
        expected = 0.5 * parts["hard_loss"] + 0.5 * parts["soft_loss"] + parts["hidden_loss"]
        assert float(row["train_loss"]) == pytest.approx(expected, rel=1e-4)


def test_every_distill_key_is_documented() -> None:
    doc = (Path(__file__).resolve().parents[1] / "docs" / "recipes.md").read_text(encoding="utf-8")
    assert [key for key in DistillSection.model_fields if f"`distill.{key}`" not in doc] == []
