"""Recipes: one YAML file per experiment, validated against typed sections.

Flow: YAML (safe, checked for alias bombs and duplicate keys) -> ``key.sub=value``
overrides -> ``${ENV}`` interpolation -> validation of the core sections and of the task
plugin's own ``data``/``head`` options -> the monitored metric against the task's metrics.
Every error names the file, the key and what was expected, with a "did you mean" hint.
"""

from __future__ import annotations

import ast
import codecs
import copy
import difflib
import functools
import importlib.util
import inspect
import os
import re
import types
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, Mapping, Sequence, Union, get_args, get_origin

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from nlpkit.errors import RecipeError

if TYPE_CHECKING:  # pragma: no cover
    from nlpkit.task import Task


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


class DataSection(Section):
    """Core data keys; a task's ``DataOptions`` subclasses this with its own keys."""

    train: str | None = Field(None, description="Training file (relative paths: from the current directory).")
    validation: str | None = Field(None, description="Validation file: metrics every epoch, best checkpoint.")
    test: str | None = Field(None, description="Test file: scored once with the best model.")
    limit_train: int | None = Field(None, gt=0, description="Use only the first N training examples.")
    limit_validation: int | None = Field(None, gt=0, description="Use only the first N validation examples.")
    limit_test: int | None = Field(None, gt=0, description="Use only the first N test examples.")
    validation_split: float | None = Field(
        None, gt=0, lt=1, description="Hold out this seeded fraction of train as validation."
    )
    split_seed: int = Field(13, description="Seed of validation_split.")
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


class TrainSection(Section):
    epochs: int = Field(3, gt=0, description="Passes over the training data.")
    max_steps: int = Field(-1, description="Stop after this many optimizer steps (-1: epochs decide).")
    batch_size: int = Field(32, gt=0, description="Training examples (features) per optimizer step and device.")
    eval_batch_size: int = Field(64, gt=0, description="Batch size of evaluation and prediction.")
    lr: float = Field(5e-5, gt=0, description="Peak learning rate of AdamW (linear warm-up, then linear decay).")
    head_lr: float | None = Field(None, gt=0, description="Learning rate of the head (default: lr).")
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
    log_every_n_steps: int = Field(10, gt=0, description="Training loss logging interval.")

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
    source: str | None = Field(None, exclude=True, description="File the recipe came from.")

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude={"source"})

    @property
    def output_dir(self) -> Path:
        return Path(self.output.dir.replace("{task}", self.task))


SECTIONS = ("task", "encoder", "data", "head", "train", "trainer", "output")
_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


class _Loader(yaml.SafeLoader):
    """Safe YAML, with YAML 1.2's floats: PyYAML (YAML 1.1) reads ``1e-4`` as a string."""


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9_]+)[eE][-+]?[0-9]+$"),
    list("-+0123456789."),
)


ALIAS_BUDGET = 10_000
"""Nodes that aliases may add to a document beyond those written in it. Anchors and
aliases (``*defaults``, ``<<: *defaults``) add tens; nested aliases that repeat each
other ("billion laughs") add billions from a few hundred bytes, and whatever walks the
result (interpolation, validation) would run out of time and memory."""


def parse_yaml(text: str, where: str = "<yaml>") -> Any:
    """Safe YAML with YAML 1.2 floats. The node graph is checked before any Python object
    is built: aliases may not expand it past :data:`ALIAS_BUDGET`, nor refer to
    themselves, and a mapping may not repeat a key (PyYAML would keep the last)."""
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _check_expansion(node, where)
        _check_duplicate_keys(node, where, loader)
        return loader.construct_document(node)
    finally:
        loader.dispose()


def _check_expansion(root: yaml.Node, where: str) -> None:
    """Count the nodes of the document with its aliases expanded, each distinct node
    once (memoised): time and memory grow with the file, not with the expansion."""
    sizes: dict[int, int] = {}
    expanded = _expanded_size(root, sizes, where)
    if expanded - len(sizes) > ALIAS_BUDGET:
        raise RecipeError(
            f"{where}: aliases expand its {len(sizes):,} YAML nodes to {expanded:,}; at most {ALIAS_BUDGET:,} "
            "more than written are allowed (nested aliases that repeat each other, a 'billion laughs' document)"
        )


def _expanded_size(node: yaml.Node, sizes: dict[int, int], where: str) -> int:
    key = id(node)
    if key in sizes:
        if sizes[key] < 0:  # still being counted: the alias sits inside its own anchor
            raise RecipeError(f"{where}:{node.start_mark.line + 1}: an alias refers to the node that contains it")
        return sizes[key]
    sizes[key] = -1
    if isinstance(node, yaml.MappingNode):
        children = [child for pair in node.value for child in pair]
    elif isinstance(node, yaml.SequenceNode):
        children = list(node.value)
    else:
        children = []
    sizes[key] = 1 + sum(_expanded_size(child, sizes, where) for child in children)
    return sizes[key]


