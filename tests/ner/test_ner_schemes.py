import pytest

from nlpkit_ner import schemes
from nlpkit_ner.schemes import Span, TagError

from .conftest import CONLL_TRAIN


def test_spans_read_iob1_adjacent_entities():
    tags = ["I-PER", "I-PER", "B-PER", "O", "I-LOC", "B-LOC", "I-ORG"]
    assert schemes.spans(tags) == [Span("PER", 0, 2), Span("PER", 2, 3), Span("LOC", 4, 5), Span("LOC", 5, 6), Span("ORG", 6, 7)]


@pytest.mark.parametrize(
    "scheme, tags",
    [
        ("iob1", ["I-PER", "I-PER", "B-PER", "O", "I-LOC", "O", "I-MISC", "B-MISC"]),
        ("iob2", ["B-PER", "I-PER", "B-PER", "O", "B-LOC", "O", "B-MISC", "B-MISC"]),
        ("iobes", ["B-PER", "E-PER", "S-PER", "O", "S-LOC", "O", "S-MISC", "S-MISC"]),
    ],
)
def test_conversions_between_schemes(scheme, tags):
    iob1 = ["I-PER", "I-PER", "B-PER", "O", "I-LOC", "O", "I-MISC", "B-MISC"]
    iob2 = ["B-PER", "I-PER", "B-PER", "O", "B-LOC", "O", "B-MISC", "B-MISC"]
    iobes = ["B-PER", "E-PER", "S-PER", "O", "S-LOC", "O", "S-MISC", "S-MISC"]
    schemes.validate(tags, scheme)
    assert schemes.convert(tags, "iob1") == iob1
    assert schemes.convert(tags, "iob2") == iob2
    assert schemes.convert(tags, "iobes") == iobes
    # IO cannot separate two adjacent entities of one type.
    assert schemes.convert(tags, "io") == ["I-PER"] * 3 + ["O", "I-LOC", "O", "I-MISC", "I-MISC"]


def test_detect():
    assert schemes.detect([["I-PER", "O", "I-LOC", "B-LOC"]]) == "iob1"
    assert schemes.detect([["I-PER", "O", "I-LOC"]]) == "io"
    assert schemes.detect([["B-PER", "I-PER", "O"]]) == "iob2"
    assert schemes.detect([["B-PER", "E-PER", "S-LOC"]]) == "iobes"
    assert schemes.detect([["O", "O"]]) == "iob2"
    # Mostly IOB2 with one broken sequence: still IOB2, so the broken line is reported.
    assert schemes.detect([["B-PER", "O"], ["B-LOC"], ["O", "I-ORG"]]) == "iob2"


@pytest.mark.parametrize(
    "tags, scheme, index, text",
    [
        (["O", "I-PER"], "iob2", 1, "I-PER after O is invalid in IOB2"),
        (["B-PER", "I-LOC"], "iob2", 1, "I-LOC after B-PER"),
        (["O", "B-PER"], "iob1", 1, "B- only separates"),
        (["B-PER", "O"], "iobes", 1, "must be followed by I-PER or E-PER"),
        (["O", "E-PER"], "iobes", 1, "E-PER after O"),
        (["B-PER"], "iobes", 0, "ends inside an entity"),
        (["O", "PER"], "iob2", 1, "neither O nor PREFIX-TYPE"),
        (["S-PER"], "iob2", 0, "not allowed in IOB2"),
    ],
)
def test_validate_reports_the_offending_token(tags, scheme, index, text):
    with pytest.raises(TagError) as info:
        schemes.validate(tags, scheme)
    assert info.value.index == index
    assert text in str(info.value)


def test_allowed_transitions_iobes():
    tags = schemes.tag_set(["PER"], "iobes")  # O B-PER I-PER E-PER S-PER
    pairs, start, end = schemes.allowed_transitions(tags, "iobes")
    ok = {(a, b) for i, a in enumerate(tags) for j, b in enumerate(tags) if pairs[i][j]}
    assert ("B-PER", "I-PER") in ok and ("B-PER", "E-PER") in ok and ("E-PER", "B-PER") in ok
    assert ("O", "I-PER") not in ok and ("B-PER", "O") not in ok and ("I-PER", "S-PER") not in ok
    assert [t for t, s in zip(tags, start) if s] == ["O", "B-PER", "S-PER"]
    assert [t for t, e in zip(tags, end) if e] == ["O", "E-PER", "S-PER"]


def _read_conll_tags(path):
    sentences, current = [], []
    for line in path.read_text(encoding="utf-8").splitlines():
        parts = line.split()
        if not parts or parts[0] == "-DOCSTART-":
            if current:
                sentences.append(current)
            current = []
        else:
            current.append(parts[-1])
    if current:
        sentences.append(current)
    return sentences


@pytest.mark.slow  # reads a whole data set: seconds
@pytest.mark.skipif(not CONLL_TRAIN.exists(), reason=f"CoNLL-2003 not found at {CONLL_TRAIN}")
def test_round_trip_on_the_whole_conll_training_file():
    """IOB1 -> IOB2 -> IOBES -> IOB2 changes nothing, and IOB2 -> IOB1 gives the file back."""
    sentences = _read_conll_tags(CONLL_TRAIN)
    assert len(sentences) == 14041
    assert schemes.detect(sentences) == "iob1"
    changed = 0
    for iob1 in sentences:
        schemes.validate(iob1, "iob1")
        iob2 = schemes.convert(iob1, "iob2")
        schemes.validate(iob2, "iob2")
        iobes = schemes.convert(iob2, "iobes")
        schemes.validate(iobes, "iobes")
        back = schemes.convert(iobes, "iob2")
        changed += back != iob2 or schemes.convert(back, "iob1") != iob1
    assert changed == 0
