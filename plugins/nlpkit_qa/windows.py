"""Question + context -> overlapping windows with character offsets.

Layout of a window: ``[CLS] question [SEP] context-piece [SEP]``. Only the context is
cut; consecutive windows share ``window_overlap`` context tokens (what the Hugging Face
scripts call ``doc_stride`` and pass to the tokenizer as ``stride``: an overlap, not a
step). Each window keeps the character span of every context token (``offsets``) and the
index of its first context token (``context_start``), so decoding maps tokens back to
the context's characters without the tokenizer.
"""

from __future__ import annotations

import random
import weakref
from typing import TYPE_CHECKING, Any, Sequence

from nlpkit.errors import NlpkitError, RecipeError

from nlpkit_qa.readers import QAExample

if TYPE_CHECKING:  # pragma: no cover
    from transformers import PreTrainedTokenizerBase

    from nlpkit.task import Counts

_WINDOWS_CHECKED: "weakref.WeakSet[Any]" = weakref.WeakSet()  # tokenizers that passed the check
CLS_INDEX = 0  # the label of windows without the answer (and of unanswerable questions)


def context_capacity(max_length: int, max_question_length: int, special_tokens: int = 3) -> int:
    """Context tokens guaranteed to fit in one window (with the longest question)."""
    return max_length - max_question_length - special_tokens


def check_window_settings(max_length: int, max_question_length: int, window_overlap: int, special_tokens: int = 3) -> None:
    """Reject settings where windows could not advance through the context."""
    capacity = context_capacity(max_length, max_question_length, special_tokens)
    if capacity < 1:
        raise RecipeError(
            f"data.max_question_length ({max_question_length}) + {special_tokens} special tokens leaves no room "
            f"for the context in encoder.max_length ({max_length})"
        )
    if window_overlap >= capacity:
        raise RecipeError(
            f"data.window_overlap ({window_overlap}) must be smaller than the context tokens of a window: "
            f"encoder.max_length ({max_length}) - data.max_question_length ({max_question_length}) - "
            f"{special_tokens} special tokens = {capacity}"
        )


def check_windows_reach_the_end(
    tokenizer: "PreTrainedTokenizerBase", max_length: int, max_question_length: int, window_overlap: int
) -> None:
    """Fail loudly where the tokenizer library cuts overflowing windows short.

    tokenizers 0.23.1 and 0.23.2 stop tokenizing a truncated input once ``max_length``
    tokens exist, so only the first two windows or so of a long context come back and the
    rest of it is silently lost (huggingface/tokenizers#2091). The bug lives in the
    library, not the vocabulary: one long synthetic context tells, once per tokenizer
    (the core encodes a split in chunks, each a call of :func:`encode_windows`).
    """
    if tokenizer in _WINDOWS_CHECKED:
        return
    capacity = context_capacity(max_length, max_question_length, tokenizer.num_special_tokens_to_add(pair=True))
    context = " ".join(["a"] * 3 * capacity)
    enc = tokenizer(
        ["a"], [context], truncation="only_second", max_length=max_length, stride=window_overlap,
        return_overflowing_tokens=True, return_offsets_mapping=True, padding=False,
    )
    reached = max(
        (end for w in range(len(enc["input_ids"]))
         for sid, (_, end) in zip(enc.sequence_ids(w), enc["offset_mapping"][w]) if sid == 1),
        default=0,
    )
    if reached < len(context):
        import tokenizers

        raise NlpkitError(
            f"tokenizers {tokenizers.__version__} drops the overflowing windows of long contexts "
            f"(windows reached character {reached} of a {len(context)}-character test context; "
            "huggingface/tokenizers#2091, in 0.23.1 and 0.23.2): pip install 'tokenizers!=0.23.1,!=0.23.2'"
        )
    _WINDOWS_CHECKED.add(tokenizer)


def truncate_questions(
    questions: Sequence[str], tokenizer: "PreTrainedTokenizerBase", max_question_length: int
) -> tuple[list[str], int]:
    """Cut questions longer than ``max_question_length`` tokens at a token boundary."""
    enc = tokenizer(
        list(questions), add_special_tokens=False, return_offsets_mapping=True, truncation=False
    )
    out, cut = [], 0
    for question, ids, offsets in zip(questions, enc["input_ids"], enc["offset_mapping"]):
        if len(ids) > max_question_length:
            cut += 1
            question = question[: offsets[max_question_length - 1][1]]
        out.append(question)
    return out, cut