def _check_duplicate_keys(root: yaml.Node, where: str, loader: yaml.SafeLoader) -> None:
    """Every mapping (each distinct node once) names each key once; merged keys
    (``<<: *defaults``) may be given again, as YAML's merge allows."""
    seen: set[int] = set()
    stack: list[tuple[yaml.Node, str]] = [(root, "")]
    while stack:
        node, path = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, yaml.SequenceNode):
            stack.extend((item, f"{path}[{i}]") for i, item in enumerate(node.value))
        elif isinstance(node, yaml.MappingNode):
            lines: dict[Any, int] = {}
            for key_node, value_node in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge" or not isinstance(key_node, yaml.ScalarNode):
                    continue
                key = loader.construct_object(key_node)
                dotted = f"{path}.{key}" if path else str(key)
                line = key_node.start_mark.line + 1
                if key in lines:
                    raise RecipeError(
                        f"{where}:{line}: duplicate key {dotted} (lines {lines[key]} and {line}); "
                        "YAML would silently keep only the last: merge them or delete one"
                    )
                lines[key] = line
                stack.append((value_node, dotted))


def _decode(data: bytes, path: Path) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise RecipeError(
            f"{path}:{line}: byte 0x{data[exc.start]:02x} (column {column}) is not UTF-8; "
            "a recipe is read as UTF-8: save it in that encoding"
        ) from None


