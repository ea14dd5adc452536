"""Start/end logits of all windows of a question -> answer text, character span, score.

The one path from logits to answers: evaluation, ``nlpkit predict`` and the Python API
all call :func:`best_answers`. It depends only on numpy and the windows' offsets, so it
is tested on synthetic logits, independently of training.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np


@dataclass(frozen=True)
class Window:
    """What post-processing needs of one window."""

    start_logits: np.ndarray  # (length,) over the window's tokens
    end_logits: np.ndarray
    context_start: int  # index of the first context token in the window
    offsets: Sequence[Sequence[int]]  # character span of each context token


def best_answers(
    context: str,
    windows: Sequence[Window],
    *,
    n_best: int = 20,
    max_answer_length: int = 30,
    allow_null: bool = False,
    null_threshold: float = 0.0,
    with_n_best: bool = False,
) -> dict[str, Any]:
    """The answer of one question over all its windows.

    Per window, the ``n_best`` highest start and end logits among its context tokens
    are paired (end >= start, at most ``max_answer_length`` tokens); a span found in
    several overlapping windows keeps its best score. The score of a span is
    start logit + end logit. With ``allow_null`` (SQuAD v2) the null score is the
    lowest [CLS] start+end score over the windows (the window most sure that there is
    an answer, as in the reference implementation), and the answer is empty when
    ``null score - best span score > null_threshold``. No crash when no span
    qualifies (every candidate null, empty context): ``answer`` is "", ``start`` and
    ``end`` are -1 and ``score`` is None (v1) or the null score (v2).
    """
    spans: dict[tuple[int, int], float] = {}
    null_score: float | None = None
    for window in windows:
        start_logits = np.asarray(window.start_logits, dtype=np.float64)
        end_logits = np.asarray(window.end_logits, dtype=np.float64)
        if len(start_logits):
            score = float(start_logits[0] + end_logits[0])
            null_score = score if null_score is None else min(null_score, score)
        first = window.context_start
        count = min(len(window.offsets), len(start_logits) - first)  # split_rows may cut a row
        if count <= 0:
            continue
        # Only context tokens compete: masking before the top-k keeps question tokens
        # from crowding real candidates out of the n-best.
        starts = start_logits[first : first + count]
        ends = end_logits[first : first + count]
        k = min(n_best, count)
        top_starts = np.argsort(-starts, kind="stable")[:k]
        top_ends = np.argsort(-ends, kind="stable")[:k]
        for s in top_starts:
            for e in top_ends:
                if e < s or e - s + 1 > max_answer_length:
                    continue
                char_start, char_end = int(window.offsets[s][0]), int(window.offsets[e][1])
                if char_end <= char_start:
                    continue
                score = float(starts[s] + ends[e])
                key = (char_start, char_end)
                if score > spans.get(key, -np.inf):
                    spans[key] = score

    ranked = sorted(spans.items(), key=lambda kv: (-kv[1], kv[0]))[:n_best]
    candidates = [
        {"answer": context[s:e], "start": s, "end": e, "score": score} for (s, e), score in ranked
    ]
    empty: dict[str, Any] = {"answer": "", "start": -1, "end": -1, "score": None}
    result = dict(candidates[0]) if candidates else dict(empty)
    if allow_null:
        best_span = candidates[0]["score"] if candidates else None
        # Null minus best span: the official v2 script's "no-answer probability" input
        # (higher = more likely unanswerable); None when there is no span at all.
        diff = None if best_span is None or null_score is None else null_score - best_span
        if diff is None or diff > null_threshold:
            result = {**empty, "score": null_score}
        result["null_score_diff"] = diff
    if with_n_best:
        entries = list(candidates)
        if allow_null and null_score is not None:
            entries.append({**empty, "score": null_score})
            entries.sort(key=lambda c: -c["score"])
        result["n_best"] = _with_probabilities(entries)
    return result


def _with_probabilities(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Softmax of the scores over the listed candidates (relative confidence only)."""
    if not entries:
        return []
    scores = np.array([c["score"] for c in entries], dtype=np.float64)
    weights = np.exp(scores - scores.max())
    probs = weights / weights.sum()
    return [{**c, "probability": float(p)} for c, p in zip(entries, probs)]
