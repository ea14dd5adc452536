"""Knowledge distillation: a student trains on a teacher's outputs as well as the labels.

A recipe's ``distill`` section names the teacher (a finished run directory of the same
task, trained on the same labels); the student is the recipe's own model, often a smaller
encoder (``encoder.layers``). Each training step runs the teacher on the same batch, in
eval mode and without gradients, and mixes the task's own loss with the soft loss::

    loss = alpha * hard + (1 - alpha) * soft + hidden_weight * hidden

where ``soft`` compares the outputs that the task names (:meth:`nlpkit.task.Task.distill_logits`),
softened by the temperature T: ``KL(teacher/T || student/T) * T**2`` for a distribution
(classes, tags, answer starts and ends), the binary KL per output for multi-label, the
squared error for regression. The T² keeps the soft loss's gradients at the scale of the
hard loss's whatever T is (Hinton et al., 2015). ``hidden`` (``distill.hidden_weight`` > 0)
is the mean squared error between the student's hidden states and the teacher's: the
embeddings' output against the embeddings', each student layer's output against that of
the teacher layer it was copied from (``encoder.layers``) or that ``distill.hidden_layers``
names, as DistilBERT and TinyBERT match them.

Rows of unlabelled transfer data (``distill.unlabelled``, :mod:`nlpkit.unlabelled`) have
no hard loss: the task's loss is computed on the batch's labelled rows alone, by running
the head again on their encoder outputs (a CRF's likelihood is one number per batch, so
the rows must be left out before the head, not after).

The teacher runs on the fly rather than from cached outputs: it costs one forward pass of
the teacher per step, and needs no memory or disk for per-token outputs (NER, QA) nor any
bookkeeping of which cached row a padded, shuffled batch holds.

The result is an ordinary run directory: nothing of the teacher is saved with it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from nlpkit.errors import RecipeError
from nlpkit.rundir import RunDir
from nlpkit.sections import DistillSection, Recipe

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from nlpkit.model import TaskModel
    from nlpkit.task import Logits, Task


def check_distill(recipe: Recipe) -> None:
    """What a recipe check can tell of the ``distill`` section without loading a model:
    the teacher, the unlabelled inputs' file, the hidden-state matching's layers. (``nlpkit
    recipe check`` also reads the unlabelled inputs: :func:`nlpkit.unlabelled.check_unlabelled`.)"""
    if recipe.distill is None:
        return
    check_teacher(recipe)
    check_hidden_settings(recipe)
    check_unlabelled_file(recipe)


def check_unlabelled_file(recipe: Recipe) -> None:
    """``distill.unlabelled``: a file that can be read and is not empty."""
    import os

    path = recipe.distill.unlabelled if recipe.distill else None
    if path is None:
        return
    where = f"{recipe.source}: distill.unlabelled = {path}"
    file = Path(path)
    if not file.exists():
        raise RecipeError(f"{where}: no such file (relative paths are read from the current directory, {Path.cwd()})")
    if not file.is_file():
        raise RecipeError(f"{where}: not a file; it holds the unlabelled inputs, one a line")
    if not os.access(file, os.R_OK):
        raise RecipeError(f"{where}: cannot be read (permission denied)")
    if file.stat().st_size == 0:
        raise RecipeError(f"{where}: the file is empty; it holds the unlabelled inputs, one a line")


def check_teacher(recipe: Recipe) -> None:
    """``distill.teacher``: a finished run directory, of the recipe's task, other than the
    run's own directory."""
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


def check_hidden_settings(recipe: Recipe) -> None:
    """``distill.hidden_weight`` needs to know which teacher layer each student layer
    matches: ``distill.hidden_layers``, else ``encoder.layers``, one per student layer."""
    assert recipe.distill is not None
    settings, kept = recipe.distill, recipe.encoder.layers
    where = f"{recipe.source}: distill"
    if settings.hidden_layers is not None and not settings.hidden_weight:
        raise RecipeError(f"{where}.hidden_layers is set but distill.hidden_weight is 0: give the hidden-state loss a "
                          "weight (e.g. distill.hidden_weight=1), or leave hidden_layers out")
    if settings.hidden_weight and settings.hidden_layers is None and kept is None:
        raise RecipeError(
            f"{where}.hidden_weight: which teacher layer does each student layer match? Give distill.hidden_layers "
            "(the teacher's layer index per student layer, e.g. [1, 3, 5]), or build the student with encoder.layers "
            "(each layer then matches the teacher layer it was copied from)"
        )
    if settings.hidden_layers is not None and kept is not None and len(settings.hidden_layers) != len(kept):
        raise RecipeError(
            f"{where}.hidden_layers: {len(settings.hidden_layers)} layers for a student of {len(kept)} "
            f"(encoder.layers = {kept}): name one teacher layer per student layer"
        )
    if settings.hidden_layers is not None and min(settings.hidden_layers) < 0:
        raise RecipeError(f"{where}.hidden_layers: layer indices count from 0, got {settings.hidden_layers}")


