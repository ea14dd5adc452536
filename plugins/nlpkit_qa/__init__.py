"""nlpkit built-in plugin: extractive question answering (task ``qa``)."""

from nlpkit.hookspecs import hookimpl


@hookimpl
def register_tasks(register):
    # Imported here so that loading the plugin stays cheap; task.py imports no torch.
    from nlpkit_qa.task import QATask

    register(QATask)
