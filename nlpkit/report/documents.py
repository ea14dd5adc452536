"""What a report shows of a pre-training run: the held-out documents' masked-language-model
perplexity, each document's and all together, recomputed from the prediction records.

The records are those of ``task: pretrain`` (one a document): the summed loss of its
masked tokens (``mlm_loss_sum``, nats), how many were masked and predicted exactly, and
the document's perplexity. The perplexity of all documents together is that of all
their masked tokens, exp(total loss / total masked): the metric's, not the mean of the
documents' perplexities.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

SHOWN = 10
"""Documents listed at each end of the ranking."""


@dataclass
class Documents:
    count: int
    masked: int
    perplexity: float
    mlm_accuracy: float
    perplexities: list[float]
    """Each scored document's (those with a masked token), in record order."""
    hardest: list[dict[str, Any]]
    easiest: list[dict[str, Any]]


def is_pretraining(records: Sequence[dict[str, Any]]) -> bool:
    return bool(records) and all({"mlm_loss_sum", "masked", "correct", "perplexity"} <= r.keys() for r in records)


def analyse(records: Sequence[dict[str, Any]]) -> Documents:
    masked = sum(int(r["masked"]) for r in records)
    loss = sum(float(r["mlm_loss_sum"]) for r in records)
    scored = [dict(r, mlm_accuracy=r["correct"] / r["masked"]) for r in records if r["masked"]]
    ranked = sorted(scored, key=lambda r: -r["perplexity"])
    return Documents(
        count=len(records), masked=masked,
        perplexity=math.exp(loss / masked) if masked else float("nan"),
        mlm_accuracy=sum(int(r["correct"]) for r in records) / masked if masked else float("nan"),
        perplexities=[r["perplexity"] for r in scored],
        hardest=ranked[:SHOWN], easiest=ranked[::-1][: min(SHOWN, max(0, len(ranked) - SHOWN))],
    )
