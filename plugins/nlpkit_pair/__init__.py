"""Sentiment (``task: sentiment``), sentence pairs (``task: pair``) and BERT's
next-sentence prediction (``task: nsp``): nlpkit's built-in plugin on top of the
classification plugin (sequence tasks, label strategies, heads, metrics) and the
pre-training corpus tools.
It adds ``nlpkit nsp-score`` (:mod:`nlpkit_pair.scoring`)."""

from nlpkit.hookspecs import hookimpl


@hookimpl
def register_tasks(register):
    # Lazy imports: plugin discovery and recipe validation stay light.
    from nlpkit_pair.nsp import NspTask
    from nlpkit_pair.pair import PairTask
    from nlpkit_pair.sentiment import SentimentTask

    register(SentimentTask)
    register(PairTask)
    register(NspTask)


@hookimpl
def register_commands(cli):
    from nlpkit_pair.scoring import nsp_score  # torch is imported when it runs, not here

    cli.add_command(nsp_score)