def hidden_pairs(recipe: Recipe, student: Any, teacher: Any) -> list[tuple[int, int]]:
    """(student, teacher) indices into the encoders' ``hidden_states`` (0: the
    embeddings' output, i + 1: layer i's) that the hidden-state loss matches, checked
    against the two encoders' configs; empty when ``distill.hidden_weight`` is 0."""
    assert recipe.distill is not None
    settings = recipe.distill
    if not settings.hidden_weight:
        return []
    where = f"{recipe.source}: distill.hidden_weight"
    if student.hidden_size != teacher.hidden_size:
        raise RecipeError(
            f"{where}: the student's hidden states have {student.hidden_size} values, the teacher's "
            f"{teacher.hidden_size}; hidden states are matched as they are, so the widths must be equal "
            "(a student of the teacher's encoder, e.g. with encoder.layers)"
        )
    layers = settings.hidden_layers or recipe.encoder.layers or []
    if len(layers) != student.num_hidden_layers:
        raise RecipeError(f"{where}: distill.hidden_layers names {len(layers)} layers for a student of "
                          f"{student.num_hidden_layers}; name one teacher layer per student layer")
    if max(layers) >= teacher.num_hidden_layers:
        raise RecipeError(f"{where}: teacher layer {max(layers)} out of range: the teacher has "
                          f"{teacher.num_hidden_layers} layers, numbered 0 to {teacher.num_hidden_layers - 1}")
    return [(0, 0)] + [(i + 1, layer + 1) for i, layer in enumerate(layers)]


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
    """The teacher and the mix of losses: :meth:`step` gives a student's training loss.

    Deliberately not a ``torch.nn.Module``: held by the LightningModule as a plain
    attribute, the teacher is neither trained, nor saved in checkpoints, nor switched to
    training mode (dropout) by Lightning."""

    def __init__(
        self, teacher: "TaskModel", task: "Task", settings: DistillSection, hidden: Sequence[tuple[int, int]] = ()
    ) -> None:
        self.teacher = teacher.eval().requires_grad_(False)
        self.task = task
        self.temperature = settings.temperature
        self.alpha = settings.alpha
        self.hidden_weight = settings.hidden_weight
        self.hidden = list(hidden)
        """(student, teacher) indices of the hidden states matched (:func:`hidden_pairs`)."""

    def teacher_outputs(
        self, batch: Mapping[str, "torch.Tensor"], *, hidden_states: bool = False
    ) -> tuple[dict[str, "Logits"], Any]:
        """The teacher's :meth:`~nlpkit.task.Task.distill_logits` for ``batch``, and its
        hidden states (with ``hidden_states``; else None)."""
        import torch

        device = batch["input_ids"].device
        if next(self.teacher.parameters()).device != device:
            self.teacher.to(device)  # the Trainer moves the student, not the teacher
        with torch.no_grad():
            encoded = self.teacher.encode(dict(batch), hidden_states=hidden_states)
            logits = self.task.distill_logits(self.teacher.head(encoded, dict(batch)), dict(batch))
        return logits, encoded.hidden_states if hidden_states else None

    def step(self, student: "TaskModel", batch: dict[str, "torch.Tensor"]) -> tuple["torch.Tensor", dict[str, "torch.Tensor"]]:
        """The student's training loss on ``batch``, and its parts by name (``hard_loss``,
        ``soft_loss``, ``hidden_loss`` where matched) for the logs."""
        hidden = bool(self.hidden_weight and self.hidden)
        encoded = student.encode(batch, hidden_states=hidden)
        output = student.head(encoded, batch)
        teacher, teacher_hidden = self.teacher_outputs(batch, hidden_states=hidden)
        hard = hard_loss(student, encoded, output, batch)
        soft = soft_loss(self.task.distill_logits(output, batch), teacher, self.temperature)
        loss = self.alpha * hard + (1 - self.alpha) * soft
        parts = {"hard_loss": hard, "soft_loss": soft}
        if hidden:
            parts["hidden_loss"] = hidden_loss(encoded.hidden_states, teacher_hidden, self.hidden, batch["attention_mask"])
            loss = loss + self.hidden_weight * parts["hidden_loss"]
        return loss, parts


def hard_loss(model: "TaskModel", encoded: Any, output: Any, batch: dict[str, "torch.Tensor"]) -> "torch.Tensor":
    """The task's loss on the batch's labelled rows: all of them, or (unlabelled transfer
    data among them) the head run again on theirs alone; 0 for a batch of unlabelled rows."""
    from nlpkit.data import TEACHER_ONLY

    teacher_only = batch.get(TEACHER_ONLY)
    if teacher_only is None or not bool(teacher_only.any()):
        return model.head.loss(output, batch)
    labelled = teacher_only == 0
    if not bool(labelled.any()):
        return _zero(output)
    rows = {key: value[labelled] if _per_row(value, labelled) else value for key, value in batch.items()}
    kept = type(encoded)(**{key: _select(value, labelled) for key, value in encoded.items()})
    return model.head.loss(model.head(kept, rows), rows)


def _per_row(value: Any, rows: "torch.Tensor") -> bool:
    import torch

    return isinstance(value, torch.Tensor) and value.dim() > 0 and value.shape[0] == rows.shape[0]


def _select(value: Any, rows: "torch.Tensor") -> Any:
    """``value``'s rows where ``rows`` is true: a tensor, or a tuple of them (hidden states)."""
    if isinstance(value, tuple):
        return tuple(_select(v, rows) for v in value)
    return value[rows] if _per_row(value, rows) else value


def _zero(output: Any) -> "torch.Tensor":
    """0, on the output's graph and device."""
    import torch

    tensor = output if isinstance(output, torch.Tensor) else next(v for v in output.values() if isinstance(v, torch.Tensor))
    return tensor.sum() * 0


def hidden_loss(
    student: Sequence["torch.Tensor"], teacher: Sequence["torch.Tensor"], pairs: Sequence[tuple[int, int]],
    attention_mask: "torch.Tensor",
) -> "torch.Tensor":
    """The mean over ``pairs`` of the mean squared error between a student's and a
    teacher's hidden states (batch, tokens, width), over the batch's real tokens."""
    import torch

    mask = attention_mask.unsqueeze(-1).float()
    values = mask.sum() * student[0].shape[-1]
    errors = [(((student[s].float() - teacher[t].float()) ** 2) * mask).sum() / values for s, t in pairs]
    return torch.stack(errors).mean()


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

