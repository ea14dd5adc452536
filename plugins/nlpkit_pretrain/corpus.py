"""Corpus reading and sentence-pair building for pre-training and next-sentence prediction.

Public, torch-free helpers shared by ``task: pretrain`` and ``task: nsp``:

- :func:`read_documents`: plain-text files (documents separated by blank lines or by
  WikiText ``" = Title = "`` lines, CRLF handled) or JSONL ``{"text": ...}`` records,
  from one file or a directory of files; :func:`documents_from_rows`: a table's rows;
- :func:`split_sentences`: a rule-based sentence splitter (Latin and CJK punctuation);
- :func:`sentence_pairs`: IsNext / NotNext pairs of sentences, 50/50 and seeded, a
  NotNext sentence always drawn from another document;
- :func:`segment_pairs`: BERT's packing of whole sentences into segment pairs up to a
  token budget (the same pairing rules, on tokenized sentences).
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, Iterable, Iterator, Literal, Mapping, Sequence, TypeVar

from nlpkit.errors import DataError, RowErrors
from nlpkit.jsonl import json_objects

T = TypeVar("T")

Boundary = Literal["auto", "title", "blank_line", "line"]
Format = Literal["auto", "text", "jsonl"]

# A WikiText article title: exactly one "=" on each side (" = = Section = = " is a section).
_TITLE = re.compile(r"^ ?= (?!=)(.*\S) = ?$")
_TEXT_SUFFIXES = (".txt", ".raw", ".text", ".tokens")
_JSONL_SUFFIXES = (".jsonl", ".json")


@dataclass
class Document:
    """One document: its paragraphs (non-empty lines) and where it came from."""

    paragraphs: list[str]
    path: str
    line: int
    """1-based line of the document's first line (its title line for WikiText)."""
    title: str | None = None

    @property
    def text(self) -> str:
        return "\n".join(self.paragraphs)

    def sentences(self) -> list[str]:
        """The document's sentences, paragraph by paragraph."""
        return [s for p in self.paragraphs for s in split_sentences(p)]


# -- reading -----------------------------------------------------------------------


def corpus_files(path: str | Path) -> list[Path]:
    """``path`` itself, the text/JSONL files of a directory (sorted, recursive), or the
    files a glob pattern matches (``corpus/*.txt``)."""
    from nlpkit.globs import is_pattern, matching

    if is_pattern(path):
        files = matching(path)
        if not files:
            raise DataError(path, None, "no file matches this pattern")
        return files
    path = Path(path)
    if path.is_dir():
        files = sorted(
            p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in _TEXT_SUFFIXES + _JSONL_SUFFIXES
        )
        if not files:
            raise DataError(path, None, f"no corpus files ({', '.join(_TEXT_SUFFIXES + _JSONL_SUFFIXES)}) in this folder")
        return files
    if not path.is_file():
        raise DataError(path, None, "file not found")
    return [path]


def read_documents(path: str | Path, **options: Any) -> list[Document]:
    """Every document, in a list: :func:`iter_documents` (which takes the same
    ``options``) read to the end."""
    return list(iter_documents(path, **options))


def iter_documents(
    path: str | Path,
    *,
    format: Format = "auto",
    boundary: Boundary = "auto",
    text_field: str = "text",
    encoding: str = "utf-8-sig",
    on_error: Literal["raise", "skip"] = "raise",
    columns: Mapping[str, str] | None = None,
) -> Iterator[Document]:
    """The documents of a file, of a folder of files or of a glob pattern's files, one at
    a time: the files are read line by line, so a corpus of any size streams through in
    little memory.

    ``format="auto"`` reads ``.jsonl``/``.json`` files as JSON lines (one document per
    record, its ``text_field``; newlines inside separate paragraphs; ``columns``, the
    recipe's ``data.columns``, renames keys) and anything else as plain text. Plain-text
    documents end at ``boundary``: ``title`` (WikiText ``" = Title = "`` lines start a
    new document), ``blank_line``, ``line`` (one document per line), or ``auto`` (titles
    if the file has any, else blank lines: a first pass looks for one).
    """
    for file in corpus_files(path):
        fmt = format
        if fmt == "auto":
            fmt = "jsonl" if file.suffix.lower() in _JSONL_SUFFIXES else "text"
        if fmt == "jsonl":
            yield from _read_jsonl(file, text_field, encoding, on_error, columns)
        else:
            yield from _read_text(file, boundary, encoding)


