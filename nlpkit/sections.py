"""The recipe's schema: its typed sections and their defaults, with no knowledge of plugins.

A task extends ``data`` and ``head`` with option classes of its own (subclasses of
:class:`DataSection` and :class:`HeadSection`); loading a recipe and validating it against
its task's options is :mod:`nlpkit.recipe`'s job, which also re-exports these classes
(plugins import them from there).
"""

from __future__ import annotations

import codecs
import types
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator
from pydantic_core import PydanticCustomError


class Section(BaseModel):
    """A recipe section: unknown keys are errors, values are type-checked."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    @field_validator("*", mode="before")
    @classmethod
    def _no_bool_for_number(cls, value: Any, info: ValidationInfo) -> Any:
        # Pydantic's lax mode reads `epochs: true` as 1; strings of digits (from ${ENV})
        # stay accepted. Declared on the base, so every task's option class has it too.
        field = cls.model_fields.get(info.field_name or "")
        if field is not None and _bool_for_number(field.annotation, value):
            raise PydanticCustomError("bool_for_number", "expected a number, not a boolean")
        return value


def _bool_for_number(annotation: Any, value: Any) -> bool:
    """Whether ``value`` holds a boolean where ``annotation`` takes a number but no boolean."""
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is Annotated:
        return _bool_for_number(args[0], value)
    if origin in (Union, types.UnionType):
        if isinstance(value, bool) and any(a in (bool, Any) for a in args):
            return False
        return any(_bool_for_number(a, value) for a in args)
    if isinstance(value, bool):
        return annotation in (int, float)
    if origin in (list, tuple, set, frozenset) and isinstance(value, (list, tuple)):
        if origin is tuple and Ellipsis not in args:  # fixed length: one type per position
            return any(_bool_for_number(a, v) for a, v in zip(args, value))
        return bool(args) and any(_bool_for_number(args[0], v) for v in value)
    if origin is dict and isinstance(value, dict) and len(args) == 2:
        return any(_bool_for_number(args[1], v) for v in value.values())
    return False


class EncoderSection(Section):
    name: str = Field("minilm", description="Local path, hub id, or registered alias.")
    max_length: int = Field(128, gt=8, le=8192, description="Tokens per sequence (window).")
    init: Literal["pretrained", "scratch"] = Field(
        "pretrained",
        description="'scratch': random weights, BertConfig defaults updated by `config` "
        "(the tokenizer comes from `name`, or is trained with train_tokenizer).",
    )
    config: dict[str, Any] = Field(
        default_factory=dict,
        description="Overrides of the model config, e.g. num_hidden_layers (with init: scratch).",
    )
    train_tokenizer: bool = Field(
        False, description="Train a new WordPiece vocabulary on the training texts (tokenizers)."
    )
    vocab_size: int = Field(8000, gt=100, description="Size of a trained vocabulary.")
    lowercase: bool = Field(True, description="Lower-case when training a vocabulary.")
    extend_vocab: bool = Field(
        False,
        description="Add the training data's characters/words missing from the vocabulary "
        "as new tokens (new embedding rows, trained during fine-tuning).",
    )
    extend_vocab_min_count: int = Field(2, ge=1, description="Minimum count of a new token.")
    new_token_init: Literal["normal", "pieces", "mean"] = Field(
        "normal",
        description="How the embeddings of added tokens start: 'normal' (drawn like the old rows: their "
        "mean and covariance), 'pieces' (the mean of the old vocabulary's pieces of the token, else "
        "'normal'), 'mean' (all at the old rows' mean, as transformers' resizing does).",
    )
    layers: list[int] | None = Field(
        None, min_length=1,
        description="Keep only these transformer layers of the pretrained encoder, by index from 0, in "
        "increasing order (a smaller student: [0, 2, 4] of a 6-layer encoder); null: all.",
    )

    @field_validator("layers")
    @classmethod
    def _increasing_layers(cls, value: list[int] | None) -> list[int] | None:
        if value is not None and (value[0] < 0 or any(b <= a for a, b in zip(value, value[1:]))):
            raise PydanticCustomError(
                "layers", "expected layer indices from 0 up, each once, in increasing order (e.g. [0, 2, 4])"
            )
        return value


class DataSection(Section):
    """Core data keys; a task's ``DataOptions`` subclasses this with its own keys."""

    train: str | None = Field(
        None,
        description="Training file: the task's text formats, or a table (Parquet, Arrow, a datasets save_to_disk "
        "directory), recognised by content. Relative paths: from the current directory.",
    )
    validation: str | None = Field(None, description="Validation file: metrics every epoch, best checkpoint.")
    test: str | None = Field(None, description="Test file: scored once with the best model.")
    limit_train: int | None = Field(None, gt=0, description="Use only the first N training examples.")
    limit_validation: int | None = Field(None, gt=0, description="Use only the first N validation examples.")
    limit_test: int | None = Field(None, gt=0, description="Use only the first N test examples.")
    validation_split: float | None = Field(
        None, gt=0, lt=1, description="Hold out this seeded fraction of train as validation."
    )
    test_split: float | None = Field(
        None, gt=0, lt=1, description="Hold out this seeded fraction of train as test (apart from validation_split's)."
    )
    split_seed: int = Field(13, description="Seed of validation_split and test_split.")
    columns: dict[str, str] = Field(
        default_factory=dict,
        description="The data's column names by the names the task reads, e.g. {text: review_body, label: stars}: "
        "Parquet, Arrow, datasets and in-memory data, delimited files with a header, JSONL keys.",
    )
    encoding: str = Field("utf-8-sig", description="Text encoding of the data files.")
    on_error: Literal["raise", "skip"] = Field(
        "raise", description="A malformed row stops the run, or is skipped and counted."
    )
    cache: bool = Field(True, description="Cache tokenized features between runs.")
    cache_dir: str | None = Field(None, description="Default: $NLPKIT_CACHE or ~/.cache/nlpkit.")

    @field_validator("encoding")
    @classmethod
    def _text_encoding(cls, value: str) -> str:
        # Checked here, not when the first file is opened after the recipe was accepted.
        try:
            codecs.lookup(value)
        except LookupError:
            raise PydanticCustomError(
                "encoding", "not a known text encoding (e.g. utf-8, utf-8-sig, latin-1, cp1252)"
            ) from None
        try:
            "".encode(value)  # rot13, base64 and the like are codecs, but not for text files
        except LookupError:
            raise PydanticCustomError("encoding", "a codec, but not a text encoding") from None
        return value


