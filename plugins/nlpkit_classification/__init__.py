"""Text classification (single- and multi-label): nlpkit's built-in plugin."""

from nlpkit.hookspecs import hookimpl


@hookimpl
def register_tasks(register):
    from nlpkit_classification.task import ClassificationTask

    register(ClassificationTask)