def no_text(path: str | Path, *, format: Format = "auto", text_field: str = "text", encoding: str = "utf-8-sig") -> DataError:
    """The error for a corpus in which :func:`read_documents` found no document: why."""
    files = corpus_files(path)
    where = "every file of the folder is" if Path(path).is_dir() else "the file is"
    if all(not "".join(_lines(f, encoding)).strip() for f in files):
        why = f"{where} empty or holds only blank lines"
    elif format == "jsonl" or (format == "auto" and all(f.suffix.lower() in _JSONL_SUFFIXES for f in files)):
        why = f"no JSON line holds a non-empty {text_field!r} string"
    else:
        why = "it holds only WikiText titles and section headings (' = Title = ', ' = = Section = = '), no text lines"
    return DataError(path, None, f"no text found: {why}")


def _lines(path: Path, encoding: str) -> Iterator[str]:
    """The file's lines, read as they are needed. Universal newlines end a line at
    ``\n``, ``\r\n`` or a lone ``\r``; each line's ``splitlines()`` then splits at the
    other separators that ``str.splitlines`` knows: the lines of the whole text's
    ``splitlines()``."""
    try:
        with path.open(encoding=encoding) as handle:
            for line in handle:
                yield from line.splitlines()
    except UnicodeDecodeError as exc:
        from nlpkit.data import ENCODING_HINT, undecodable  # the core's message: line, byte and column

        raise undecodable(path, exc, ENCODING_HINT) from None


def is_title(line: str, next_line: str | None) -> str | None:
    """The title if ``line`` is a WikiText article title, else None.

    WikiText-2's raw files also hold formula fragments like ``" = 1 rad / s = "`` that
    continue the previous sentence; their next line starts with a digit or a lower-case
    letter, an article's first line never does.
    """
    match = _TITLE.match(line)
    if not match:
        return None
    follow = (next_line or "").strip()
    if follow and (follow[0].isdigit() or follow[0].islower()):
        return None
    return match.group(1).strip()


def _read_text(path: Path, boundary: Boundary, encoding: str) -> Iterator[Document]:
    if boundary == "auto":  # a first look, up to the first title (the whole file if it has none)
        boundary = "title" if any(_TITLE.match(l) for l in _lines(path, encoding)) else "blank_line"
    current: Document | None = None
    for number, raw, next_text in _with_next_text(_lines(path, encoding)):
        line = raw.strip()
        start = boundary == "line" or (boundary == "blank_line" and not line)
        if boundary == "title":
            title = is_title(raw, next_text) if _TITLE.match(raw) else None  # look ahead only for candidates
            if title is not None:
                if current is not None and current.paragraphs:
                    yield current
                current = Document([], str(path), number, title)
                continue
            if not line or _is_heading(line):
                continue  # section headings are not sentences; blank lines are paragraph breaks
        if start:
            if current is not None and current.paragraphs:
                yield current
            current = None
        if not line:
            continue
        if current is None:
            current = Document([], str(path), number)
        current.paragraphs.append(line)
    if current is not None and current.paragraphs:
        yield current


def _with_next_text(lines: Iterable[str]) -> Iterator[tuple[int, str, str | None]]:
    """(1-based number, line, the next non-blank line or None) for each line: the lines
    after a line are read only as far as its next non-blank one."""
    waiting: list[tuple[int, str]] = []  # lines that wait for a non-blank successor
    for number, line in enumerate(lines, start=1):
        if line.strip():
            for earlier_number, earlier in waiting:
                yield earlier_number, earlier, line
            waiting = []
        waiting.append((number, line))
    for earlier_number, earlier in waiting:
        yield earlier_number, earlier, None


def _is_heading(line: str) -> bool:
    """A WikiText section heading (``= = Career = =``); single-``=`` lines that are not
    titles are text (formula fragments)."""
    return line.startswith("= = ") and line.endswith(" = =")


def _read_jsonl(
    path: Path, text_field: str, encoding: str, on_error: str, columns: Mapping[str, str] | None
) -> Iterator[Document]:
    """One document per JSON object; a bad line is raised, or skipped and counted
    (``on_error="skip"``: logged once the file is read)."""
    errors = RowErrors(path, on_error)
    objects = json_objects(_lines(path, encoding), errors, f"a JSON object with a {text_field!r} key", columns)
    yield from iter_row_documents(objects, str(path), text_field, errors)