def read_yaml(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise RecipeError(f"recipe file {path} does not exist")
    text = _decode(path.read_bytes(), path)
    try:
        loaded = parse_yaml(text, str(path))
    except RecursionError:
        raise RecipeError(f"{path}: nested too deeply to read") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        if mark is not None and mark.line >= len(text.splitlines()):  # at the end of the file:
            mark = getattr(exc, "context_mark", None) or mark  # where the unclosed construct began
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise RecipeError(f"{where}: not valid YAML: {getattr(exc, 'problem', exc)}") from None
    if loaded is None:
        loaded = {}
    if not isinstance(loaded, dict):
        raise RecipeError(f"{path}: a recipe is a mapping of sections ({', '.join(SECTIONS)})")
    return loaded


def interpolate(value: Any, source: str, key: str = "") -> Any:
    """Replace ``${VAR}`` and ``${VAR:-default}`` in every string of ``value``."""
    if isinstance(value, dict):
        return {k: interpolate(v, source, f"{key}.{k}" if key else str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, source, f"{key}[{i}]") for i, v in enumerate(value)]
    if not isinstance(value, str):
        return value

    def replace(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        if default is not None and not os.environ.get(name):
            return default  # unset or empty, as the shell's ${VAR:-default}
        if name in os.environ:
            return os.environ[name]
        raise RecipeError(
            f"{source}: {key} uses ${{{name}}}, but the environment variable {name} is not set "
            f"(set it, or write ${{{name}:-default}})"
        )

    return _ENV.sub(replace, value)


def apply_overrides(raw: dict[str, Any], overrides: Sequence[str], source: str) -> dict[str, Any]:
    """Apply ``a.b=value`` overrides; the value is parsed as YAML (``1`` is an int)."""
    raw = copy.deepcopy(raw)
    for item in overrides:
        if "=" not in item:
            raise RecipeError(f"override '{item}' is not of the form key.sub=value (e.g. train.epochs=1)")
        dotted, text = item.split("=", 1)
        try:
            value = parse_yaml(text, f"{source}: override {dotted.strip()}") if text.strip() else None
        except (yaml.YAMLError, RecursionError):
            value = text
        parts = dotted.strip().split(".")
        node = raw
        for part in parts[:-1]:
            child = node.get(part)
            if child is None:
                child = node[part] = {}
            if not isinstance(child, dict):
                raise RecipeError(f"override '{item}': {part} is not a section")
            node = child
        node[parts[-1]] = value
    return raw


def _describe(error: Mapping[str, Any], known: Mapping[str, Sequence[str]]) -> str:
    loc = ".".join(str(p) for p in error["loc"])
    kind = error["type"]
    if kind == "extra_forbidden":
        section, _, leaf = loc.rpartition(".")
        options = known.get(section, ())
        hint = difflib.get_close_matches(leaf, options, n=1, cutoff=0.6)
        suggestion = f" (did you mean {section + '.' if section else ''}{hint[0]}?)" if hint else ""
        listing = f"; known keys: {', '.join(options)}" if options and not hint else ""
        return f"unknown key {loc}{suggestion}{listing}"
    if kind == "missing":
        return f"{loc} is required"
    given = error.get("input")
    message = error["msg"]
    return f"{loc}: {message[:1].lower()}{message[1:]}, got {given!r}"


def _known_keys(model: type[BaseModel], prefix: str = "") -> dict[str, list[str]]:
    keys: dict[str, list[str]] = {prefix: [n for n in model.model_fields if n != "source"]}
    for name, field in model.model_fields.items():
        ann = field.annotation
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            keys.update(_known_keys(ann, f"{prefix}.{name}" if prefix else name))
    return keys


def build_recipe(raw: Mapping[str, Any], source: str = "<recipe>", *, check_paths: bool = True) -> Recipe:
    """Validate a raw mapping against the core sections and the task plugin's options."""
    from nlpkit.plugins import get_task  # plugins need the recipe types; import late

    raw = dict(raw)
    task_name = raw.get("task")
    if task_name is None:
        raise RecipeError(f"{source}: the key 'task' is required (e.g. task: classification)")
    if not isinstance(task_name, str):
        raise RecipeError(f"{source}: task must be a task name, got {task_name!r}")
    task_cls = get_task(task_name, source=source)
    model = task_cls.recipe_model()
    try:
        recipe = model.model_validate({**raw, "source": source})
    except ValidationError as exc:
        known = _known_keys(model)
        problems = "; ".join(_describe(e, known) for e in exc.errors())
        raise RecipeError(f"{source}: {problems}") from None
    check_trainer_keys(recipe)
    if recipe.data.validation and recipe.data.validation_split:
        raise RecipeError(f"{source}: give either data.validation or data.validation_split, not both")
    check_monitor(recipe, task_cls)
    if check_paths:
        check_files(recipe)
    return recipe


@functools.cache
def trainer_arguments() -> frozenset[str]:
    """The argument names of ``pytorch_lightning.Trainer``, read from its source file:
    importing Lightning (and torch) takes seconds, and a misspelt ``trainer.*`` key
    should fail at once, before any data is read."""
    spec = importlib.util.find_spec("pytorch_lightning")  # a top-level spec imports nothing
    if spec is not None and spec.submodule_search_locations:
        path = Path(list(spec.submodule_search_locations)[0], "trainer", "trainer.py")
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
            trainer = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Trainer")
            init = next(n for n in trainer.body if isinstance(n, ast.FunctionDef) and n.name == "__init__")
            names = {a.arg for a in (*init.args.args[1:], *init.args.kwonlyargs)}
            if names:
                return frozenset(names)
        except (OSError, StopIteration, SyntaxError):
            pass
    import pytorch_lightning as pl  # a layout we do not know: ask the class itself

    return frozenset(inspect.signature(pl.Trainer.__init__).parameters) - {"self"}


def check_trainer_keys(recipe: Recipe) -> None:
    known = trainer_arguments()
    for key in recipe.trainer:
        if key not in known:
            hint = difflib.get_close_matches(key, sorted(known), n=1)
            raise RecipeError(
                f"{recipe.source}: unknown key trainer.{key}"
                + (f" (did you mean trainer.{hint[0]}?)" if hint else "")
                + "; the trainer section takes the arguments of pytorch_lightning.Trainer"
            )


def check_monitor(recipe: Recipe, task_cls: type["Task"]) -> None:
    """``train.monitor`` must be a metric that the task's validation reports for these
    options: found out after a first epoch of training, a typo costs the epoch."""
    from nlpkit.task import Task

    monitor = recipe.train.monitor
    if monitor is None or task_cls.metric_names is Task.metric_names:
        return  # the task does not say (a plugin's choice): the first validation checks it
    names = task_cls(recipe).metric_names()
    if names is None or monitor in names:
        return
    known = sorted(names)
    if monitor.startswith("val_") and monitor[4:] in names:
        hint = f" (did you mean {monitor[4:]}? the metric is named without the val_ prefix of the logs)"
    else:
        close = difflib.get_close_matches(monitor, known, n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
    raise RecipeError(
        f"{recipe.source}: train.monitor: {monitor!r} is not a validation metric of task {recipe.task} "
        f"with this recipe's options{hint}; its metrics: {', '.join(known)}"
    )


def check_files(recipe: Recipe) -> None:
    missing = [
        f"data.{split} = {path}"
        for split in ("train", "validation", "test")
        if (path := getattr(recipe.data, split)) and not Path(path).exists()
    ]
    if missing:
        raise RecipeError(
            f"{recipe.source}: data file not found: {'; '.join(missing)} "
            f"(relative paths are read from the current directory, {Path.cwd()})"
        )


def load_recipe(
    recipe: str | Path | Mapping[str, Any], overrides: Sequence[str] = ()
) -> Recipe:
    """Load a recipe from a YAML path or a mapping, apply overrides, validate."""
    if isinstance(recipe, Mapping):
        raw, source = dict(recipe), "<recipe>"
    else:
        raw, source = read_yaml(recipe), str(recipe)
    raw = apply_overrides(raw, overrides, source)
    raw = interpolate(raw, source)
    return build_recipe(raw, source)


def dump_recipe(recipe: Recipe) -> str:
    return yaml.safe_dump(recipe.to_dict(), sort_keys=False, allow_unicode=True)
