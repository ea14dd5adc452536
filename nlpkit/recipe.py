"""Loading a recipe: one YAML file per experiment, validated against its task's schema.

Flow: YAML (safe, checked for alias bombs and duplicate keys) -> ``key.sub=value``
overrides -> ``${ENV}`` interpolation -> validation of the core sections
(:mod:`nlpkit.sections`) and of the task plugin's own ``data``/``head`` options -> the
monitored metric against the task's metrics. Every error names the file, the key and
what was expected, with a "did you mean" hint.

The sections are re-exported here: a plugin writes ``from nlpkit.recipe import
DataSection, HeadSection``.
"""

from __future__ import annotations

import ast
import copy
import difflib
import functools
import importlib.util
import inspect
import os
import re
import types
from pathlib import Path
from typing import Any, Mapping, Sequence, Union, get_args, get_origin

import yaml
from pydantic import BaseModel, ValidationError

from nlpkit.errors import DataError, RecipeError
from nlpkit.globs import is_pattern, matching
from nlpkit.loggers import check_installed, logger_options
from nlpkit.monitor import metric_name
from nlpkit.sections import (
    SECTIONS,
    DataSection,
    EncoderSection,
    HeadSection,
    OutputSection,
    Recipe,
    Section,
    TrainSection,
)
from nlpkit.tabular import not_text, table_kind
from nlpkit.task import Task, TaskSettings

__all__ = [
    "SECTIONS", "DataSection", "EncoderSection", "HeadSection", "OutputSection", "Recipe", "Section", "TrainSection",
    "apply_overrides", "build_recipe", "check_monitor", "dump_recipe", "load_recipe", "parse_yaml", "read_yaml",
]

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
        if get_origin(ann) in (Union, types.UnionType):  # an optional section (distill)
            ann = next((a for a in get_args(ann) if a is not type(None)), ann)
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            keys.update(_known_keys(ann, f"{prefix}.{name}" if prefix else name))
    return keys


def build_recipe(raw: Mapping[str, Any], source: str = "<recipe>", *, check_paths: bool = True) -> Recipe:
    """Validate a raw mapping against the core sections and the task plugin's options."""
    from nlpkit.plugins import get_task  # the registry loads every plugin: only when a recipe is built

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
    trackers = logger_options(recipe.trainer.get("logger"), source)
    for split in ("validation", "test"):
        if getattr(recipe.data, split) and getattr(recipe.data, f"{split}_split"):
            raise RecipeError(f"{source}: give either data.{split} or data.{split}_split, not both")
    if (recipe.data.validation_split or 0) + (recipe.data.test_split or 0) >= 1:
        raise RecipeError(f"{source}: data.validation_split + data.test_split leave no training data")
    check_monitor(recipe, task_cls)
    check_columns(recipe, task_cls)
    if check_paths:  # what a run needs, and a saved model does not
        from nlpkit.distill import check_distill
        from nlpkit.encoder import check_layers

        check_files(recipe)
        check_installed(trackers, source)
        check_layers(recipe.encoder, source)
        check_distill(recipe)
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


def check_monitor(recipe: Recipe, task_cls: type[Task]) -> None:
    """``train.monitor`` must be a metric that the task's validation reports for these
    options: found out after a first epoch of training, a typo costs the epoch."""
    monitor = recipe.train.monitor
    if monitor is None or task_cls.metric_names is Task.metric_names:
        return  # the task does not say (a plugin's choice): the first validation checks it
    names = task_cls(TaskSettings.of(recipe)).metric_names()
    if names is None or monitor in names:
        return
    known = sorted(names)
    if metric_name(monitor) in names:  # the name as the logs show it
        hint = f" (did you mean {metric_name(monitor)}? the metric is named without the val_ prefix of the logs)"
    else:
        close = difflib.get_close_matches(monitor, known, n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
    raise RecipeError(
        f"{recipe.source}: train.monitor: {monitor!r} is not a validation metric of task {recipe.task} "
        f"with this recipe's options{hint}; its metrics: {', '.join(known)}"
    )


def check_columns(recipe: Recipe, task_cls: type[Task]) -> None:
    """``data.columns`` maps the names the task reads (its ``row_keys``) to the data's."""
    known = task_cls.row_keys
    for key in recipe.data.columns:
        if key not in known:
            close = difflib.get_close_matches(key, known, n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            reads = f"reads the columns {', '.join(known)}" if known else "reads no tables"
            raise RecipeError(
                f"{recipe.source}: data.columns.{key}: not a column the task reads{hint}; task {recipe.task} {reads}"
            )


def check_files(recipe: Recipe) -> None:
    """Every data file exists, and a table (Parquet, Arrow, a datasets directory) is not
    named where the recipe says the data is text (``data.format``)."""
    missing = [
        f"data.{split} = {path}"
        for split in ("train", "validation", "test")
        if (path := getattr(recipe.data, split)) and not (Path(path).exists() or (is_pattern(path) and matching(path)))
    ]
    if missing:
        raise RecipeError(
            f"{recipe.source}: data file not found: {'; '.join(missing)} "
            f"(relative paths are read from the current directory, {Path.cwd()})"
        )
    fmt = getattr(recipe.data, "format", "auto")
    for split in ("train", "validation", "test"):
        path = getattr(recipe.data, split)
        try:
            kind = table_kind(path) if path and fmt != "auto" else None
        except DataError as exc:
            raise RecipeError(f"{recipe.source}: data.{split}: {exc}") from None
        if kind is not None:
            raise RecipeError(f"{recipe.source}: data.{split} = {path} is {not_text(kind, fmt)}")


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
