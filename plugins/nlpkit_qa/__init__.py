"""nlpkit built-in plugin (work in progress): registers no task yet."""

from nlpkit.hookspecs import hookimpl


@hookimpl
def register_tasks(register):
    pass
