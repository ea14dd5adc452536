"""Vocabulary fixes that any task can use: extend a tokenizer with the training data's
unknown words (e.g. Chinese characters missing from an English WordPiece vocabulary)."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Iterable

if TYPE_CHECKING:  # pragma: no cover
    from transformers import PreTrainedTokenizerFast


def unknown_words(tokenizer: "PreTrainedTokenizerFast", texts: Iterable[str]) -> Counter[str]:
    """Pre-tokenized words (after the tokenizer's own normalisation) that WordPiece can
    only encode as ``[UNK]``, with their counts."""
    backend = tokenizer.backend_tokenizer
    unk = tokenizer.unk_token
    counts: Counter[str] = Counter()
    cache: dict[str, bool] = {}
    for text in texts:
        normalized = backend.normalizer.normalize_str(text) if backend.normalizer else text
        for word, _ in backend.pre_tokenizer.pre_tokenize_str(normalized):
            if word not in cache:
                cache[word] = any(t.value == unk for t in backend.model.tokenize(word))
            if cache[word]:
                counts[word] += 1
    return counts


def extend_vocabulary(tokenizer: "PreTrainedTokenizerFast", texts: Iterable[str], min_count: int = 2) -> int:
    """Add every unknown word seen at least ``min_count`` times as a token; returns how
    many were added. The encoder's embedding matrix must then be resized."""
    from tokenizers import AddedToken

    counts = unknown_words(tokenizer, texts)
    new = sorted(w for w, c in counts.items() if c >= min_count)
    return tokenizer.add_tokens([AddedToken(w, normalized=True, single_word=False) for w in new])


def unk_rate(tokenizer: "PreTrainedTokenizerFast", texts: Iterable[str]) -> float:
    """Share of produced tokens (special tokens excluded) that are ``[UNK]``."""
    unk_id = tokenizer.unk_token_id
    total = unknown = 0
    for text in texts:
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        total += len(ids)
        unknown += sum(1 for i in ids if i == unk_id)
    return unknown / total if total else 0.0