class HeadSection(Section):
    """Core head keys; a task's ``HeadOptions`` subclasses this."""

    dropout: float = Field(0.1, ge=0, lt=1, description="Dropout before the head's output layer.")


NEW_TOKEN_LR = 2e-3  # with the normal start: ChnSentiCorp 0.82 against 0.61 (mean start, encoder's rate); docs/benchmarks.md


class TrainSection(Section):
    epochs: int = Field(3, gt=0, description="Passes over the training data.")
    max_steps: int = Field(-1, description="Stop after this many optimizer steps (-1: epochs decide).")
    batch_size: int = Field(32, gt=0, description="Training examples (features) per optimizer step and device.")
    eval_batch_size: int = Field(64, gt=0, description="Batch size of evaluation and prediction.")
    lr: float = Field(5e-5, gt=0, description="Peak learning rate of AdamW (linear warm-up, then linear decay).")
    head_lr: float | None = Field(None, gt=0, description="Learning rate of the head (default: lr).")
    new_token_lr: float | None = Field(
        NEW_TOKEN_LR, gt=0,
        description="Learning rate of the embeddings of tokens added to the vocabulary (encoder.extend_vocab); "
        "null: the embeddings' own.",
    )
    weight_decay: float = Field(0.01, ge=0, description="AdamW weight decay (not on biases and LayerNorm).")
    warmup_ratio: float = Field(0.1, ge=0, lt=1, description="Share of the steps spent warming up.")
    freeze_encoder: bool = Field(
        False, description="Train the head only (linear probing; a baseline for pre-training)."
    )
    layer_lr_decay: float = Field(
        1.0, gt=0, le=1, description="Layer-wise learning-rate decay (1.0 = off)."
    )
    max_grad_norm: float | None = Field(1.0, gt=0, description="Gradient clipping (None: off).")
    seed: int = Field(42, description="Seeds weights of the head, shuffling and dropout.")
    precision: Literal["auto", "32", "bf16-mixed"] = Field(
        "auto", description="auto: bf16-mixed where the hardware has bf16 matrix units, else 32."
    )
    monitor: str | None = Field(None, description="Validation metric for the best checkpoint.")
    monitor_mode: Literal["max", "min"] | None = Field(None, description="Whether higher or lower is better (default: the task's).")
    early_stopping_patience: int | None = Field(None, gt=0, description="Stop after this many validations without improvement.")
    checkpoint_every_n_steps: int = Field(200, gt=0, description="Save last.ckpt for --resume.")
    group_by_length: bool = Field(True, description="Batch examples of similar length (less padding).")
    pad_to_multiple_of: int = Field(
        1, ge=1, description="Pad each batch's length up to a multiple of this (8 for long windows: fewer distinct shapes, less memory).",
    )
    num_workers: int = Field(0, ge=0, description="DataLoader worker processes.")
    log_every_n_steps: int | None = Field(
        None, gt=0, description="Steps between points of the training loss in the logs, each the mean loss of its "
        "steps (None: about 200 points over the run).",
    )

    @field_validator("precision", mode="before")
    @classmethod
    def _precision_as_text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value

    @field_validator("max_steps")
    @classmethod
    def _steps_or_epochs(cls, value: int) -> int:
        # 0 would train nothing and still export the untrained model as a result.
        if value == 0 or value < -1:
            raise PydanticCustomError("max_steps", "expected -1 (the epochs decide) or a positive number of steps")
        return value


