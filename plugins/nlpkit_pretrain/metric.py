"""Held-out MLM loss, perplexity, masked-token accuracy and NSP accuracy as an ``evaluate`` metric.

Inputs are per-document sums (not per-token logits), so the metric is exact over any
split of the text: loss = total masked-token cross-entropy / masked tokens, perplexity
= exp(loss), as in BERT/RoBERTa's reported MLM perplexity.
"""

from __future__ import annotations

import math

import datasets
import evaluate

_DESCRIPTION = "MLM loss, perplexity and accuracy over masked tokens; NSP accuracy over sequence pairs."
_INPUTS = """
Args:
    mlm_loss_sum: summed cross-entropy (nats) of the masked tokens of each document.
    masked: masked tokens of each document.
    correct: masked tokens predicted exactly.
    nsp_correct: pairs whose IsNext/NotNext was predicted right (0 without NSP).
    nsp_total: pairs (0 without NSP).
Returns:
    mlm_loss, perplexity, mlm_accuracy, masked_tokens, and nsp_accuracy when there were pairs.
"""


class PretrainingMetric(evaluate.Metric):
    def _info(self) -> evaluate.MetricInfo:
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation="",
            inputs_description=_INPUTS,
            features=datasets.Features(
                {
                    "mlm_loss_sum": datasets.Value("float64"),
                    "masked": datasets.Value("int64"),
                    "correct": datasets.Value("int64"),
                    "nsp_correct": datasets.Value("int64"),
                    "nsp_total": datasets.Value("int64"),
                }
            ),
        )

    def _compute(self, mlm_loss_sum, masked, correct, nsp_correct, nsp_total):  # type: ignore[override]
        tokens = int(sum(masked))
        loss = float(sum(mlm_loss_sum)) / tokens if tokens else float("nan")
        result = {
            "mlm_loss": loss,
            "perplexity": math.exp(loss) if tokens else float("nan"),
            "mlm_accuracy": int(sum(correct)) / tokens if tokens else float("nan"),
            "masked_tokens": float(tokens),
        }
        pairs = int(sum(nsp_total))
        if pairs:
            result["nsp_accuracy"] = int(sum(nsp_correct)) / pairs
        return result
