"""``task: nsp``: BERT's next-sentence prediction on the pooled [CLS] output.

Training and evaluation pairs come from a raw document corpus (consecutive sentences =
IsNext, a random sentence of another document = NotNext, 50/50, seeded; built by
:mod:`nlpkit_pretrain.corpus`) or from a file of labelled pairs. A checkpoint's own NSP
head (``cls.seq_relationship``) is loaded when it has one, so a ``BertForPreTraining``
checkpoint scores pairs without training (:mod:`nlpkit_pair.scoring`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Iterable, Literal, Sequence, cast

from pydantic import Field

from nlpkit.errors import DataError
from nlpkit.readers import BadRow, Column, Record
from nlpkit.recipe import DataSection, HeadSection
from nlpkit.task import PREDICTION, Feature, TaskSettings
from nlpkit_classification.labels import ClassLabels, missing
from nlpkit_classification.sequence import SequenceTask
from nlpkit_pair.pair import PAIR_ROW_KEYS, PairColumns, PairExample, PairInputs
from nlpkit_pretrain.corpus import Document, documents_from_rows, no_text, read_documents, sentence_pairs
from nlpkit_pretrain.task import CorpusOptions, held_out

if TYPE_CHECKING:  # pragma: no cover
    from nlpkit_pair.heads import NspHead
    from nlpkit_pair.metric import NspMetric

IS_NEXT, NOT_NEXT = "is_next", "not_next"
NSP_LABELS = (IS_NEXT, NOT_NEXT)  # class indices as BERT's next_sentence_label: 0 = IsNext
# Labels accepted in pair files; 1/true mean "b follows a" (BERT's index 0, see above).
LABEL_WORDS = {
    **dict.fromkeys(("is_next", "isnext", "1", "true", "yes"), IS_NEXT),
    **dict.fromkeys(("not_next", "notnext", "0", "false", "no"), NOT_NEXT),
}
_PAIR_SUFFIXES = (".tsv", ".csv")
_JSON_SUFFIXES = (".jsonl", ".json", ".ndjson")


class NspData(PairColumns, CorpusOptions):
    source: Literal["auto", "corpus", "pairs"] = Field(
        "auto",
        description="corpus: raw documents, pairs built from them; pairs: labelled text_a/text_b rows; "
        "auto: .tsv/.csv and JSONL with text_a are pairs, anything else (.raw, .txt, folders) a corpus.",
    )


class NspHeadOptions(HeadSection):
    eval_seed: int = Field(1234, description="Seed of the validation/test pairs built from a corpus.")


class NspTask(SequenceTask[PairExample]):
    """Pairs (from a corpus, or labelled) with the fixed classes is_next / not_next, the
    F1 of is_next, and BERT's own NSP head."""

    name: ClassVar[str] = "nsp"
    DataOptions: ClassVar[type[DataSection]] = NspData
    HeadOptions: ClassVar[type[HeadSection]] = NspHeadOptions
    monitor: ClassVar[str] = "nsp_accuracy"
    row_keys: ClassVar[tuple[str, ...]] = (*PAIR_ROW_KEYS, "text", "title")

    def __init__(self, settings: TaskSettings) -> None:
        labels = ClassLabels(NSP_LABELS, positive=IS_NEXT, positive_f1=True, source=settings.source)
        super().__init__(settings, PairInputs(cast(NspData, settings.data), self.name), labels)
        self.restored = False

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.restored = True  # a run being reloaded: its own head weights follow

    # -- reading -------------------------------------------------------------------
    def source(self, path: Path) -> str:
        opts = self.settings.data
        if opts.source != "auto":
            return opts.source
        if opts.format in ("tsv", "csv"):
            return "pairs"
        suffix = path.suffix.lower()
        if path.is_dir() or suffix not in _PAIR_SUFFIXES + _JSON_SUFFIXES:
            return "corpus"
        if suffix in _PAIR_SUFFIXES:
            return "pairs"
        with path.open(encoding=opts.encoding) as handle:
            first = next((line for line in handle if line.strip()), "")
        try:
            record = json.loads(first)
        except ValueError:
            return "corpus"  # the corpus reader reports the bad line
        return "pairs" if isinstance(record, dict) and "text_a" in record else "corpus"

    def read(self, path: Path, split: str) -> list[PairExample]:
        # A file given to nlpkit predict holds the pairs to predict, never a corpus to draw from.
        if split == PREDICTION or self.source(Path(path)) == "pairs":
            return super().read(path, split)
        opts = self.settings.data
        documents = read_documents(
            path, boundary=opts.document_boundary, text_field=opts.text_field, encoding=opts.encoding,
            on_error=opts.on_error, columns=opts.columns,
        )
        if not documents:
            raise no_text(path, text_field=opts.text_field, encoding=opts.encoding)
        return self._pairs(documents, str(path), split)

    def read_rows(self, rows: Iterable[Record], source: str, split: str) -> list[PairExample]:
        """Rows with ``text_a`` (and ``text_b``, ``label``) are pairs; rows of ``text``,
        documents to draw pairs from (``data.source`` decides where it is not auto)."""
        opts = self.settings.data
        rows = list(rows)
        pairs = opts.source == "pairs" or (opts.source == "auto" and bool(rows) and "text_a" in rows[0].values)
        if split == PREDICTION or pairs:
            return super().read_rows(rows, source, split)
        records = ((r.line, r.values) for r in rows)
        documents = documents_from_rows(records, source, text_field=opts.text_field, on_error=opts.on_error)
        if not documents:
            raise DataError(source, None, f"no text found: no row holds a non-empty {opts.text_field!r} string")
        return self._pairs(documents, source, split)

    def _pairs(self, documents: list[Document], source: str, split: str) -> list[PairExample]:
        """IsNext / NotNext pairs drawn from the documents (seeded: the run's seed for
        training, ``head.eval_seed`` otherwise)."""
        documents = held_out(documents, source, split, self.settings.data)
        seed = self.settings.seed if split == "train" else self.settings.head.eval_seed
        try:
            pairs = sentence_pairs([d.sentences() for d in documents], seed=seed)
        except ValueError as exc:
            raise DataError(
                source, None,
                f"data.{split}: {exc}: NotNext sentences come from another document of the same split "
                "(hold out at least 2 documents, e.g. data.validation_documents: 2)",
            ) from None
        return [
            PairExample(
                p.first, p.second, IS_NEXT if p.is_next else NOT_NEXT,
                id=documents[p.document].title, line=documents[p.document].line,
            )
            for p in pairs
        ]

    def parse_label(self, raw: Any, column: Column, kind: str = "column") -> str:
        if missing(raw):
            raise BadRow(f"missing label ({kind} {column!r})")
        label = LABEL_WORDS.get(str(raw).strip().lower())
        if label is None:
            raise BadRow(f"label {raw!r} ({kind} {column!r}) is not an NSP label (is_next/not_next, 1/0, true/false)")
        return label

    # -- labels ----------------------------------------------------------------------
    def setup(self, train: Sequence[PairExample]) -> None:
        self.strategy.labels = list(NSP_LABELS)  # fixed: nothing to learn from the data

    def cache_settings(self) -> dict[str, Any]:
        return {**super().cache_settings(), "seed": self.settings.seed}  # training pairs use it

    # -- model -----------------------------------------------------------------------
    def build_head(self, encoder: Any) -> "NspHead":
        from nlpkit_pair.heads import NspHead, load_nsp_weights

        head = NspHead(encoder.config.hidden_size, self.settings.head.dropout)
        # A scratch encoder must not get old weights; a reloaded run brings its own.
        checkpoint = self.settings.encoder_checkpoint
        if checkpoint is not None and not self.restored:
            from nlpkit.plugins import resolve_encoder

            load_nsp_weights(head, resolve_encoder(checkpoint))
        return head

    def hf_head(self, encoder: Any, head: "NspHead") -> "HfHead":
        """BERT's own next-sentence classifier: ``BertForNextSentencePrediction`` exactly."""
        from nlpkit.task import HfHead

        layer = head.seq_relationship
        return HfHead(
            architecture="BertForNextSentencePrediction",
            auto_class="AutoModelForNextSentencePrediction",
            weights={"cls.seq_relationship.weight": layer.weight.detach(), "cls.seq_relationship.bias": layer.bias.detach()},
            compare=lambda nlpkit, batch, output: {"logits": (nlpkit(batch), output.logits)},
            config={"id2label": dict(enumerate(NSP_LABELS)), "label2id": {l: i for i, l in enumerate(NSP_LABELS)}},
        )

    # -- predictions and metrics -----------------------------------------------------------
    def decode(
        self, examples: Sequence[PairExample], features: Sequence[Feature], outputs: Sequence[Any]
    ) -> list[dict[str, Any]]:
        predictions = super().decode(examples, features, outputs)
        return [
            {"label": p["label"], "is_next": p["label"] == IS_NEXT, "probability": p["probabilities"][IS_NEXT]}
            for p in predictions
        ]

    def metric(self) -> "NspMetric":
        from nlpkit_pair.metric import NspMetric

        return NspMetric()

    def metric_names(self) -> frozenset[str]:
        return frozenset({"nsp_accuracy", "f1", "macro_f1", "mcc"})  # the positive class is is_next
