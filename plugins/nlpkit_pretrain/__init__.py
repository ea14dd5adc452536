"""BERT pre-training (MLM, optionally NSP) on plain text: nlpkit's built-in plugin.

The corpus reader and sentence-pair builder in :mod:`nlpkit_pretrain.corpus` are public
and torch-free, for other tasks (``task: nsp``) to reuse.
"""

from nlpkit.hookspecs import hookimpl


@hookimpl
def register_tasks(register):
    from nlpkit_pretrain.task import PretrainTask  # lazy: keeps plugin discovery light

    register(PretrainTask)