class OutputSection(Section):
    dir: str = Field("runs/{task}", description="Run directory; {task} is replaced.")
    save_predictions: bool = Field(True, description="Write predictions of validation and test.")
    keep_checkpoints: bool = Field(False, description="Keep Lightning checkpoints after the run.")
    report: bool = Field(
        True, description="Draw learning_curve.png and write report.html at the end of the run (their "
        "figures take a second or two; `nlpkit report RUN` writes the report later).",
    )


class DistillSection(Section):
    """Knowledge distillation: the model trains on a teacher's outputs as well as the labels."""

    teacher: str = Field(description="A finished run directory of the same task and labels (the teacher).")
    temperature: float = Field(2.0, gt=0, description="Softens both distributions before they are compared.")
    alpha: float = Field(
        0.5, ge=0, le=1,
        description="Weight of the hard loss (the task's own, against the labels); 1 - alpha weighs the soft "
        "loss (against the teacher). 1: labels only, 0: teacher only.",
    )
    unlabelled: str | None = Field(
        None, description="Extra training inputs without labels, read as `nlpkit predict --input` reads a file (one "
        "text, or JSON value, a line; or the task's own format): they train on the soft loss alone.",
    )
    unlabelled_limit: int | None = Field(None, gt=0, description="Use only the first N inputs of `unlabelled`.")
    hidden_weight: float = Field(
        0.0, ge=0, description="Weight of the hidden-state loss: the mean squared error between the student's hidden "
        "states and the teacher's (embeddings and each layer's output); 0: off.",
    )
    hidden_layers: list[int] | None = Field(
        None, min_length=1, description="The teacher layer (by index from 0) that each student layer matches with "
        "hidden_weight; default: the layers of encoder.layers, the ones the student was copied from.",
    )

    @model_validator(mode="before")
    @classmethod
    def _unlabelled_needs_a_teacher(cls, value: Any) -> Any:
        # Said before pydantic's bare "field required": why the teacher is needed here.
        if isinstance(value, dict) and value.get("teacher") is None and value.get("unlabelled") is not None:
            raise PydanticCustomError(
                "teacher", "distill.teacher is required with distill.unlabelled: unlabelled inputs have no label, "
                "the teacher's outputs are their only target (name a finished run of the task)",
            )
        return value


class Recipe(Section):
    """A validated recipe. ``data`` and ``head`` are the task's own option classes."""

    task: str
    encoder: EncoderSection = Field(default_factory=EncoderSection)
    data: DataSection = Field(default_factory=DataSection)
    head: HeadSection = Field(default_factory=HeadSection)
    train: TrainSection = Field(default_factory=TrainSection)
    trainer: dict[str, Any] = Field(
        default_factory=dict, description="Passed through to the Lightning Trainer."
    )
    output: OutputSection = Field(default_factory=OutputSection)
    distill: DistillSection | None = Field(None, description="Train on a teacher's outputs (knowledge distillation).")
    source: str | None = Field(None, exclude=True, description="File the recipe came from.")

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude={"source"})

    @property
    def output_dir(self) -> Path:
        return Path(self.output.dir.replace("{task}", self.task))


SECTIONS = ("task", "encoder", "data", "head", "train", "trainer", "output", "distill")
