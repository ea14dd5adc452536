"""Knowledge distillation (``distill`` in a recipe, ``encoder.layers``): the soft loss,
the mix of hard and soft losses, a distilled run directory used as any other, and the
recipes that must fail before any training."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

import nlpkit
from nlpkit.distill import Distiller, soft_loss
from nlpkit.errors import RecipeError
from nlpkit.recipe import load_recipe
from nlpkit.sections import DistillSection
from nlpkit.task import Logits
from nlpkit.testing import DEFAULT_TEXTS, tiny_bert
from tests.conftest import NEGATIVE, POSITIVE, write_sentiment_tsv

TEXTS = ["i loved it", "awful and dull", "a great fun movie , truly good", "bad plot , bad actors"]


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("distill")


def student_recipe(root: Path, encoder: Path, teacher: Path, **distill: object) -> dict:
    return {
        "task": "classification",
        "encoder": {"name": str(encoder), "max_length": 32, "layers": [1]},
        "data": {"train": str(write_sentiment_tsv(root / "train.tsv", 24, seed=1)),
                 "validation": str(write_sentiment_tsv(root / "dev.tsv", 8, seed=2))},
        "train": {"epochs": 1, "batch_size": 8, "lr": 1e-3, "precision": "32", "seed": 7},
        "trainer": {"enable_progress_bar": False},
        "distill": {"teacher": str(teacher), **distill},
        "output": {"dir": str(root / "student"), "report": False},
    }


def a_batch(predictor: nlpkit.Predictor, labels: list[int]) -> dict[str, torch.Tensor]:
    """A training batch as the loader gives it: padded features with their labels."""
    from nlpkit.data import encode, eval_loader

    examples = predictor.examples_from_inputs(TEXTS)
    features = encode(predictor.task, examples, predictor.tokenizer, training=False, desc="tokenizing")
    batch = next(iter(eval_loader(predictor.task, features, predictor.tokenizer, len(TEXTS))))
    order = batch["feature_index"].tolist()
    return {**batch, "labels": torch.tensor([labels[i] for i in order])}


# -- the soft loss ----------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["softmax", "sigmoid", "value"])
def test_the_soft_loss_is_zero_for_equal_outputs_and_positive_otherwise(kind: str) -> None:
    torch.manual_seed(0)
    logits = torch.randn(5, 3) * 4
    same = soft_loss({"x": Logits(logits, kind)}, {"x": Logits(logits.clone(), kind)}, temperature=2.0)
    other = soft_loss({"x": Logits(logits, kind)}, {"x": Logits(torch.randn(5, 3), kind)}, temperature=2.0)
    assert float(same) == pytest.approx(0.0, abs=1e-6)
    assert float(other) > 1e-3


def test_the_softmax_soft_loss_is_the_kl_divergence_of_the_softened_distributions_times_t_squared() -> None:
    student, teacher, t = torch.tensor([[2.0, 0.0]]), torch.tensor([[0.0, 2.0]]), 2.0
    p = torch.softmax(teacher / t, dim=-1)[0]  # the teacher's distribution: the target
    q = torch.softmax(student / t, dim=-1)[0]
    expected = float((p * (p / q).log()).sum()) * t * t
    assert float(soft_loss({"x": Logits(student)}, {"x": Logits(teacher)}, t)) == pytest.approx(expected, rel=1e-5)


def test_named_outputs_are_averaged_and_no_labelled_row_adds_nothing() -> None:
    """QA matches start and end (the mean of the two); an NER batch may hold no labelled token."""
    a, b = torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, 1.0]])
    one = float(soft_loss({"start": Logits(a)}, {"start": Logits(b)}, 1.0))
    both = soft_loss({"start": Logits(a), "end": Logits(a)}, {"start": Logits(b), "end": Logits(a)}, 1.0)
    assert float(both) == pytest.approx(one / 2)
    empty = torch.zeros(0, 4)
    assert float(soft_loss({"tags": Logits(empty)}, {"tags": Logits(empty)}, 2.0)) == 0.0


# -- the mix of losses, with a real teacher ---------------------------------------------


def test_a_teacher_against_itself_has_no_soft_loss_and_alpha_weighs_hard_against_soft(
    tiny_classifier_run: Path,
) -> None:
    teacher, student = nlpkit.load(tiny_classifier_run), nlpkit.load(tiny_classifier_run)
    batch = a_batch(student, labels=[1, 0, 1, 0])

    def mixed(alpha: float) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        return Distiller(teacher.model, teacher.task, DistillSection(teacher=".", alpha=alpha)).step(student.model, batch)

    with torch.no_grad():
        _, parts = mixed(0.5)  # eval mode: the student is the teacher, to the bit
        assert float(parts["soft_loss"]) == 0.0

        torch.nn.init.normal_(student.model.head.out.weight)  # now the student differs
        losses = {alpha: mixed(alpha) for alpha in (1.0, 0.0, 0.25)}
    hard, soft = losses[0.0][1]["hard_loss"], losses[0.0][1]["soft_loss"]
    assert float(hard) == pytest.approx(float(student.model.head.loss(student.model(batch), batch)))
    assert float(soft) > 1e-4 and not math.isclose(float(soft), float(hard))
    assert float(losses[1.0][0]) == pytest.approx(float(hard))  # labels only
    assert float(losses[0.0][0]) == pytest.approx(float(soft))  # teacher only
    assert float(losses[0.25][0]) == pytest.approx(0.25 * float(hard) + 0.75 * float(soft))


# -- a distilled run ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def student_run(root: Path, tiny_encoder: Path, tiny_classifier_run: Path) -> Path:
    return nlpkit.run(student_recipe(root, tiny_encoder, tiny_classifier_run)).run_dir


def test_encoder_layers_keeps_those_layers_of_the_pretrained_encoder(tiny_encoder: Path) -> None:
    from transformers import AutoModel

    from nlpkit.encoder import load_encoder
    from nlpkit.sections import EncoderSection

    full = AutoModel.from_pretrained(tiny_encoder)
    kept = load_encoder(EncoderSection(name=str(tiny_encoder), layers=[1]), full.config.vocab_size)
    assert kept.config.num_hidden_layers == 1 and len(kept.encoder.layer) == 1
    assert torch.equal(kept.encoder.layer[0].output.dense.weight, full.encoder.layer[1].output.dense.weight)
    assert torch.equal(kept.embeddings.word_embeddings.weight, full.embeddings.word_embeddings.weight)


def test_a_distilled_student_is_an_ordinary_run_that_predicts_what_it_evaluated(student_run: Path) -> None:
    config = json.loads((student_run / "model" / "config.json").read_text(encoding="utf-8"))
    assert config["num_hidden_layers"] == 1
    predictor = nlpkit.load(student_run)
    assert predictor.model.encoder.config.num_hidden_layers == 1
    saved = [json.loads(line) for line in (student_run / "predictions" / "validation.jsonl").read_text().splitlines()]
    dev = [line.split("\t")[0] for line in (student_run.parent / "dev.tsv").read_text().splitlines()[1:]]
    assert [p["probabilities"] for p in predictor.predict(dev)] == [s["probabilities"] for s in saved]
    assert "distill: teacher" in (student_run / "train.log").read_text(encoding="utf-8")


def test_a_distilled_run_exports_to_transformers_and_back(student_run: Path, root: Path) -> None:
    from nlpkit.export import export

    out = export(student_run, root / "student-hf")  # the export checks that transformers computes what nlpkit does
    assert json.loads((out / "config.json").read_text(encoding="utf-8"))["num_hidden_layers"] == 1
    assert nlpkit.load(out).predict(TEXTS) == nlpkit.load(student_run).predict(TEXTS)
    int8 = nlpkit.load(student_run, quantize="int8").predict(TEXTS)  # and as onnxruntime's int8 graph
    assert [p["label"] for p in int8] == [p["label"] for p in nlpkit.load(student_run).predict(TEXTS)]


# -- recipes that fail before training ---------------------------------------------------


def test_a_distill_section_without_a_teacher_is_refused(root: Path, tiny_encoder: Path, tiny_classifier_run: Path) -> None:
    recipe = student_recipe(root, tiny_encoder, tiny_classifier_run)
    del recipe["distill"]["teacher"]
    with pytest.raises(RecipeError, match=r"<recipe>: distill\.teacher is required"):
        load_recipe(recipe)


def test_a_teacher_that_is_no_finished_run_is_refused(root: Path, tiny_encoder: Path) -> None:
    with pytest.raises(RecipeError, match=r"distill\.teacher = .*nowhere: no such directory"):
        load_recipe(student_recipe(root, tiny_encoder, root / "nowhere"))
    (root / "empty").mkdir(exist_ok=True)
    with pytest.raises(RecipeError, match=r"distill\.teacher = .*empty: not a finished run directory"):
        load_recipe(student_recipe(root, tiny_encoder, root / "empty"))


def test_a_teacher_of_another_task_is_refused(root: Path, tiny_encoder: Path) -> None:
    ner = root / "ner-run"
    (ner / "model").mkdir(parents=True, exist_ok=True)
    (ner / "model" / "task.json").write_text(json.dumps({"task": "ner"}), encoding="utf-8")
    with pytest.raises(RecipeError, match=r"the teacher is a ner model, and this recipe trains task classification"):
        load_recipe(student_recipe(root, tiny_encoder, ner))


def test_a_layer_past_the_encoder_is_refused_with_its_depth(root: Path, tiny_encoder: Path, tiny_classifier_run: Path) -> None:
    recipe = student_recipe(root, tiny_encoder, tiny_classifier_run)
    recipe["encoder"]["layers"] = [0, 5]
    with pytest.raises(RecipeError, match=r"encoder\.layers: 5 out of range: encoder\.name = .* has 2 layers, numbered 0 to 1"):
        load_recipe(recipe)
    recipe["encoder"]["layers"] = [1, 0]
    with pytest.raises(RecipeError, match=r"encoder\.layers: expected layer indices .* increasing order"):
        load_recipe(recipe)


def test_a_teacher_trained_on_other_labels_is_refused_before_training(
    root: Path, tiny_encoder: Path, tiny_classifier_run: Path
) -> None:
    recipe = student_recipe(root, tiny_encoder, tiny_classifier_run)
    three = root / "three-labels.tsv"
    three.write_text("sentence\tlabel\n" + "".join(f"{t}\t{i % 3}\n" for i, t in enumerate(POSITIVE + NEGATIVE)))
    recipe["data"]["train"] = str(three)
    recipe["output"]["dir"] = str(root / "mismatch")
    with pytest.raises(RecipeError, match=r'other labels .*labels: teacher \["0", "1"\], this recipe\'s data \["0", "1", "2"\]'):
        nlpkit.run(recipe)
    assert not (root / "mismatch" / "model").exists()


def test_a_student_with_another_vocabulary_is_refused(root: Path, tiny_classifier_run: Path) -> None:
    other = tiny_bert(root / "other-bert", ["completely different words here", *DEFAULT_TEXTS[:2]], vocab_size=120)
    recipe = student_recipe(root, other, tiny_classifier_run)
    recipe["encoder"]["layers"] = None
    recipe["output"]["dir"] = str(root / "other-vocab")
    with pytest.raises(RecipeError, match=r"the teacher's vocabulary \(.* tokens\) is not encoder\.name = .*other-bert's"):
        nlpkit.run(recipe)


# -- what each built-in task compares ------------------------------------------------------


def built_task(name: str, **head: object):
    from nlpkit.plugins import get_task
    from nlpkit.recipe import build_recipe
    from nlpkit.task import TaskSettings

    return get_task(name)(TaskSettings.of(build_recipe({"task": name, "head": head})))


def test_ner_compares_the_tag_logits_of_labelled_pieces_only() -> None:
    logits = torch.arange(2 * 4 * 3, dtype=torch.float).reshape(2, 4, 3)
    label_mask = torch.tensor([[0, 1, 1, -100], [0, 1, 0, 1]])  # [CLS], first pieces, a continuation, padding
    rows = built_task("ner", crf=True).distill_logits({"logits": logits, "tags": logits}, {"label_mask": label_mask})
    assert list(rows) == ["tags"] and rows["tags"].kind == "softmax"
    assert torch.equal(rows["tags"].values, torch.stack([logits[0, 1], logits[0, 2], logits[1, 1], logits[1, 3]]))


def test_qa_compares_start_and_end_distributions_and_pairs_a_regression_its_value() -> None:
    start, end = torch.randn(2, 5), torch.randn(2, 5)
    rows = built_task("qa").distill_logits({"start_logits": start, "end_logits": end}, {})
    assert {name: (row.values is value, row.kind) for (name, row), value in zip(rows.items(), (start, end))} == {
        "start": (True, "softmax"), "end": (True, "softmax")}
    assert built_task("pair", type="regression").distill_logits(torch.zeros(2, 1), {})["labels"].kind == "value"
