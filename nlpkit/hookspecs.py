"""The plugin contract: pluggy hook specifications.

A plugin is a module with functions decorated by :data:`hookimpl`, exposed through the
``nlpkit`` entry-point group. Each hook receives a ``register`` callable::

    from nlpkit import hookimpl

    @hookimpl
    def register_tasks(register):
        register(MyTask)
"""

from __future__ import annotations

from typing import Callable

import pluggy

hookspec = pluggy.HookspecMarker("nlpkit")
hookimpl = pluggy.HookimplMarker("nlpkit")


@hookspec
def register_tasks(register: Callable[[type], None]) -> None:
    """Register :class:`nlpkit.task.Task` subclasses: ``register(TaskClass)``."""


@hookspec
def register_encoders(register: Callable[[str, Callable[[], str]], None]) -> None:
    """Register encoder aliases: ``register("alias", resolve)``, where ``resolve()``
    returns a local path or hub id that ``transformers`` can load."""
