"""Plugin discovery: built-in and third-party plugins through the ``nlpkit`` entry points.

Registration does not depend on import order: every lookup goes through
:func:`registry`, which loads all entry points once. A plugin that fails to import is
recorded by name and reported (``nlpkit plugins`` and a warning), never swallowed.
The same holds for what a plugin registers: a hook that raises, or a task, encoder alias
or command name that is taken, fails that plugin alone.
"""

from __future__ import annotations

import difflib
import importlib.metadata as md
import os
import sys
import traceback
from dataclasses import dataclass, field
from functools import lru_cache, partial
from typing import TYPE_CHECKING, Callable

import click
import pluggy

from nlpkit import encoders, hookspecs
from nlpkit.errors import PluginError, RecipeError

if TYPE_CHECKING:  # pragma: no cover
    from nlpkit.task import Task

ENTRY_POINT_GROUP = "nlpkit"
DEFAULT_PLUGINS = (encoders,)
CORE_COMMANDS = frozenset(
    {"run", "predict", "embed", "evaluate", "export", "serve", "report", "explain", "cache", "recipe", "plugins"}
)
"""The commands of ``nlpkit`` itself (defined in :mod:`nlpkit.cli`, which loads this
registry: named here, not imported from there), which no plugin may take."""


@dataclass
class PluginInfo:
    name: str
    version: str
    module: str
    tasks: list[str] = field(default_factory=list)
    encoders: list[str] = field(default_factory=list)
    commands: list[str] = field(default_factory=list)
    error: str | None = None


@dataclass
class Registry:
    pm: pluggy.PluginManager
    plugins: dict[str, PluginInfo]
    tasks: dict[str, type["Task"]] = field(default_factory=dict)
    task_plugin: dict[str, str] = field(default_factory=dict)
    encoders: dict[str, Callable[[], str]] = field(default_factory=dict)
    encoder_plugin: dict[str, str] = field(default_factory=dict)
    commands: dict[str, click.Command] = field(default_factory=dict)
    command_plugin: dict[str, str] = field(default_factory=dict)


@dataclass
class _Registered:
    """What one plugin's hooks registered, before it is checked against the others."""

    tasks: dict[str, type["Task"]] = field(default_factory=dict)
    encoders: dict[str, Callable[[], str]] = field(default_factory=dict)
    # A group of the plugin's own: what it adds (or breaks) stays out of ``nlpkit``
    # until its names are checked.
    commands: click.Group = field(default_factory=lambda: click.Group("nlpkit"))


def _load() -> Registry:
    pm, plugins, builtin = _discover()
    return _merge(pm, plugins, builtin, _collect(pm, plugins))


def _discover() -> tuple[pluggy.PluginManager, dict[str, PluginInfo], set[str]]:
    """Registers the default plugins and every entry point that imports and names only
    nlpkit's hooks; returns the manager, every plugin's info and the built-in names."""
    pm = pluggy.PluginManager(ENTRY_POINT_GROUP)
    pm.add_hookspecs(hookspecs)
    plugins: dict[str, PluginInfo] = {}
    for module in DEFAULT_PLUGINS:
        pm.register(module, name=module.__name__)
        plugins[module.__name__] = PluginInfo(module.__name__, _version("nlpkit"), module.__name__)
    builtin = {module.__name__ for module in DEFAULT_PLUGINS}
    for ep in md.entry_points(group=ENTRY_POINT_GROUP):
        dist = ep.dist.name if ep.dist else "?"
        info = PluginInfo(ep.name, ep.dist.version if ep.dist else "?", ep.value)
        plugins[ep.name] = info
        if dist == "nlpkit":
            builtin.add(ep.name)
        try:
            module = ep.load()
            pm.register(module, name=ep.name)
        except Exception as exc:  # a broken plugin must not hide the others
            info.error = f"{type(exc).__name__}: {exc}"
            _report(info, dist)
            continue
        try:
            pm.check_pending()  # a misspelt hook would otherwise register nothing, silently
        except pluggy.PluginValidationError as exc:
            pm.unregister(name=ep.name)
            hooks = ", ".join(n for n in dir(hookspecs) if n.startswith("register_"))
            info.error = f"{exc} (nlpkit's hooks: {hooks})"
            _report(info, dist)
    return pm, plugins, builtin


def _collect(pm: pluggy.PluginManager, plugins: dict[str, PluginInfo]) -> dict[str, _Registered]:
    """What each plugin registers, checked on its own first: a plugin that breaks the
    contract is reported and contributes nothing, and never hides the others."""
    found: dict[str, _Registered] = {name: _Registered() for name in plugins}
    for hook in (pm.hook.register_tasks, pm.hook.register_encoders, pm.hook.register_commands):
        for impl in hook.get_hookimpls():
            info, mine = plugins[impl.plugin_name], found[impl.plugin_name]
            try:
                _call(hook.name, impl.function, mine)
            except Exception as exc:
                if info.error is None:
                    info.error = exc.args[0] if isinstance(exc, PluginError) else f"{type(exc).__name__}: {exc}"
                    _report(info)
    return found


def _call(hook: str, function: Callable[..., object], mine: _Registered) -> None:
    if hook == "register_tasks":
        function(register=partial(_check_task, mine.tasks))
    elif hook == "register_encoders":
        function(register=partial(_check_encoder, mine.encoders))
    else:
        function(cli=mine.commands)
        for name, command in mine.commands.commands.items():
            if not isinstance(command, click.Command):
                raise PluginError(f"register_commands added {command!r} as '{name}', which is not a click command")