def documents_from_rows(
    rows: Iterable[tuple[int, dict[str, Any]]], source: str, *, text_field: str = "text", on_error: str = "raise"
) -> list[Document]:
    """One document per row of a table (``(index, values)``): its ``text_field``, whose
    lines are its paragraphs, and its ``title`` if it has one."""
    return list(iter_row_documents(rows, source, text_field, RowErrors(source, on_error, unit="row")))


def iter_row_documents(
    rows: Iterable[tuple[int, dict[str, Any]]], source: str, text_field: str, errors: RowErrors
) -> Iterator[Document]:
    """One document per row as the rows come; bad rows go to ``errors``, reported at the end."""
    for number, record in rows:
        text = record.get(text_field)
        if text_field not in record:
            keys = ", ".join(repr(k) for k in record) or "none"
            errors.add(number, f"no {text_field!r} key (keys: {keys}); data.text_field names the key of the text")
            continue
        if not isinstance(text, str):
            errors.add(number, f"expected a string under {text_field!r}, got {type(text).__name__}")
            continue
        paragraphs = [p.strip() for p in text.splitlines() if p.strip()]
        if paragraphs:
            title = record.get("title") if isinstance(record.get("title"), str) else None
            yield Document(paragraphs, source, number, title)
    errors.report()


# -- sentences -----------------------------------------------------------------------

# End of a sentence: ., ! or ? (and closing quotes/brackets) before a space and a
# capital, digit or opening quote; or CJK 。！？ (and closers), which need no space.
_SENTENCE_END = re.compile(
    r"[.!?](?:\s*[\"'”’)\]])*(?=\s+(?:[\"'“‘(\[]\s*)?[A-Z0-9À-ÝΑ-Ω])"
    r"|[。！？][”’」』）]*"
)


def split_sentences(text: str) -> list[str]:
    """Split a paragraph into sentences with punctuation rules (no model needed).

    Handles spaced tokens as in WikiText (``"actor . He"``) and CJK ``。！？``. Like any
    rule-based splitter it also splits after abbreviations followed by a capital
    (``"Mr. Smith"``); for pre-training that only shortens a sentence.
    """
    sentences, start = [], 0
    for match in _SENTENCE_END.finditer(text):
        piece = text[start : match.end()].strip()
        if piece:
            sentences.append(piece)
        start = match.end()
    tail = text[start:].strip()
    if tail:
        sentences.append(tail)
    return sentences


# -- pairs ---------------------------------------------------------------------------


@dataclass
class SentencePair(Generic[T]):
    """Two consecutive sentences (``is_next``) or a sentence and one from another document."""

    first: T
    second: T
    is_next: bool
    document: int
    """Index of the document of ``first``."""
    second_document: int


def _other_document(rng: random.Random, sizes: Sequence[int], current: int) -> int:
    """A random document other than ``current`` that has at least one item."""
    candidates = [i for i, n in enumerate(sizes) if n and i != current]
    if not candidates:
        raise ValueError("NotNext pairs need at least two non-empty documents")
    return rng.choice(candidates)


def sentence_pairs(
    documents: Sequence[Sequence[T]], *, seed: int, not_next_probability: float = 0.5
) -> list[SentencePair[T]]:
    """IsNext / NotNext pairs for next-sentence prediction.

    Every pair of consecutive sentences ``(s_i, s_i+1)`` of a document gives one pair:
    with ``not_next_probability`` its second sentence is replaced by a random sentence of
    another (random) document. The same ``seed`` gives the same pairs.
    """
    rng = random.Random(seed)
    sizes = [len(d) for d in documents]
    pairs: list[SentencePair[T]] = []
    for index, sentences in enumerate(documents):
        for i in range(len(sentences) - 1):
            if rng.random() < not_next_probability:
                other = _other_document(rng, sizes, index)
                second = documents[other][rng.randrange(sizes[other])]
                pairs.append(SentencePair(sentences[i], second, False, index, other))
            else:
                pairs.append(SentencePair(sentences[i], sentences[i + 1], True, index, index))
    return pairs


Span = tuple[int, int, int, int]
"""(document, sentence, start, end): tokens ``start:end`` of one tokenized sentence."""


