"""Words <-> sub-word pieces: splitting raw text into words with character offsets,
windows over long sentences, and stitching window outputs back into one tag per word.

Kept free of torch/transformers: tokenizers are duck-typed.
"""

from __future__ import annotations

import re
from typing import Any, Sequence

# Scripts written without spaces between words: every character is a word of its own.
_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002fa1f"
# A CJK character; or a run of other word characters (joined across - and . as in
# "Paris-based", "U.S"); or any other non-space character (punctuation) alone, as in CoNLL.
_WORD = re.compile(rf"[{_CJK}]|[^\W{_CJK}]+(?:[-.][^\W{_CJK}]+)*|[^\s]")


def split_words(text: str, boundaries: Sequence[int] = ()) -> list[tuple[int, int]]:
    """Character spans ``(start, end)`` of the words of ``text``.

    ``boundaries`` are offsets where a word must end/start (entity edges), so an entity
    inside a longer run ("Paris" in "Paris-based") still covers whole words.
    """
    cuts = sorted({0, len(text), *(b for b in boundaries if 0 < b < len(text))})
    spans: list[tuple[int, int]] = []
    for left, right in zip(cuts, cuts[1:]):
        spans.extend((left + m.start(), left + m.end()) for m in _WORD.finditer(text[left:right]))
    return spans


def special_tokens(tokenizer: Any) -> tuple[list[int], list[int]]:
    """Ids the tokenizer puts before and after a single sequence (``[CLS]``, ``[SEP]``).

    Found by encoding a probe with and without special tokens, because transformers 5
    tokenizers no longer offer ``build_inputs_with_special_tokens``.
    """
    full = tokenizer("a")["input_ids"]
    bare = tokenizer("a", add_special_tokens=False)["input_ids"]
    for k in range(len(full) - len(bare) + 1):
        if full[k : k + len(bare)] == bare:
            return list(full[:k]), list(full[k + len(bare) :])
    return [], []


def windows(word_starts: Sequence[bool], size: int, overlap: int) -> list[tuple[int, int]]:
    """Token ranges ``[start, end)`` of at most ``size`` tokens covering a sentence.

    Consecutive windows share at least ``overlap`` tokens; a window starts at a word's
    first piece when one lies in reach, so no window opens with orphan pieces.
    """
    n = len(word_starts)
    if n <= size:
        return [(0, n)]
    step = size - overlap
    out: list[tuple[int, int]] = []
    start = 0
    while True:
        end = min(start + size, n)
        out.append((start, end))
        if end == n:
            return out
        nxt = start + step
        aligned = [i for i in range(nxt, start, -1) if word_starts[i]]
        start = aligned[0] if aligned else nxt


def centrality(position: int, first: int, last: int) -> int:
    """Tokens between ``position`` and the nearer edge of its window's content."""
    return min(position - first, last - position)
