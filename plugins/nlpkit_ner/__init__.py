"""Named-entity recognition (``task: ner``): nlpkit's built-in plugin."""

from nlpkit.hookspecs import hookimpl


@hookimpl
def register_tasks(register):
    # Imported here, not at module level: listing plugins must not pull in the task's code.
    from nlpkit_ner.task import NerTask

    register(NerTask)