def encode_windows(
    examples: Sequence[QAExample],
    tokenizer: "PreTrainedTokenizerBase",
    *,
    max_length: int,
    max_question_length: int,
    window_overlap: int,
    labels: bool,
    answerless_window_fraction: float = 1.0,
    seed: int = 0,
    batch_size: int = 256,
    counts: Counts | None = None,
) -> list[dict[str, Any]]:
    """Features for ``examples``; with ``labels``, ``start_positions``/``end_positions``
    (token indices, [CLS] when the window does not hold the whole first gold answer).

    ``answerless_window_fraction`` < 1 keeps only that seeded fraction of the windows of
    answerable questions that miss the answer (training only); unanswerable questions
    keep every window, since those are their only examples. Questions cut to
    ``max_question_length`` are counted in ``counts``.
    """
    if not getattr(tokenizer, "is_fast", False):
        raise RecipeError("task qa needs a fast tokenizer (character offsets); this encoder has a slow one")
    specials = tokenizer.num_special_tokens_to_add(pair=True)
    check_window_settings(max_length, max_question_length, window_overlap, specials)
    check_windows_reach_the_end(tokenizer, max_length, max_question_length, window_overlap)
    rng = random.Random(seed)
    features: list[dict[str, Any]] = []
    truncated = 0
    # Batches bound the memory of the tokenizer's output on very long contexts.
    for first in range(0, len(examples), batch_size):
        chunk = examples[first : first + batch_size]
        questions, cut = truncate_questions([e.question for e in chunk], tokenizer, max_question_length)
        truncated += cut
        enc = tokenizer(
            questions,
            [e.context for e in chunk],
            truncation="only_second",
            max_length=max_length,
            stride=window_overlap,
            return_overflowing_tokens=True,
            return_offsets_mapping=True,
            padding=False,
        )
        for w, local in enumerate(enc["overflow_to_sample_mapping"]):
            example = chunk[local]
            # Context tokens are contiguous: [CLS] question [SEP] context [SEP].
            context = [i for i, sid in enumerate(enc.sequence_ids(w)) if sid == 1]
            context_start = context[0] if context else len(enc["input_ids"][w]) - 1
            offsets = enc["offset_mapping"][w][context_start : context_start + len(context)]  # (start, end) tuples
            feature: dict[str, Any] = {
                "input_ids": enc["input_ids"][w],
                "attention_mask": enc["attention_mask"][w],
                "example_id": first + local,
                "context_start": context_start,
                "offsets": offsets,  # nested: ignored by pad_features, kept for decoding
            }
            if "token_type_ids" in enc:
                feature["token_type_ids"] = enc["token_type_ids"][w]
            if labels and example.has_gold:
                start, end = answer_tokens(example, context_start, offsets)
                if start == CLS_INDEX and not example.is_impossible and answerless_window_fraction < 1.0:
                    if rng.random() >= answerless_window_fraction:
                        continue
                feature["start_positions"], feature["end_positions"] = start, end
            features.append(feature)
    if counts is not None:
        counts.add(f"questions cut to data.max_question_length={max_question_length} tokens", truncated)
    return features


def answer_tokens(example: QAExample, context_start: int, offsets: Sequence[Sequence[int]]) -> tuple[int, int]:
    """Token indices (in the window) of the first gold answer, or ([CLS], [CLS])."""
    if example.is_impossible or not example.answers or not offsets:
        return CLS_INDEX, CLS_INDEX
    answer = example.answers[0]
    # The window must hold the whole answer: its first token starts at or before the
    # answer's first character and its last token ends at or after the answer's end.
    if offsets[0][0] > answer.start or offsets[-1][1] < answer.end:
        return CLS_INDEX, CLS_INDEX
    start = next(i for i, (s, e) in enumerate(offsets) if e > answer.start)
    end = next(i for i in range(len(offsets) - 1, -1, -1) if offsets[i][0] < answer.end)
    if end < start:  # answer inside whitespace a tokenizer dropped: cannot be labelled
        return CLS_INDEX, CLS_INDEX
    return context_start + start, context_start + end
