"""Post-processing on synthetic logits, independent of training."""

from __future__ import annotations

import numpy as np
import pytest

from nlpkit_qa.postprocess import Window, best_answers
from nlpkit_qa.readers import QAExample
from nlpkit_qa.windows import encode_windows

CONTEXT = "alpha beta gamma delta epsilon"
# [CLS] q [SEP] then one context token per word
OFFSETS = [[0, 5], [6, 10], [11, 16], [17, 22], [23, 30]]
FIRST = 3


def window(starts: dict[int, float], ends: dict[int, float], length: int = 9, null: float = 0.0) -> Window:
    s, e = np.full(length, -5.0), np.full(length, -5.0)
    s[0] = e[0] = null / 2
    for i, v in starts.items():
        s[FIRST + i] = v
    for i, v in ends.items():
        e[FIRST + i] = v
    return Window(s, e, FIRST, OFFSETS)


def test_best_span_text_and_character_offsets() -> None:
    result = best_answers(CONTEXT, [window({1: 3.0}, {2: 4.0})])
    assert result == {"answer": "beta gamma", "start": 6, "end": 16, "score": 7.0}


def test_end_before_start_and_too_long_spans_are_skipped() -> None:
    w = window({3: 5.0, 0: 0.1}, {1: 5.0, 4: 0.5})
    assert best_answers(CONTEXT, [w])["answer"] == "delta epsilon"
    assert best_answers(CONTEXT, [w], max_answer_length=1)["answer"] in {"alpha", "beta", "gamma", "delta", "epsilon"}
    assert best_answers(CONTEXT, [window({0: 5.0}, {4: 5.0})], max_answer_length=2)["answer"] != CONTEXT


def test_only_context_tokens_compete() -> None:
    w = window({1: 1.0}, {1: 1.0})
    w.start_logits[1] = w.end_logits[1] = 50.0  # a question token
    w.start_logits[0] = w.end_logits[0] = 50.0  # [CLS]
    result = best_answers(CONTEXT, [w], n_best=1)
    assert result["answer"] == "beta"


def test_v2_null_threshold_and_score_difference() -> None:
    w = window({1: 2.0}, {1: 2.0}, null=5.0)
    null = best_answers(CONTEXT, [w], allow_null=True)
    assert null["answer"] == "" and null["start"] == -1 and null["null_score_diff"] == pytest.approx(1.0)
    span = best_answers(CONTEXT, [w], allow_null=True, null_threshold=1.5)
    assert span["answer"] == "beta" and span["null_score_diff"] == pytest.approx(1.0)


@pytest.mark.parametrize("allow_null", [False, True])
def test_no_candidate_at_all_does_not_crash(allow_null: bool) -> None:
    empty_context = Window(np.zeros(4), np.zeros(4), 3, [])
    for windows in ([], [empty_context]):
        result = best_answers("", windows, allow_null=allow_null, with_n_best=True)
        assert result["answer"] == "" and result["start"] == -1
    # every start after every end: no valid span
    result = best_answers(CONTEXT, [window({4: 9.0}, {0: 9.0})], n_best=1, allow_null=allow_null, with_n_best=True)
    assert result["answer"] == ""


def test_n_best_list_is_sorted_deduplicated_and_has_probabilities() -> None:
    w = window({1: 3.0, 2: 2.0}, {2: 3.0, 3: 1.0})
    result = best_answers(CONTEXT, [w, w], n_best=3, with_n_best=True, allow_null=True)
    texts = [c["answer"] for c in result["n_best"]]
    assert texts[0] == "beta gamma" and len(set(texts)) == len(texts)
    assert sum(c["probability"] for c in result["n_best"]) == pytest.approx(1.0)
    assert [c["score"] for c in result["n_best"]] == sorted((c["score"] for c in result["n_best"]), reverse=True)


def _token_at(feature: dict, char: int, *, end: bool = False) -> int:
    """Window token index of the context token starting (or ending) at ``char``."""
    for i, (s, e) in enumerate(feature["offsets"]):
        if (e if end else s) == char:
            return feature["context_start"] + i
    raise AssertionError(f"no token {'ends' if end else 'starts'} at {char}")


def test_answer_across_a_window_boundary_is_found(tokenizer) -> None:
    """An answer cut by the end of window 0 is whole in window 1 (the overlap)."""
    context = " ".join(f"w{i} x{i}" for i in range(120))
    example = QAExample("b", "where ?", context, has_gold=False)
    features = encode_windows([example], tokenizer, max_length=40, max_question_length=8, window_overlap=6, labels=False)
    first = features[0]
    # the answer starts at window 0's last context token and ends beyond the window
    start_char = first["offsets"][-1][0]
    end_char = context.index(" ", context.index(" ", start_char) + 1)  # two words
    answer = context[start_char:end_char]
    assert end_char > first["offsets"][-1][1]
    windows = []
    for f in features:
        n = len(f["input_ids"])
        s, e = np.zeros(n), np.zeros(n)
        in_window = f["offsets"][0][0] <= start_char and f["offsets"][-1][1] >= end_char
        if f is first:  # only the cut half: start and end on the last context token
            s[_token_at(f, start_char)] = 4.0
            e[_token_at(f, first["offsets"][-1][1], end=True)] = 4.0
        elif in_window:
            s[_token_at(f, start_char)] = 5.0
            e[_token_at(f, end_char, end=True)] = 5.0
        windows.append(Window(s, e, f["context_start"], f["offsets"]))
    result = best_answers(context, windows)
    assert (result["answer"], result["start"], result["end"]) == (answer, start_char, end_char)
