"""Corpus reading, sentence splitting, and IsNext/NotNext pair building."""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path

import pytest

from nlpkit.errors import DataError
from nlpkit_pretrain.corpus import read_documents, segment_pairs, sentence_pairs, split_sentences

from .conftest import ARTICLES

WIKITEXT = Path(os.environ.get("NLPKIT_DATA", Path(__file__).parents[3] / "shared" / "data")) / "wikitext2" / "wiki.test.raw"


def test_wikitext_titles_crlf_and_headings(corpus_file: Path) -> None:
    docs = read_documents(corpus_file)
    assert [d.title for d in docs] == list(ARTICLES)
    assert docs[0].paragraphs[0] == ARTICLES["Alpha river"][0]  # no \r, no surrounding spaces
    assert all("= =" not in p for d in docs for p in d.paragraphs)  # section headings dropped
    assert docs[1].line == 6


def test_formula_fragment_is_not_a_title(tmp_path: Path) -> None:
    text = " = Filter = \r\n The cut @-@ off frequency of ωc \r\n = 1 rad / s and impedance k = \r\n 1 Ω . Then more .\r\n"
    docs = read_documents(tmp_path.joinpath("f.raw").write_text(text) and tmp_path / "f.raw")
    assert [d.title for d in docs] == ["Filter"]
    assert len(docs[0].paragraphs) == 3


def test_blank_lines_jsonl_and_folder(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("one . two .\nthree .\n\n\nfour .\n")
    (tmp_path / "b.jsonl").write_text(json.dumps({"text": "five .\nsix ."}) + "\n\n" + json.dumps({"text": "seven ."}) + "\n")
    docs = read_documents(tmp_path)
    assert [d.paragraphs for d in docs] == [["one . two .", "three ."], ["four ."], ["five .", "six ."], ["seven ."]]
    assert read_documents(tmp_path / "a.txt", boundary="line")[1].paragraphs == ["three ."]


def test_bad_jsonl_row_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"text": "fine ."}\n{"txt": "no text"}\nnot json\n')
    with pytest.raises(DataError) as error:
        read_documents(path)
    assert error.value.line == 2 and "text" in str(error.value)
    assert len(read_documents(path, on_error="skip")) == 1


def test_bad_jsonl_rows_say_what_is_wrong_and_skipped_rows_are_counted(tmp_path: Path, caplog) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"text": "fine ."}\n{"txt": "no text"}\n{"text": "x"\n')
    with pytest.raises(DataError) as error:
        read_documents(path)
    assert str(error.value) == f"{path}:2: no 'text' key (keys: 'txt'); data.text_field names the key of the text"
    path.write_text('{"text": "fine ."}\n{"text": "x"\n')
    with pytest.raises(DataError) as error:
        read_documents(path)
    assert str(error.value) == f"{path}:2: not valid JSON: Expecting ',' delimiter (column 13)"
    # Before: skipped without a word in the log.
    assert len(read_documents(path, on_error="skip")) == 1
    assert f"{path}: skipped 1 malformed rows (data.on_error: skip), e.g. line 2: not valid JSON" in caplog.text


def test_a_corpus_in_another_encoding_names_line_byte_and_column(tmp_path: Path) -> None:
    path = tmp_path / "latin.txt"
    path.write_bytes("Fine .\n\nCafé au lait .\n".encode("latin-1"))
    with pytest.raises(DataError) as error:
        read_documents(path)
    assert str(error.value) == (
        f"{path}:3: not valid utf-8 text (byte 0xe9 at column 4); set data.encoding to the file's encoding (e.g. latin-1)"
    )


def test_split_sentences() -> None:
    assert split_sentences("He was an actor . He had a role in 2000 . ( It ended . ) Next") == [
        "He was an actor .",
        "He had a role in 2000 .",
        "( It ended . )",
        "Next",
    ]
    assert split_sentences('She said " Go . " Then left.') == ['She said " Go . "', "Then left."]
    assert split_sentences("他很好。你呢？我不知道。") == ["他很好。", "你呢？", "我不知道。"]
    assert split_sentences("version 3.5 is out") == ["version 3.5 is out"]


def _documents(n: int = 6, sentences: int = 40) -> list[list[str]]:
    return [[f"d{d}s{s}" for s in range(sentences)] for d in range(n)]


def test_sentence_pairs_balanced_cross_document_and_seeded() -> None:
    docs = _documents()
    pairs = sentence_pairs(docs, seed=3)
    assert len(pairs) == 6 * 39
    share = sum(p.is_next for p in pairs) / len(pairs)
    assert 0.4 < share < 0.6
    for p in pairs:
        if p.is_next:
            assert p.second == docs[p.document][docs[p.document].index(p.first) + 1]
        else:
            assert p.second_document != p.document and p.second in docs[p.second_document]
    assert sentence_pairs(docs, seed=3) == pairs
    assert sentence_pairs(docs, seed=4) != pairs


def test_sentence_pairs_need_two_documents() -> None:
    with pytest.raises(ValueError):
        sentence_pairs([["a", "b", "c", "d", "e", "f"]], seed=0, not_next_probability=1.0)


def _lengths(seed: int = 0) -> list[list[int]]:
    import random

    rng = random.Random(seed)
    return [[rng.randint(1, 40) for _ in range(rng.randint(1, 30))] for _ in range(12)] + [[300]]


def test_segment_pairs_nsp() -> None:
    lengths = _lengths()
    pairs = segment_pairs(lengths, 61, seed=1)
    assert all(1 <= p.length <= 61 and p.a and p.b for p in pairs)
    assert 0.4 < sum(p.is_next for p in pairs) / len(pairs) < 0.6
    for p in pairs:
        assert all(d == p.document for d, *_ in p.a)
        if p.is_next:  # B continues A inside the document
            assert all(d == p.document for d, *_ in p.b)
        else:
            assert all(d != p.document for d, *_ in p.b)
    assert segment_pairs(lengths, 61, seed=1) == pairs


def test_segment_pairs_mlm_keeps_every_token_once() -> None:
    lengths = _lengths(2)
    pairs = segment_pairs(lengths, 50, seed=0, nsp=False)
    covered = Counter()
    for p in pairs:
        assert p.length <= 50 and not p.b
        for d, s, start, end in p.a:
            for t in range(start, end):
                covered[(d, s, t)] += 1
    assert covered == Counter({(d, s, t): 1 for d, doc in enumerate(lengths) for s, n in enumerate(doc) for t in range(n)})


def test_segment_pairs_nsp_keeps_every_document_token() -> None:
    # A-segments and IsNext B-segments together cover each document's tokens exactly once.
    lengths = _lengths(5)
    covered = Counter()
    for p in segment_pairs(lengths, 40, seed=9):
        for d, s, start, end in p.a + (p.b if p.is_next else []):
            covered.update((d, s, t) for t in range(start, end))
    assert covered == Counter({(d, s, t): 1 for d, doc in enumerate(lengths) for s, n in enumerate(doc) for t in range(n)})


@pytest.mark.skipif(not WIKITEXT.is_file(), reason=f"WikiText-2 not found at {WIKITEXT} (set NLPKIT_DATA)")
def test_wikitext2_articles() -> None:
    docs = read_documents(WIKITEXT)
    # 62 lines look like ' = Title = '; two are formula fragments inside 'Constant k filter'.
    assert len(docs) == 60
    assert docs[0].title == "Robert Boulter" and docs[-1].title == "The Hustler ( film )"
    assert sum(len(d.sentences()) for d in docs) > 9000