@dataclass
class SegmentPair:
    """One pre-training sequence: segment A (and B for NSP) as spans of tokenized sentences."""

    a: list[Span]
    b: list[Span] = field(default_factory=list)
    is_next: bool | None = None
    document: int = 0

    @property
    def length(self) -> int:
        return sum(e - s for _, _, s, e in self.a) + sum(e - s for _, _, s, e in self.b)


def segment_pairs(
    lengths: Sequence[Sequence[int]],
    max_tokens: int,
    *,
    seed: int,
    nsp: bool = True,
    short_seq_probability: float = 0.1,
    not_next_probability: float = 0.5,
) -> list[SegmentPair]:
    """Pack tokenized sentences into sequences of at most ``max_tokens`` tokens (BERT style).

    ``lengths[d][s]`` is the token count of sentence ``s`` of document ``d``. Sentences
    stay whole and in order inside a document; a sentence longer than the budget is cut
    into budget-sized pieces (no token is dropped). With ``nsp``, each sequence is split
    at a random sentence boundary into A and B; B is the true continuation (IsNext) or,
    with ``not_next_probability``, text from a random other document (NotNext), and the
    unused sentences go back into the stream. With ``short_seq_probability`` a sequence
    gets a shorter random target (BERT's remedy for the pre-train/fine-tune length gap).
    ``max_tokens`` excludes special tokens.
    """
    if max_tokens < 2:
        raise ValueError("max_tokens must be at least 2")
    rng = random.Random(seed)
    # Cut over-long sentences into pieces so that every unit fits the budget.
    units: list[list[Span]] = []
    for d, doc in enumerate(lengths):
        doc_units: list[Span] = []
        for s, n in enumerate(doc):
            for start in range(0, n, max_tokens):
                doc_units.append((d, s, start, min(n, start + max_tokens)))
        units.append(doc_units)
    sizes = [len(u) for u in units]
    pairs: list[SegmentPair] = []
    for d, doc_units in enumerate(units):
        queue = list(doc_units)
        while queue:
            target = max_tokens
            if rng.random() < short_seq_probability:
                target = rng.randint(2, max_tokens)
            chunk: list[Span] = []
            size = 0
            # Take whole units up to the target; the unit that overflows the hard budget waits.
            while queue:
                n = queue[0][3] - queue[0][2]
                if chunk and size + n > max_tokens:
                    break
                chunk.append(queue.pop(0))
                size += n
                if size >= target:
                    break
            if not nsp:
                pairs.append(SegmentPair(chunk, document=d))
                continue
            is_next = rng.random() >= not_next_probability
            if is_next and len(chunk) == 1:
                # One unit only: its two halves are still a true continuation.
                dd, s, start, end = chunk[0]
                if end - start < 2:
                    is_next = False
                else:
                    cut = rng.randint(start + 1, end - 1)
                    pairs.append(SegmentPair([(dd, s, start, cut)], [(dd, s, cut, end)], True, d))
                    continue
            if is_next:
                a_end = rng.randint(1, len(chunk) - 1)
                pairs.append(SegmentPair(chunk[:a_end], chunk[a_end:], True, d))
                continue
            if sum(sizes) - sizes[d] == 0:
                raise ValueError("NotNext pairs need at least two non-empty documents")
            a_end = rng.randint(1, len(chunk) - 1) if len(chunk) > 1 else 1
            a = chunk[:a_end]
            queue[:0] = chunk[a_end:]  # unused sentences of this document come back
            a_size = sum(e - s for _, _, s, e in a)
            if a_size > max_tokens - 1:
                # A alone fills the budget: keep B room by returning A's tail to the stream.
                dd, s, start, end = a[-1]
                cut = end - (a_size - max(1, max_tokens // 2))
                a[-1] = (dd, s, start, cut)
                queue.insert(0, (dd, s, cut, end))
                a_size = sum(e - s for _, _, s, e in a)
            other = _other_document(rng, sizes, d)
            b: list[Span] = []
            room = max(target, a_size + 1) - a_size
            for dd, s, start, end in units[other][rng.randrange(sizes[other]) :]:
                take = min(end - start, room)
                b.append((dd, s, start, start + take))
                room -= take
                if room <= 0:
                    break
            pairs.append(SegmentPair(a, b, False, d))
    return pairs
