"""Windows over long contexts: overlap, offsets back to characters, labels."""

from __future__ import annotations

import pytest

from nlpkit.errors import NlpkitError, RecipeError
from nlpkit_qa.readers import Answer, QAExample
from nlpkit_qa.windows import CLS_INDEX, check_window_settings, check_windows_reach_the_end, encode_windows

WORDS = [f"word{i}" for i in range(200)]


def long_example(answer_word: int = 150) -> QAExample:
    context = " ".join(WORDS)
    text = WORDS[answer_word]
    return QAExample("long", "where is the word ?", context, [Answer(text, context.index(text + " "))])


def test_windows_overlap_by_window_overlap_tokens_and_cover_the_context(tokenizer) -> None:
    example = long_example()
    features = encode_windows([example], tokenizer, max_length=48, max_question_length=16, window_overlap=10, labels=False)
    assert len(features) > 3 and all(f["example_id"] == 0 for f in features)
    for a, b in zip(features, features[1:]):
        # the last 10 context tokens of a window are the first 10 of the next
        assert a["offsets"][-10:] == b["offsets"][:10]
    covered = {tuple(o) for f in features for o in f["offsets"]}
    all_offsets = tokenizer(example.context, return_offsets_mapping=True, add_special_tokens=False)["offset_mapping"]
    assert covered == {tuple(o) for o in all_offsets}
    for f in features:  # offsets point at the tokens' text
        ids = f["input_ids"][f["context_start"] : f["context_start"] + len(f["offsets"])]
        for token_id, (s, e) in zip(ids, f["offsets"]):
            piece = tokenizer.convert_ids_to_tokens(token_id).removeprefix("##")
            assert piece == "[UNK]" or example.context[s:e].lower() == piece


def test_training_labels_point_at_the_answer_or_cls(tokenizer) -> None:
    example = long_example()
    features = encode_windows([example], tokenizer, max_length=48, max_question_length=16, window_overlap=10, labels=True)
    hits = 0
    for f in features:
        s, e = f["start_positions"], f["end_positions"]
        if s == CLS_INDEX:
            assert e == CLS_INDEX
            continue
        hits += 1
        first = f["offsets"][s - f["context_start"]][0]
        last = f["offsets"][e - f["context_start"]][1]
        assert example.context[first:last] == example.answers[0].text
    assert 1 <= hits <= 2


def test_answerless_windows_can_be_down_sampled(tokenizer) -> None:
    example = long_example()
    kwargs = dict(max_length=48, max_question_length=16, window_overlap=10, labels=True)
    every = encode_windows([example], tokenizer, **kwargs)
    none = encode_windows([example], tokenizer, answerless_window_fraction=0.0, **kwargs)
    assert all(f["start_positions"] != CLS_INDEX for f in none)
    assert len(none) == sum(f["start_positions"] != CLS_INDEX for f in every) < len(every)


def test_long_questions_are_cut_to_max_question_length(tokenizer) -> None:
    example = QAExample("q", " ".join(["where"] * 50), "paris is the capital .", [Answer("paris", 0)])
    (feature,) = encode_windows([example], tokenizer, max_length=40, max_question_length=8, window_overlap=4, labels=True)
    assert feature["context_start"] == 8 + 2  # [CLS] + 8 question tokens + [SEP]
    assert feature["start_positions"] == feature["context_start"]


def test_empty_context_gives_a_window_without_context_tokens(tokenizer) -> None:
    (feature,) = encode_windows([QAExample("e", "why ?", "", has_gold=False)], tokenizer, max_length=32,
                                max_question_length=8, window_overlap=4, labels=False)
    assert list(feature["offsets"]) == []


@pytest.mark.parametrize(("max_length", "question", "overlap"), [(64, 16, 45), (64, 61, 0), (384, 64, 317)])
def test_invalid_window_settings_are_named(max_length: int, question: int, overlap: int) -> None:
    with pytest.raises(RecipeError, match="data.(window_overlap|max_question_length)"):
        check_window_settings(max_length, question, overlap)
    check_window_settings(384, 64, 128)


class FirstTwoWindowsOnly:
    """The real tokenizer, but overflowing windows after the second are lost: what
    tokenizers 0.23.1 and 0.23.2 return for long inputs (huggingface/tokenizers#2091)."""

    def __init__(self, tokenizer) -> None:
        self.tokenizer = tokenizer

    def __getattr__(self, name: str):
        return getattr(self.tokenizer, name)

    def __call__(self, *args, **kwargs):
        from transformers import BatchEncoding

        enc = self.tokenizer(*args, **kwargs)
        if not kwargs.get("return_overflowing_tokens"):
            return enc
        return BatchEncoding({k: v[:2] for k, v in enc.items()}, encoding=enc.encodings[:2])


def test_a_tokenizer_that_drops_windows_is_refused_before_data_is_lost(tokenizer) -> None:
    check_windows_reach_the_end(tokenizer, 48, 16, 10)  # the installed library keeps every window
    broken = FirstTwoWindowsOnly(tokenizer)
    with pytest.raises(NlpkitError, match=r"tokenizers .* drops the overflowing windows.*tokenizers#2091"):
        encode_windows([long_example()], broken, max_length=48, max_question_length=16, window_overlap=10, labels=False)
