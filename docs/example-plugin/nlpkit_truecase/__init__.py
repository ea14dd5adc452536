"""nlpkit-truecase: an example task plugin (see docs/plugins.md)."""

from nlpkit import hookimpl


@hookimpl
def register_tasks(register):
    # Imported here so that listing plugins never pays for the task's imports.
    from nlpkit_truecase.task import TruecaseTask

    register(TruecaseTask)
