"""Vocabulary features of the core: WordPiece training offline, vocabulary extension."""

from __future__ import annotations

from pathlib import Path

from nlpkit.encoder import train_wordpiece
from nlpkit.testing import tiny_bert
from nlpkit.vocab import extend_vocabulary, unk_rate

TEXTS = ["The Quick brown fox jumps over the lazy dog .", "北京欢迎你 , 上海也欢迎你 .", "Foxes jump quickly ."] * 20


def test_wordpiece_is_trained_offline_lowercased_with_chinese_characters_split() -> None:
    tokenizer = train_wordpiece(TEXTS, vocab_size=200, lowercase=True)
    vocab = tokenizer.get_vocab()
    assert len(vocab) <= 200 and "[MASK]" in vocab and "[CLS]" in vocab
    assert tokenizer.tokenize("The FOX") == ["the", "fox"]
    assert tokenizer.tokenize("欢迎你") == ["欢", "迎", "你"]  # one token per CJK character
    assert unk_rate(tokenizer, TEXTS) == 0.0


def test_extend_vocabulary_removes_unknown_characters() -> None:
    english = train_wordpiece(TEXTS[:1] * 5, vocab_size=120, lowercase=True)
    chinese = [t for t in TEXTS if "欢" in t]
    assert unk_rate(english, chinese) > 0.5
    added = extend_vocabulary(english, chinese, min_count=2)
    assert added >= 7  # 北 京 欢 迎 你 上 海 也 …
    assert unk_rate(english, chinese) == 0.0
    added_ids = english.get_added_vocab()
    assert english("欢迎", add_special_tokens=False)["input_ids"] == [added_ids["欢"], added_ids["迎"]]


def test_same_texts_give_the_same_vocabulary_and_tiny_model(tmp_path: Path) -> None:
    # On its own the tokenizers trainer numbers pieces differently on every call
    # (tokenizers#1794): a --resume or a second DDP process would see other token ids.
    vocabularies = {tuple(sorted(train_wordpiece(TEXTS, 120, lowercase=True).get_vocab().items())) for _ in range(4)}
    assert len(vocabularies) == 1
    first, second = (tiny_bert(tmp_path / name) for name in ("a", "b"))
    for name in ("tokenizer.json", "model.safetensors"):
        assert (first / name).read_bytes() == (second / name).read_bytes(), name
