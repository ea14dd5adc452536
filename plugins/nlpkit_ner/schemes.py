"""Tag schemes: detect, validate, convert (IOB1, IOB2/BIO, IOBES/BIOES, IO).

Every conversion goes through entity spans: ``spans(tags)`` reads chunks with the
rules of the CoNLL shared task's ``conlleval`` script (so any sequence, valid or not,
means what conlleval says it means) and ``to_tags(spans, n, scheme)`` writes them in
the target scheme. A valid sequence therefore converts without loss (IO excepted: it
cannot tell two adjacent entities of one type apart).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Iterable, Literal, NamedTuple, Sequence

Scheme = Literal["iob1", "iob2", "iobes", "io"]
SCHEMES: tuple[Scheme, ...] = ("iob1", "iob2", "iobes", "io")
PREFIXES: dict[Scheme, tuple[str, ...]] = {
    "iob1": ("I", "B"),
    "iob2": ("B", "I"),
    "iobes": ("B", "I", "E", "S"),
    "io": ("I",),
}
ALIASES = {"bio": "iob2", "bioes": "iobes", "iob": "iob2"}


class Span(NamedTuple):
    """An entity over tokens ``start`` .. ``end - 1``."""

    label: str
    start: int
    end: int


class TagError(ValueError):
    """A tag or a tag sequence is invalid; ``index`` is the offending token."""

    def __init__(self, index: int, message: str) -> None:
        super().__init__(message)
        self.index = index


@lru_cache(maxsize=4096)  # a data set has few distinct tags; this is the hot path
def split_tag(tag: str) -> tuple[str, str]:
    """``"B-PER"`` -> ``("B", "PER")``; ``"O"`` -> ``("O", "")``. Types may hold hyphens."""
    if tag == "O":
        return "O", ""
    prefix, sep, label = tag.partition("-")
    if not sep or not label or prefix not in ("B", "I", "E", "S"):
        raise TagError(-1, f"tag {tag!r} is neither O nor PREFIX-TYPE with PREFIX one of B, I, E, S")
    return prefix, label


def canonical_scheme(name: str) -> Scheme:
    name = ALIASES.get(name.lower(), name.lower())
    if name not in SCHEMES:
        raise ValueError(f"unknown tag scheme {name!r}; known: {', '.join(SCHEMES)} (bio, bioes)")
    return name  # type: ignore[return-value]


# -- conlleval's chunk boundaries (with S- and E- as in IOBES) -------------------------
def _ends(prev: str, prev_type: str, tag: str, type_: str) -> bool:
    if prev in ("E", "S"):
        return True
    if prev in ("B", "I") and tag in ("B", "S", "O"):
        return True
    return prev != "O" and prev_type != type_


def _starts(prev: str, prev_type: str, tag: str, type_: str) -> bool:
    if tag in ("B", "S"):
        return True
    if tag in ("I", "E") and prev in ("O", "E", "S"):
        return True
    return tag != "O" and prev_type != type_


def spans(tags: Sequence[str]) -> list[Span]:
    """Entity spans of a tag sequence in any scheme, read as conlleval reads them."""
    out: list[Span] = []
    prev, prev_type, begin = "O", "", -1
    for i, tag in enumerate(list(tags) + ["O"]):
        cur, type_ = split_tag(tag)
        if begin >= 0 and _ends(prev, prev_type, cur, type_):
            out.append(Span(prev_type, begin, i))
            begin = -1
        if _starts(prev, prev_type, cur, type_):
            begin = i
        prev, prev_type = cur, type_
    return out


def to_tags(entities: Iterable[Span], n: int, scheme: Scheme) -> list[str]:
    """Write non-overlapping spans as ``n`` tags in ``scheme``."""
    tags = ["O"] * n
    last: Span | None = None
    for span in sorted(entities, key=lambda s: s.start):
        label, start, end = span
        if scheme == "io":
            tags[start:end] = [f"I-{label}"] * (end - start)
        elif scheme == "iob1":
            # IOB1 marks a start with B- only where the previous token ends an entity of the same type.
            adjacent = last is not None and last.end == start and last.label == label
            tags[start:end] = [f"I-{label}"] * (end - start)
            if adjacent:
                tags[start] = f"B-{label}"
        elif scheme == "iob2":
            tags[start:end] = [f"B-{label}"] + [f"I-{label}"] * (end - start - 1)
        elif end - start == 1:
            tags[start] = f"S-{label}"
        else:
            tags[start:end] = [f"B-{label}"] + [f"I-{label}"] * (end - start - 2) + [f"E-{label}"]
        last = span
    return tags


def convert(tags: Sequence[str], target: Scheme) -> list[str]:
    """Convert a tag sequence (any scheme) to ``target`` through its spans."""
    return to_tags(spans(tags), len(tags), target)


def detect(sentences: Iterable[Sequence[str]]) -> Scheme:
    """Guess the scheme of tagged sentences.

    S-/E- -> IOBES. Otherwise count how entities start: with B- (IOB2) or with I- after
    O or another type (IOB1; IO when there is no B- at all). The majority wins, so a
    file with a few broken sequences is validated in its real scheme and the broken
    lines are the ones reported. No entities -> IOB2.
    """
    has_b = False
    b_starts = i_starts = 0
    for tags in sentences:
        prev, prev_type = "O", ""
        for tag in tags:
            cur, type_ = split_tag(tag)
            if cur in ("E", "S"):
                return "iobes"
            continues = prev in ("B", "I") and prev_type == type_
            if cur == "B":
                has_b = True
                b_starts += not continues
            elif cur == "I":
                i_starts += not continues
            prev, prev_type = cur, type_
    if i_starts > b_starts:
        return "iob1" if has_b else "io"
    return "iob2"


def validate(tags: Sequence[str], scheme: Scheme) -> None:
    """Raise :class:`TagError` at the first tag that ``scheme`` does not allow."""
    allowed = PREFIXES[scheme]
    prev, prev_type = "O", ""
    for i, tag in enumerate(tags):
        try:
            cur, type_ = split_tag(tag)
        except TagError as exc:
            raise TagError(i, str(exc)) from None
        if cur != "O" and cur not in allowed:
            raise TagError(i, f"tag {tag} is not allowed in {scheme.upper()} (prefixes {', '.join(allowed)})")
        continues = prev in ("B", "I") and prev_type == type_
        if scheme == "iob2" and cur == "I" and not continues:
            raise TagError(i, f"{tag} after {_show(prev, prev_type)} is invalid in IOB2 (an entity starts with B-)")
        if scheme == "iob1" and cur == "B" and not continues:
            raise TagError(
                i, f"{tag} after {_show(prev, prev_type)} is invalid in IOB1 (B- only separates two adjacent {type_} entities)"
            )
        if scheme == "iobes":
            if cur in ("I", "E") and not continues:
                raise TagError(i, f"{tag} after {_show(prev, prev_type)} is invalid in IOBES")
            if prev in ("B", "I") and not (cur in ("I", "E") and type_ == prev_type):
                raise TagError(i, f"{_show(prev, prev_type)} must be followed by I-{prev_type} or E-{prev_type} in IOBES, not {tag}")
        prev, prev_type = cur, type_
    if scheme == "iobes" and prev in ("B", "I"):
        raise TagError(len(tags) - 1, f"the sentence ends inside an entity ({_show(prev, prev_type)}) in IOBES")


def _show(prefix: str, type_: str) -> str:
    return "O" if prefix == "O" else f"{prefix}-{type_}"


def tag_set(types: Iterable[str], scheme: Scheme) -> list[str]:
    """All tags of ``scheme`` over entity ``types``: ``O`` first, then per type."""
    return ["O"] + [f"{p}-{t}" for t in sorted(set(types)) for p in PREFIXES[scheme]]


def allowed_transitions(tags: Sequence[str], scheme: Scheme) -> tuple[list[list[bool]], list[bool], list[bool]]:
    """Which tag may follow which in ``scheme`` (for a CRF), and which may start/end a sentence.

    Returns ``(pairs, start, end)`` with ``pairs[i][j]`` true when ``tags[j]`` may follow ``tags[i]``.
    """
    parsed = [split_tag(t) for t in tags]

    def ok(prev: tuple[str, str], cur: tuple[str, str]) -> bool:
        (p, pt), (c, ct) = prev, cur
        continues = p in ("B", "I") and pt == ct
        if scheme == "iobes":
            if c in ("I", "E"):
                return continues
            return p not in ("B", "I")
        if scheme == "iob2" and c == "I":
            return continues
        return True

    pairs = [[ok(a, b) for b in parsed] for a in parsed]
    start = [ok(("O", ""), b) for b in parsed]
    end = [not (scheme == "iobes" and p in ("B", "I")) for p, _ in parsed]
    return pairs, start, end
