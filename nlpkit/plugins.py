"""Plugin discovery: built-in and third-party plugins through the ``nlpkit`` entry points.

Registration does not depend on import order: every lookup goes through
:func:`manager`, which loads all entry points once. A plugin that fails to import is
recorded by name and reported (``nlpkit plugins`` and a warning), never swallowed.
"""

from __future__ import annotations

import difflib
import importlib.metadata as md
import sys
import traceback
from dataclasses import dataclass, field
from functools import lru_cache, partial
from typing import TYPE_CHECKING, Callable

import pluggy

from nlpkit import encoders, hookspecs
from nlpkit.errors import PluginError, RecipeError

if TYPE_CHECKING:  # pragma: no cover
    from nlpkit.task import Task

ENTRY_POINT_GROUP = "nlpkit"
DEFAULT_PLUGINS = (encoders,)


@dataclass
class PluginInfo:
    name: str
    version: str
    module: str
    tasks: list[str] = field(default_factory=list)
    encoders: list[str] = field(default_factory=list)
    error: str | None = None


@dataclass
class Registry:
    pm: pluggy.PluginManager
    plugins: dict[str, PluginInfo]
    tasks: dict[str, type["Task"]]
    task_plugin: dict[str, str]
    encoders: dict[str, Callable[[], str]]


def _load() -> Registry:
    pm = pluggy.PluginManager(ENTRY_POINT_GROUP)
    pm.add_hookspecs(hookspecs)
    plugins: dict[str, PluginInfo] = {}
    for module in DEFAULT_PLUGINS:
        pm.register(module, name=module.__name__)
        plugins[module.__name__] = PluginInfo(module.__name__, _version("nlpkit"), module.__name__)
    for ep in md.entry_points(group=ENTRY_POINT_GROUP):
        dist = ep.dist.name if ep.dist else "?"
        info = PluginInfo(ep.name, ep.dist.version if ep.dist else "?", ep.value)
        plugins[ep.name] = info
        try:
            module = ep.load()
            pm.register(module, name=ep.name)
        except Exception as exc:  # a broken plugin must not hide the others
            info.error = f"{type(exc).__name__}: {exc}"
            _report(info, dist)

    tasks: dict[str, type[Task]] = {}
    task_plugin: dict[str, str] = {}
    aliases: dict[str, Callable[[], str]] = {}

    def add_task(info: PluginInfo, cls: type[Task]) -> None:
        name = getattr(cls, "name", None)
        if not name:
            raise PluginError(f"plugin '{info.name}' registered {cls!r} without a name")
        if name in tasks:
            raise PluginError(
                f"task '{name}' is registered twice: by plugin '{task_plugin[name]}' "
                f"and by plugin '{info.name}'"
            )
        tasks[name] = cls
        task_plugin[name] = info.name
        info.tasks.append(name)

    def add_encoder(info: PluginInfo, alias: str, resolve: Callable[[], str]) -> None:
        aliases[alias] = resolve
        info.encoders.append(alias)

    # Each implementation is called with a `register` bound to its own plugin, so
    # `nlpkit plugins` can say which plugin brought which task.
    for hook, add in ((pm.hook.register_tasks, add_task), (pm.hook.register_encoders, add_encoder)):
        for impl in hook.get_hookimpls():
            info = plugins[impl.plugin_name]
            try:
                impl.function(register=partial(add, info))
            except PluginError:
                raise
            except Exception as exc:
                info.error = f"{type(exc).__name__}: {exc}"
                _report(info)
    return Registry(pm, plugins, tasks, task_plugin, aliases)


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
    import os

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
    if name in reg.encoders:
        return reg.encoders[name]()
    return name


def encoder_aliases() -> list[str]:
    return sorted(registry().encoders)
