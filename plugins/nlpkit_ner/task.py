"""``task: ner``: named-entity recognition as token classification.

Reading (CoNLL columns, JSONL tokens/tags, JSONL text + character-offset entities) and
tag schemes live in :mod:`nlpkit_ner.readers` and :mod:`nlpkit_ner.schemes`; this
module wires them to the :class:`nlpkit.task.Task` contract. No torch, transformers
or evaluate at import time: recipe validation must stay fast.
"""

from __future__ import annotations

import json
import logging
from collections import Counter, defaultdict
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Iterable, Iterator, Literal, Sequence

from pydantic import Field, field_validator

from nlpkit.errors import NlpkitError, RecipeError
from nlpkit.readers import Record
from nlpkit.recipe import DataSection, HeadSection
from nlpkit.task import TEXT, Counts, ExplainTarget, Feature, Logits, Task, TaskSettings, text_list, text_object
from nlpkit_ner import schemes
from nlpkit_ner.readers import NerExample, ReadOptions, ReadResult, looks_like_conll, read, read_rows

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from nlpkit.task import HfHead
    from nlpkit_ner.metric import NerMetric

log = logging.getLogger("nlpkit")
IGNORE_INDEX = -100
MODEL_KEYS = ("input_ids", "attention_mask", "token_type_ids", "labels", "label_mask", "first_window", "last_window")


class NerData(DataSection):
    format: Literal["auto", "conll", "jsonl"] = Field(
        "auto", description="auto: .jsonl/.json/.ndjson are JSONL, anything else CoNLL columns."
    )
    token_column: int = Field(0, description="CoNLL: 0-based column of the word (negative counts from the end).")
    tag_column: int = Field(-1, description="CoNLL: 0-based column of the tag (default: the last).")
    separator: str | None = Field(None, description="CoNLL column separator (default: any whitespace).")
    scheme: Literal["auto", "iob1", "iob2", "bio", "iobes", "bioes", "io"] = Field(
        "auto", description="Tag scheme of the files (auto: detected per file)."
    )
    train_scheme: Literal["iob2", "iobes"] = Field("iob2", description="Scheme the model predicts.")
    labels: list[str] | None = Field(
        None, description="Entity types (PER, LOC...); a tag of another type is a data error. Default: from train."
    )
    label_all_pieces: bool = Field(
        False, description="Train on every sub-word piece, not only each word's first (predictions stay per word)."
    )
    window_overlap: int = Field(
        32, ge=0, description="Tokens shared by consecutive windows of a sentence longer than encoder.max_length "
        "(at most half a window)."
    )
    metric: Literal["conlleval", "strict"] = Field(
        "conlleval", description="Entity matching: as the CoNLL conlleval script, or seqeval's strict mode."
    )

    @field_validator("labels")
    @classmethod
    def _type_names(cls, value: list[str] | None) -> list[str] | None:
        if value is not None:
            bad = [v for v in value if not v or v == "O" or v[:2] in ("B-", "I-", "E-", "S-")]
            if bad:
                raise ValueError(f"give entity types (PER, LOC), not tags: {bad}")
        return value


class NerHead(HeadSection):
    crf: bool = Field(False, description="A CRF layer over the tags (Viterbi decoding, scheme constraints).")


