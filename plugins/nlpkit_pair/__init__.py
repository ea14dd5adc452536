"""Sentiment (``task: sentiment``), sentence pairs (``task: pair``) and BERT's
next-sentence prediction (``task: nsp``): nlpkit's built-in plugin on top of the
classification plugin (readers, heads, metrics) and the pre-training corpus tools."""

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
