"""The plugin contract: pluggy hook specifications.

A plugin is a module with functions decorated by :data:`hookimpl`, exposed through the
``nlpkit`` entry-point group. The task and encoder hooks receive a ``register``
callable; ``register_commands`` receives a click group::

    from nlpkit import hookimpl

    @hookimpl
    def register_tasks(register):
        register(MyTask)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

import pluggy

if TYPE_CHECKING:  # pragma: no cover
    import click

hookspec = pluggy.HookspecMarker("nlpkit")
hookimpl = pluggy.HookimplMarker("nlpkit")


@hookspec
def register_tasks(register: Callable[[type], None]) -> None:
    """Register :class:`nlpkit.task.Task` subclasses: ``register(TaskClass)``."""


@hookspec
def register_encoders(register: Callable[[str, Callable[[], str]], None]) -> None:
    """Register encoder aliases: ``register("alias", resolve)``, where ``resolve()``
    returns a local path or hub id that ``transformers`` can load."""


@hookspec
def register_commands(cli: "click.Group") -> None:
    """Add commands to ``nlpkit``: ``@cli.command()`` (or ``cli.add_command(cmd)``).

    They run like the core's: ``-h``/``--help``, an :class:`nlpkit.errors.NlpkitError`
    printed as one paragraph with exit code 2, Ctrl-C as exit code 130. ``cli`` is a
    group of the plugin's own, merged into ``nlpkit`` once checked: a name that the core
    or another plugin has fails the plugin alone. Import torch and other heavy modules
    inside the command, not in the hook: ``nlpkit --help`` calls it."""