class NerTask(Task[NerExample]):
    name: ClassVar[str] = "ner"
    DataOptions: ClassVar[type[DataSection]] = NerData
    HeadOptions: ClassVar[type[HeadSection]] = NerHead
    monitor: ClassVar[str] = "f1"
    batch_keys: ClassVar[tuple[str, ...]] = MODEL_KEYS  # bookkeeping lists (units, window) stay on the host
    prediction_formats: ClassVar[tuple[str, ...]] = ("jsonl", "conll")
    row_keys: ClassVar[tuple[str, ...]] = ("tokens", "tags", "text", "entities")

    def __init__(self, settings: TaskSettings) -> None:
        super().__init__(settings)
        self.scheme: schemes.Scheme = self.settings.data.train_scheme
        self.types: list[str] = list(self.settings.data.labels or [])
        self.tags: list[str] = schemes.tag_set(self.types, self.scheme) if self.types else []

    # -- reading -------------------------------------------------------------------
    def read(self, path: Path, split: str) -> list[NerExample]:
        return self._examples(read(path, self._read_options()), split)

    def read_rows(self, rows: Iterable[Record], source: str, split: str) -> list[NerExample]:
        return self._examples(read_rows(((r.line, r.values) for r in rows), source, self._read_options()), split)

    def _read_options(self) -> ReadOptions:
        opts = self.settings.data
        return ReadOptions(
            format=opts.format,
            token_column=opts.token_column,
            tag_column=opts.tag_column,
            separator=opts.separator,
            scheme=opts.scheme,
            target_scheme=self.scheme,
            labels=opts.labels,
            encoding=opts.encoding,
            on_error=opts.on_error,
            columns=opts.columns,
        )

    def _examples(self, result: ReadResult, split: str) -> list[NerExample]:
        if result.scheme:
            how = "detected" if self.settings.data.scheme == "auto" else "data.scheme"
            log.info("data.%s: tags read as %s (%s), trained as %s", split, result.scheme.upper(), how, self.scheme.upper())
        return result.examples

    def examples_from_inputs(self, inputs: Sequence[Any]) -> list[NerExample]:
        """A string is raw text (entities come back with character offsets); a list or
        tuple of strings, or ``{"tokens": [...]}``, is a pre-tokenized sentence (a tag per
        word); ``{"text": ...}`` is raw text."""
        from nlpkit_ner.alignment import split_words

        examples = []
        for given in inputs:
            item = given
            if isinstance(given, dict):
                item = given.get("tokens", given.get("text"))
                if item is None:
                    keys = ", ".join(repr(k) for k in given) or "none"
                    raise NlpkitError(f"task ner predicts from an object with a 'text' or 'tokens' key; keys: {keys}")
            if isinstance(item, str):
                offsets = split_words(item)
                examples.append(NerExample([item[s:e] for s, e in offsets], text=item, offsets=offsets))
            elif isinstance(item, (list, tuple)) and all(isinstance(w, str) for w in item):
                examples.append(NerExample(list(item)))
            else:
                raise NlpkitError(
                    f"task ner predicts from texts, lists of words, or {{'text'|'tokens': ...}} objects; got {given!r:.80}"
                )
        return examples

    def input_schemas(self) -> list[dict[str, Any]]:
        tokens = {"type": "object", "properties": {"tokens": text_list(1), "id": TEXT}, "required": ["tokens"],
                  "additionalProperties": False}
        return [TEXT, text_list(1), text_object(["text"]), tokens]

    def input_format(self, lines: Sequence[str]) -> str | None:
        """CoNLL columns (words and gold tags) are read as such by ``nlpkit predict``,
        never taken for one text per line."""
        opts = self.settings.data
        if opts.format != "jsonl" and looks_like_conll(lines, opts.separator, opts.tag_column):
            return "CoNLL columns"
        return None

    def texts(self, examples: Sequence[NerExample]) -> Iterator[str]:
        return (e.text if e.text is not None else " ".join(e.words) for e in examples)

    # -- labels and state ----------------------------------------------------------
    def setup(self, train: Sequence[NerExample]) -> None:
        seen = sorted({t for e in train for t, _ in _types(e.tags)})
        if not self.settings.data.labels:
            self.types = seen
        if not self.types:
            raise RecipeError(f"{self.settings.source}: the training data holds no entity (every tag is O)")
        self.tags = schemes.tag_set(self.types, self.scheme)

    def check(self, examples: Sequence[NerExample], split: str) -> list[str]:
        known = set(self.types)
        unseen = Counter(t for e in examples for t, _ in _types(e.tags) if t not in known)
        if not unseen:
            return []
        names = ", ".join(f"{t} ({n})" for t, n in unseen.most_common(10))
        return [f"entity types unseen in training: {names}; they stay in the evaluation and count as misses"]

    def state_dict(self) -> dict[str, Any]:
        return {"scheme": self.scheme, "types": self.types, "tags": self.tags}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.scheme = state["scheme"]
        self.types = list(state["types"])
        self.tags = list(state["tags"])

    # -- encoding ------------------------------------------------------------------
    def encode(self, examples: Sequence[NerExample], tokenizer: Any, *, training: bool, counts: Counts) -> list[Feature]:
        from nlpkit_ner.alignment import special_tokens, windows

        prefix, suffix = special_tokens(tokenizer)
        size = self.settings.max_length - len(prefix) - len(suffix)
        overlap = min(self.settings.data.window_overlap, size // 2)
        all_pieces = self.settings.data.label_all_pieces
        index = {t: i for i, t in enumerate(self.tags)}
        encoded = tokenizer([e.words for e in examples], is_split_into_words=True, add_special_tokens=False)
        features: list[Feature] = []
        split_long = 0
        for i, example in enumerate(examples):
            ids: list[int] = encoded["input_ids"][i]
            word_ids = encoded.word_ids(i)
            starts = [w is not None and (p == 0 or word_ids[p - 1] != w) for p, w in enumerate(word_ids)]
            # A "unit" is what carries a label: a word (its first piece), or every piece.
            units = [
                (p if all_pieces else w) if w is not None and (all_pieces or starts[p]) else -1
                for p, w in enumerate(word_ids)
            ]
            labels = self._piece_labels(example, word_ids, starts, index) if example.tags is not None else None
            spans = windows(starts, size, overlap)
            split_long += len(spans) > 1
            for start, end in spans:
                pad_l, pad_r = [-1] * len(prefix), [-1] * len(suffix)
                feature: Feature = {
                    "input_ids": prefix + ids[start:end] + suffix,
                    "example_id": i,
                    "units": pad_l + units[start:end] + pad_r,
                    "unit_words": pad_l + [w if w is not None else -1 for w in word_ids[start:end]] + pad_r,
                    "window": [len(prefix), len(prefix) + end - start - 1],
                    # Whether the window opens/closes its sentence (CRF start/end constraints).
                    "first_window": int(start == 0),
                    "last_window": int(end == len(ids)),
                }
                feature["attention_mask"] = [1] * len(feature["input_ids"])
                feature["token_type_ids"] = [0] * len(feature["input_ids"])
                feature["label_mask"] = [int(u >= 0) for u in feature["units"]]
                if labels is not None:
                    feature["labels"] = [IGNORE_INDEX] * len(prefix) + labels[start:end] + [IGNORE_INDEX] * len(suffix)
                features.append(feature)
        counts.add(
            f"sentences exceed encoder.max_length = {self.settings.max_length} and are split into overlapping windows",
            split_long, level=logging.INFO,
        )
        return features

    def _piece_labels(
        self, example: NerExample, word_ids: Sequence[int | None], starts: Sequence[bool], index: dict[str, int]
    ) -> list[int]:
        """Label id per piece: the word's tag on its first piece (-100 elsewhere), or with
        ``label_all_pieces`` the entity spans re-written over pieces (B- then I-...)."""
        assert example.tags is not None
        if not self.settings.data.label_all_pieces:
            return [
                index.get(example.tags[w], IGNORE_INDEX) if w is not None and starts[p] else IGNORE_INDEX
                for p, w in enumerate(word_ids)
            ]
        first: dict[int, int] = {}
        last: dict[int, int] = {}
        for p, w in enumerate(word_ids):
            if w is not None:
                first.setdefault(w, p)
                last[w] = p
        piece_spans = []
        for span in schemes.spans(example.tags):
            covered = [w for w in range(span.start, span.end) if w in first]
            if covered:
                piece_spans.append(schemes.Span(span.label, first[covered[0]], last[covered[-1]] + 1))
        piece_tags = schemes.to_tags(piece_spans, len(word_ids), self.scheme)
        return [index.get(t, IGNORE_INDEX) if w is not None else IGNORE_INDEX for t, w in zip(piece_tags, word_ids)]

    # -- model ---------------------------------------------------------------------
    def build_head(self, encoder: Any) -> "torch.nn.Module":
        from nlpkit_ner.crf import CRF
        from nlpkit_ner.heads import TokenClassifier

        crf = None
        if self.settings.head.crf:
            allowed, start, end = schemes.allowed_transitions(self.tags, self.scheme)
            crf = CRF(len(self.tags), allowed, start, end)
        return TokenClassifier(encoder.config.hidden_size, len(self.tags), self.settings.head.dropout, crf)

    def hf_head(self, encoder: Any, head: Any) -> "HfHead":
        from nlpkit_ner.export import token_hf_head

        return token_hf_head(head, self.tags)

    def split_outputs(self, output: dict[str, "torch.Tensor"], batch: dict[str, "torch.Tensor"]) -> list[Any]:
        from nlpkit.batching import split_rows
        from nlpkit_ner.heads import choose

        return split_rows(choose(output), batch)

    def explain_targets(self, feature: Feature, output: Any, prediction: dict[str, Any]) -> list[ExplainTarget]:
        """One value per entity found: the emission logits of its words' predicted tags,
        summed. (A CRF adds transition scores, which do not depend on the input.)"""
        words, tag_ids = prediction["tokens"], output["tag"]
        tagged = [(w, p, int(tag_ids[p])) for p, (u, w) in enumerate(zip(feature["units"], feature["unit_words"]))
                  if u >= 0 and p < len(tag_ids)]
        targets = []
        for span in schemes.spans(prediction["tags"]):
            picks = [(p, tag) for w, p, tag in tagged if span.start <= w < span.end]
            name = f"{span.label}: {' '.join(words[span.start:span.end])}"
            targets.append(ExplainTarget(name, lambda out, picks=picks: sum(out["logits"][:, p, t] for p, t in picks)))
        return targets

    def distill_logits(self, output: dict[str, "torch.Tensor"], batch: dict[str, "torch.Tensor"]) -> dict[str, Logits]:
        """The tag scores of the labelled pieces (each word's first); with a CRF, its
        emissions: a student with or without a CRF learns from a teacher with or without one."""
        return {"tags": Logits(output["logits"][batch["label_mask"] > 0])}

    # -- predictions ---------------------------------------------------------------
    def decode(
        self, examples: Sequence[NerExample], features: Sequence[Feature], outputs: Sequence[Any]
    ) -> list[dict[str, Any]]:
        from nlpkit_ner.alignment import centrality

        grouped: dict[int, list[tuple[Feature, Any]]] = defaultdict(list)
        for feature, output in zip(features, outputs):
            grouped[feature["example_id"]].append((feature, output))
        predictions = []
        for i, example in enumerate(examples):
            # Per unit, the window where it has the most context on both sides wins.
            best: dict[int, tuple[int, int, float, int]] = {}
            for feature, output in grouped.get(i, []):
                first, last = feature["window"]
                tag_ids, scores = output["tag"], output["score"]
                for p, unit in enumerate(feature["units"]):
                    if unit < 0 or p >= len(tag_ids):
                        continue
                    cen = centrality(p, first, last)
                    if unit not in best or cen > best[unit][0]:
                        best[unit] = (cen, int(tag_ids[p]), float(scores[p]), feature["unit_words"][p])
            tags, word_scores = self._word_tags(len(example.words), best)
            predictions.append(self._prediction(example, tags, word_scores))
        return predictions

    def _word_tags(self, n_words: int, best: dict[int, tuple[int, int, float, int]]) -> tuple[list[str], list[float]]:
        tags = ["O"] * n_words
        scores = [0.0] * n_words
        if not self.settings.data.label_all_pieces:
            for word, (_, tag_id, score, _) in best.items():
                tags[word] = self.tags[tag_id] if 0 <= tag_id < len(self.tags) else "O"
                scores[word] = score
            return tags, scores
        # Pieces -> entity spans over pieces -> spans over the words they fall in.
        units = sorted(best)
        piece_tags = [self.tags[best[u][1]] if 0 <= best[u][1] < len(self.tags) else "O" for u in units]
        piece_words = [best[u][3] for u in units]
        per_word: dict[int, list[float]] = defaultdict(list)
        for u, w in zip(units, piece_words):
            per_word[w].append(best[u][2])
        for w, values in per_word.items():
            scores[w] = sum(values) / len(values)
        word_spans: list[schemes.Span] = []
        for span in schemes.spans(piece_tags):
            start, end = piece_words[span.start], piece_words[span.end - 1] + 1
            if word_spans and start < word_spans[-1].end:
                continue  # a second entity inside the same word: keep the first
            word_spans.append(schemes.Span(span.label, start, end))
        return schemes.to_tags(word_spans, n_words, self.scheme), scores

    def _prediction(self, example: NerExample, tags: list[str], scores: list[float]) -> dict[str, Any]:
        prediction: dict[str, Any] = {"tokens": example.words, "tags": tags}
        if example.text is not None and example.offsets is not None:
            entities = []
            for span in schemes.spans(tags):
                start, end = example.offsets[span.start][0], example.offsets[span.end - 1][1]
                score = sum(scores[span.start : span.end]) / (span.end - span.start)
                entities.append(
                    {"text": example.text[start:end], "label": span.label, "start": start, "end": end, "score": round(score, 4)}
                )
            prediction = {"text": example.text, "entities": entities, **prediction}
        return prediction

    # -- metrics -------------------------------------------------------------------
    def metric(self) -> "NerMetric":
        from nlpkit_ner.metric import NerMetric

        return NerMetric(mode=self.settings.data.metric, scheme=self.scheme)

    def metric_inputs(self, examples: Sequence[NerExample], predictions: Sequence[dict[str, Any]]) -> dict[str, Any]:
        return {"predictions": [p["tags"] for p in predictions], "references": [e.tags or [] for e in examples]}

    def metric_names(self) -> frozenset[str]:
        # The flat keys of scoring.score (per_type is nested).
        return frozenset({"precision", "recall", "f1", "macro_precision", "macro_recall", "macro_f1", "accuracy"})

    def has_labels(self, examples: Sequence[NerExample]) -> bool:
        return bool(examples) and all(e.tags is not None for e in examples)

    # -- output files --------------------------------------------------------------
    def record(self, example: NerExample, prediction: dict[str, Any]) -> dict[str, Any]:
        row: dict[str, Any] = dict(prediction)
        if example.tags is not None:
            row["gold"] = example.tags
        if example.gold_entities is not None:
            row["gold_entities"] = example.gold_entities
        return row

    def render(self, examples: Sequence[NerExample], predictions: Sequence[dict[str, Any]], fmt: str) -> Iterator[str]:
        """``jsonl``: one record per sentence. ``conll``: ``word gold predicted`` per line
        (``word predicted`` without gold), a blank line after each sentence, both tag
        columns in the file's own scheme: ``conlleval`` on it gives our F1."""
        if fmt == "jsonl":
            for example, prediction in zip(examples, predictions):
                yield json.dumps(self.record(example, prediction), ensure_ascii=False)
            return
        if fmt != "conll":
            raise NlpkitError(f"task ner writes predictions as {', '.join(self.prediction_formats)}, not {fmt}")
        for example, prediction in zip(examples, predictions):
            target = example.scheme or self.scheme
            predicted = schemes.convert(prediction["tags"], target)  # type: ignore[arg-type]
            gold = example.source_tags if example.source_tags is not None else None
            for k, word in enumerate(example.words):
                cells = [_cell(word)] + ([gold[k]] if gold is not None else []) + [predicted[k]]
                yield " ".join(cells)
            yield ""


def _types(tags: Sequence[str] | None) -> Iterator[tuple[str, int]]:
    for span in schemes.spans(tags or []):
        yield span.label, span.start


def _cell(word: str) -> str:
    """A word as one space-free CoNLL cell."""
    return "_".join(word.split()) or "_"
