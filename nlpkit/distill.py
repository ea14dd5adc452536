"""Knowledge distillation: a student trains on a teacher's outputs as well as the labels.

A recipe's ``distill`` section names the teacher (a finished run directory of the same
task, trained on the same labels); the student is the recipe's own model, often a smaller
encoder (``encoder.layers``). Each training step runs the teacher on the same batch, in
eval mode and without gradients, and mixes the task's own loss with the soft loss::

    loss = alpha * hard + (1 - alpha) * soft

where ``soft`` compares the outputs that the task names (:meth:`nlpkit.task.Task.distill_logits`),
softened by the temperature T: ``KL(teacher/T || student/T) * T**2`` for a distribution
(classes, tags, answer starts and ends), the binary KL per output for multi-label, the
squared error for regression. The T² keeps the soft loss's gradients at the scale of the
hard loss's whatever T is (Hinton et al., 2015).

The teacher runs on the fly rather than from cached outputs: it costs one forward pass of
the teacher per step, and needs no memory or disk for per-token outputs (NER, QA) nor any
bookkeeping of which cached row a padded, shuffled batch holds.

The result is an ordinary run directory: nothing of the teacher is saved with it.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Mapping

from nlpkit.errors import RecipeError
from nlpkit.rundir import RunDir
from nlpkit.sections import DistillSection, Recipe

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from nlpkit.task import Logits, Task


def check_teacher(recipe: Recipe) -> None:
    """What a recipe check can tell of ``distill.teacher`` without loading it: a finished
    run directory, of the recipe's task, other than the run's own directory."""
    if recipe.distill is None:
        return
    teacher = recipe.distill.teacher
    where = f"{recipe.source}: distill.teacher = {teacher}"
    run = RunDir(teacher)
    if not run.path.is_dir():
        raise RecipeError(f"{where}: no such directory; the teacher is a finished run directory (nlpkit run)")
    task = run.model_dir.task_name()
    if task is None:
        raise RecipeError(f"{where}: not a finished run directory (no saved model in it)")
    if task != recipe.task:
        raise RecipeError(
            f"{where}: the teacher is a {task} model, and this recipe trains task {recipe.task}; "
            "a student learns its teacher's task"
        )
    if run.path.resolve() == recipe.output_dir.resolve():
        raise RecipeError(f"{where}: it is this run's own output.dir, which the run would overwrite")


def check_match(
    recipe: Recipe, student: "Task", tokenizer: Any, teacher: "Task", teacher_tokenizer: Any
) -> None:
    """The teacher reads the student's batches and its outputs are compared row by row:
    the two must share the vocabulary (the same token ids) and the labels (the same
    outputs in the same order)."""
    assert recipe.distill is not None
    where = f"{recipe.source}: distill.teacher = {recipe.distill.teacher}"
    ours, theirs = tokenizer.get_vocab(), teacher_tokenizer.get_vocab()
    if ours != theirs:
        differ = sum(1 for token, i in ours.items() if theirs.get(token) != i) + len(set(theirs) - set(ours))
        raise RecipeError(
            f"{where}: the teacher's vocabulary ({len(theirs):,} tokens) is not encoder.name = {recipe.encoder.name}'s "
            f"({len(ours):,} tokens; {differ:,} differ); the teacher reads the student's token ids, so the student "
            "needs the teacher's tokenizer (e.g. the same encoder.name, or the teacher's model directory)"
        )
    mine, its = student.state_dict(), teacher.state_dict()
    if mine != its:
        keys = sorted(k for k in {*mine, *its} if mine.get(k) != its.get(k))
        shown = "; ".join(f"{k}: teacher {_short(its.get(k))}, this recipe's data {_short(mine.get(k))}" for k in keys)
        raise RecipeError(
            f"{where}: the teacher was trained on other labels than this recipe's training data gives ({shown}); "
            "a student matches its teacher's outputs one by one, so they must be the same"
        )


def _short(value: Any, limit: int = 120) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 3] + "..."


class Distiller:
    """The teacher and the mix of losses: :meth:`loss` gives a student's training loss.

    Deliberately not a ``torch.nn.Module``: held by the LightningModule as a plain
    attribute, the teacher is neither trained, nor saved in checkpoints, nor switched to
    training mode (dropout) by Lightning."""

    def __init__(self, teacher: "torch.nn.Module", task: "Task", settings: DistillSection) -> None:
        self.teacher = teacher.eval().requires_grad_(False)
        self.task = task
        self.temperature = settings.temperature
        self.alpha = settings.alpha

    def teacher_logits(self, batch: Mapping[str, "torch.Tensor"]) -> dict[str, "Logits"]:
        import torch

        device = batch["input_ids"].device
        if next(self.teacher.parameters()).device != device:
            self.teacher.to(device)  # the Trainer moves the student, not the teacher
        with torch.no_grad():
            return self.task.distill_logits(self.teacher(dict(batch)), dict(batch))

    def loss(
        self, output: Any, hard: "torch.Tensor", batch: Mapping[str, "torch.Tensor"]
    ) -> tuple["torch.Tensor", "torch.Tensor"]:
        """``(alpha * hard + (1 - alpha) * soft, soft)`` for the student's ``output`` on
        ``batch`` and its task loss ``hard``."""
        soft = soft_loss(self.task.distill_logits(output, dict(batch)), self.teacher_logits(batch), self.temperature)
        return self.alpha * hard + (1 - self.alpha) * soft, soft


def soft_loss(
    student: Mapping[str, "Logits"], teacher: Mapping[str, "Logits"], temperature: float
) -> "torch.Tensor":
    """The mean over the named outputs of each one's soft loss (QA: start and end)."""
    import torch

    if student.keys() != teacher.keys():
        raise RuntimeError(f"distillation: the student gives outputs {sorted(student)}, the teacher {sorted(teacher)}")
    losses = [_soft_loss(student[name], teacher[name], temperature) for name in student]
    return torch.stack(losses).mean()


def _soft_loss(student: "Logits", teacher: "Logits", temperature: float) -> "torch.Tensor":
    from torch.nn import functional as F

    s, t = student.values.float(), teacher.values.float()
    if s.shape != t.shape:
        raise RuntimeError(f"distillation: student outputs {tuple(s.shape)} against the teacher's {tuple(t.shape)}")
    if student.kind == "value":
        return F.mse_loss(s, t)
    if s.shape[0] == 0:  # no labelled token in the batch
        return s.sum() * 0
    s, t = s / temperature, t / temperature
    if student.kind == "softmax":
        kl = F.kl_div(F.log_softmax(s, dim=-1), F.log_softmax(t, dim=-1), log_target=True, reduction="batchmean")
    else:  # sigmoid: a Bernoulli per output, averaged over outputs
        p = t.sigmoid()
        kl = (p * (F.logsigmoid(t) - F.logsigmoid(s)) + (1 - p) * (F.logsigmoid(-t) - F.logsigmoid(-s))).mean()
    return kl * temperature**2

