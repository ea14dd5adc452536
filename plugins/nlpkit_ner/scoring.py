"""Entity-level scores through seqeval (no ``evaluate`` import: that costs ~9 s).

``score`` is what :class:`nlpkit_ner.metric.NerMetric` computes and what the task logs.

Modes:
- ``conlleval`` (default): entities are read as the CoNLL ``conlleval`` script reads
  them, so any scheme (IOB1 included) and any invalid predicted sequence counts exactly
  as in the shared task. Both sides are first rewritten as IOB2 through
  :func:`nlpkit_ner.schemes.spans` (same chunks), then scored by seqeval's default mode.
- ``strict``: seqeval's strict mode in ``scheme`` (IOB2 or IOBES): an entity counts only
  when its whole tag sequence is valid in the scheme (an I- after O is dropped).
"""

from __future__ import annotations

import warnings
from typing import Any, Literal, Sequence

from nlpkit_ner import schemes

Mode = Literal["conlleval", "strict"]


def score(
    references: Sequence[Sequence[str]],
    predictions: Sequence[Sequence[str]],
    mode: Mode = "conlleval",
    scheme: schemes.Scheme = "iob2",
) -> dict[str, Any]:
    """Micro precision/recall/F1 (``precision``, ``recall``, ``f1``), macro averages over
    entity types (``macro_*``), token ``accuracy``, and ``per_type`` (nested)."""
    from seqeval.metrics import accuracy_score, classification_report

    refs = [list(r) for r in references]
    preds = [list(p) for p in predictions]
    for i, (r, p) in enumerate(zip(refs, preds)):
        if len(r) != len(p):
            raise ValueError(f"sentence {i}: {len(r)} gold tags but {len(p)} predicted tags")
    if len(refs) != len(preds):
        raise ValueError(f"{len(refs)} gold sentences but {len(preds)} predicted")
    if mode == "strict":
        from seqeval import scheme as seqeval_schemes

        kind = {"iob2": seqeval_schemes.IOB2, "iobes": seqeval_schemes.IOBES, "iob1": seqeval_schemes.IOB1}.get(scheme)
        if kind is None:
            raise ValueError(f"strict scoring needs scheme iob2, iobes or iob1, not {scheme}")
        options: dict[str, Any] = {"mode": "strict", "scheme": kind}
    else:
        refs = [schemes.convert(r, "iob2") for r in refs]
        preds = [schemes.convert(p, "iob2") for p in preds]
        options = {}
    accuracy = float(accuracy_score(refs, preds)) if any(refs) else 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # seqeval warns on empty classes; zero_division=0 decides
        report = classification_report(refs, preds, output_dict=True, zero_division=0, **options)
    per_type = {
        label: {
            "precision": float(v["precision"]),
            "recall": float(v["recall"]),
            "f1": float(v["f1-score"]),
            "support": int(v["support"]),
        }
        for label, v in report.items()
        if not label.endswith(" avg")
    }
    micro = report.get("micro avg", {})
    macro = [v for v in per_type.values()]
    n = len(macro) or 1
    return {
        "precision": float(micro.get("precision", 0.0)),
        "recall": float(micro.get("recall", 0.0)),
        "f1": float(micro.get("f1-score", 0.0)),
        "macro_precision": sum(v["precision"] for v in macro) / n,
        "macro_recall": sum(v["recall"] for v in macro) / n,
        "macro_f1": sum(v["f1"] for v in macro) / n,
        "accuracy": accuracy,
        "per_type": per_type,
    }