def _merge(
    pm: pluggy.PluginManager, plugins: dict[str, PluginInfo], builtin: set[str], found: dict[str, _Registered]
) -> Registry:
    reg = Registry(pm, plugins)
    # Built-ins first: a third-party plugin cannot take over a built-in name.
    for name in sorted(plugins, key=lambda n: n not in builtin):
        info, mine = plugins[name], found[name]
        if info.error is not None:
            continue
        clashes = _clashes(reg, mine)
        if clashes:
            info.error = f"registers names already taken: {', '.join(clashes)}; nothing of it was loaded"
            _report(info)
            continue
        for task_name, cls in mine.tasks.items():
            reg.tasks[task_name], reg.task_plugin[task_name] = cls, name
            info.tasks.append(task_name)
        for alias, resolve in mine.encoders.items():
            reg.encoders[alias], reg.encoder_plugin[alias] = resolve, name
            info.encoders.append(alias)
        for command_name, command in mine.commands.commands.items():
            reg.commands[command_name], reg.command_plugin[command_name] = command, name
            info.commands.append(command_name)
    return reg


def _clashes(reg: Registry, mine: _Registered) -> list[str]:
    clashes = [f"task '{t}' (plugin '{reg.task_plugin[t]}')" for t in mine.tasks if t in reg.tasks]
    clashes += [f"encoder alias '{a}' (plugin '{reg.encoder_plugin[a]}')" for a in mine.encoders if a in reg.encoders]
    for command in mine.commands.commands:
        if command in CORE_COMMANDS:
            clashes.append(f"command '{command}' (nlpkit's own)")
        elif command in reg.commands:
            clashes.append(f"command '{command}' (plugin '{reg.command_plugin[command]}')")
    return clashes


def _check_task(into: dict[str, type["Task"]], cls: object) -> None:
    """``register`` for tasks: a concrete Task subclass with a name and a monitored metric."""
    import inspect

    from nlpkit.task import Task

    if not (isinstance(cls, type) and issubclass(cls, Task)):
        raise PluginError(f"register_tasks registered {cls!r}, which is not a subclass of nlpkit.task.Task")
    name = getattr(cls, "name", None)
    if not isinstance(name, str) or not name:
        raise PluginError(f"{cls.__name__} has no task name (a class attribute name = \"...\")")
    if inspect.isabstract(cls):
        missing = ", ".join(sorted(getattr(cls, "__abstractmethods__", ())))
        raise PluginError(f"task '{name}' ({cls.__name__}) does not implement {missing}")
    if not isinstance(getattr(cls, "monitor", None), str):
        raise PluginError(
            f"task '{name}' ({cls.__name__}) sets no monitor: the validation metric (a key of its "
            "metric's results) that picks the best checkpoint"
        )
    if name in into:
        raise PluginError(f"registers task '{name}' twice")
    into[name] = cls


def _check_encoder(into: dict[str, Callable[[], str]], alias: object, resolve: object) -> None:
    if not isinstance(alias, str) or not alias or not callable(resolve):
        raise PluginError(f"register_encoders takes register(alias: str, resolve: callable), got ({alias!r}, {resolve!r})")
    into[alias] = resolve


def _report(info: PluginInfo, dist: str | None = None) -> None:
    origin = f" (entry point {info.module}{', distribution ' + dist if dist else ''})"
    print(f"nlpkit: plugin '{info.name}'{origin} failed to load: {info.error}", file=sys.stderr)
    if _debug():
        traceback.print_exc()


def _version(dist: str) -> str:
    try:
        return md.version(dist)
    except md.PackageNotFoundError:
        return "unknown"


def _debug() -> bool:
    return bool(os.environ.get("NLPKIT_DEBUG"))


@lru_cache(maxsize=1)
def registry() -> Registry:
    return _load()


def reload() -> Registry:
    """Forget what was loaded (after installing a plugin in a running process)."""
    registry.cache_clear()
    return registry()


def get_task(name: str, source: str = "<recipe>") -> type["Task"]:
    reg = registry()
    if name in reg.tasks:
        return reg.tasks[name]
    known = sorted(reg.tasks)
    hint = difflib.get_close_matches(name, known, n=1)
    broken = [f"{p.name} ({p.error})" for p in reg.plugins.values() if p.error]
    message = f"{source}: task '{name}' is not registered"
    if hint:
        message += f" (did you mean '{hint[0]}'?)"
    message += f"; registered tasks: {', '.join(known) or 'none'}"
    if broken:
        message += f"; plugins that failed to load: {'; '.join(broken)}"
    raise RecipeError(message)


def task_plugin_info(name: str) -> PluginInfo:
    reg = registry()
    return reg.plugins[reg.task_plugin[name]]


def resolve_encoder(name: str) -> str:
    """An alias -> its path; anything else is returned as given (a path or hub id)."""
    reg = registry()
    if name not in reg.encoders:
        return name
    path = reg.encoders[name]()
    if not isinstance(path, (str, os.PathLike)) or not str(path):
        raise PluginError(
            f"encoder alias '{name}' (plugin '{reg.encoder_plugin.get(name, '?')}') resolved to {path!r}, "
            "not a path or hub id"
        )
    return str(path)


def encoder_aliases() -> list[str]:
    return sorted(registry().encoders)
