"""``task: pretrain``: BERT pre-training (masked language modelling, optionally with
next-sentence prediction) on plain text or JSONL.

Examples are *documents* (:class:`~nlpkit_pretrain.corpus.Document`); ``encode`` packs
their sentences into sequences of up to ``encoder.max_length`` tokens (NSP: segment
pairs, 50% IsNext / 50% NotNext from another document). Masks are drawn in
``prepare_batch``:
new masks every time a training batch is built (dynamic masking), fixed masks derived
from ``head.eval_seed`` and each sequence's tokens for evaluation. Predictions and
metrics are per-document sums of masked-token loss and hits, never vocabulary logits.

No torch/transformers import at module level: recipe validation stays fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Iterable, Iterator, Literal, Sequence

from pydantic import Field, field_validator, model_validator

from nlpkit.errors import DataError, NlpkitError
from nlpkit.readers import Record
from nlpkit.recipe import DataSection, HeadSection
from nlpkit.task import Counts, Feature, Task
from nlpkit_pretrain.corpus import Document, documents_from_rows, no_text, read_documents, segment_pairs
from nlpkit_pretrain.stream import CorpusStream, corpus_options, held_out_indices, holds_out

if TYPE_CHECKING:  # pragma: no cover
    import torch
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

    from nlpkit.task import HfHead
    from nlpkit_pretrain.head import PretrainingHeads
    from nlpkit_pretrain.masking import Masker
    from nlpkit_pretrain.metric import PretrainingMetric

IS_NEXT, NOT_NEXT = 0, 1  # BERT's next_sentence_label convention


class CorpusOptions(DataSection):
    """Reading a raw document corpus; shared with ``task: nsp``."""

    document_boundary: Literal["auto", "title", "blank_line", "line"] = Field(
        "auto",
        description="Where plain-text documents end: WikiText ' = Title = ' lines, blank lines, "
        "every line, or auto (titles when the file has any, else blank lines).",
    )
    text_field: str = Field("text", description="JSONL key holding a document's text.")
    validation_documents: int = Field(
        0,
        ge=0,
        description="Hold out this many whole documents of data.train (seeded by split_seed) "
        "as the validation split; data.validation defaults to data.train.",
    )

    @model_validator(mode="before")
    @classmethod
    def _validation_from_train(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("validation_documents") and data.get("train"):
            if data.get("validation_split"):
                raise ValueError("data.validation_documents and data.validation_split both hold out data: use one")
            if not data.get("validation"):
                data = {**data, "validation": data["train"]}
        return data


class PretrainDataOptions(CorpusOptions):
    format: Literal["auto", "text", "jsonl"] = Field(
        "auto", description="auto: .jsonl/.json files as JSON lines, anything else as plain text."
    )
    short_seq_probability: float = Field(
        0.1, ge=0, le=1, description="Share of training sequences given a shorter random length (BERT: 0.1)."
    )


class PretrainHeadOptions(HeadSection):
    objectives: list[Literal["mlm", "nsp"]] = Field(
        default_factory=lambda: ["mlm", "nsp"], description="[mlm] or [mlm, nsp]; the loss is their sum."
    )
    mlm_probability: float = Field(0.15, gt=0, lt=1, description="Share of tokens selected for MLM.")
    whole_word_mask: bool = Field(False, description="Select whole words: all pieces of a word together.")
    eval_seed: int = Field(
        1234, description="Seed of evaluation masks and NSP pairs: same text, same seed -> same masks."
    )

    @field_validator("objectives")
    @classmethod
    def _check_objectives(cls, value: list[str]) -> list[str]:
        if "mlm" not in value:
            raise ValueError("objectives must include mlm ([mlm] or [mlm, nsp])")
        if len(set(value)) != len(value):
            raise ValueError("objectives are listed twice")
        return value


def held_out(documents: list[Document], source: str, split: str, data: CorpusOptions) -> list[Document]:
    """``data.validation_documents`` of ``data.train`` (seeded by ``data.split_seed``):
    the held-out documents for the validation split, the others for training."""
    if not holds_out(source, data):
        return documents
    chosen = held_out_indices(len(documents), source, data)
    keep_held_out = split != "train"
    return [d for i, d in enumerate(documents) if (i in chosen) == keep_held_out]


class PretrainTask(Task[Document]):
    name: ClassVar[str] = "pretrain"
    DataOptions = PretrainDataOptions
    HeadOptions = PretrainHeadOptions
    monitor: ClassVar[str] = "perplexity"
    monitor_mode: ClassVar[str] = "min"
    row_keys: ClassVar[tuple[str, ...]] = ("text", "title")
    batch_keys: ClassVar[tuple[str, ...]] = (
        "input_ids", "token_type_ids", "attention_mask", "special_tokens_mask", "word_starts", "example_id",
        "next_sentence_label",
    )

    _masker: "Masker | None" = None
    _masker_for: int | None = None

    @property
    def nsp(self) -> bool:
        return "nsp" in self.settings.head.objectives

    # -- reading ---------------------------------------------------------------------
    def stream(self, path: Path, split: str) -> CorpusStream:
        """The corpus read as it is iterated: the core encodes it into shards."""
        return CorpusStream(path, split, self.settings.data)

    def read(self, path: Path, split: str) -> list[Document]:
        data = self.settings.data
        if holds_out(path, data):  # held out of data.train: stream past the others, keep these
            return list(self.stream(path, split))
        documents = read_documents(path, **corpus_options(data))
        if not documents:
            raise no_text(path, format=data.format, text_field=data.text_field, encoding=data.encoding)
        return held_out(documents, str(path), split, data)

    def read_rows(self, rows: Iterable[Record], source: str, split: str) -> list[Document]:
        data = self.settings.data
        records = ((r.line, r.values) for r in rows)
        documents = documents_from_rows(records, source, text_field=data.text_field, on_error=data.on_error)
        if not documents:
            raise DataError(source, None, f"no text found: no row holds a non-empty {data.text_field!r} string")
        return held_out(documents, source, split, data)

    def examples_from_inputs(self, inputs: Sequence[Any]) -> list[Document]:
        """Strings or ``{"text": ...}`` mappings: each one a document to score."""
        documents = []
        for i, item in enumerate(inputs):
            text = item.get(self.settings.data.text_field) if isinstance(item, dict) else item
            if not isinstance(text, str):
                raise NlpkitError(f"input {i}: expected a string or a mapping with '{self.settings.data.text_field}'")
            documents.append(Document([p.strip() for p in text.splitlines() if p.strip()], "<input>", i + 1))
        return documents

    def texts(self, examples: Sequence[Document]) -> Iterator[str]:
        return (p for doc in examples for p in doc.paragraphs)

    # -- encoding --------------------------------------------------------------------
    def cache_settings(self) -> dict[str, Any]:
        # Training pairs are drawn with the run's seed.
        return {**super().cache_settings(), "seed": self.settings.seed}

    def encode(
        self, examples: Sequence[Document], tokenizer: "PreTrainedTokenizerBase", *, training: bool, counts: Counts
    ) -> list[Feature]:
        sentences = [doc.sentences() for doc in examples]
        flat = [s for doc in sentences for s in doc]
        if not flat:
            return []
        ids, starts = _tokenized(flat, tokenizer)
        # Back from the flat list to documents.
        doc_ids, doc_starts, k = [], [], 0
        for doc in sentences:
            doc_ids.append(ids[k : k + len(doc)])
            doc_starts.append(starts[k : k + len(doc)])
            k += len(doc)
        specials = 3 if self.nsp else 2
        try:
            pairs = segment_pairs(
                [[len(s) for s in doc] for doc in doc_ids],
                self.settings.max_length - specials,
                seed=self.settings.seed if training else self.settings.head.eval_seed,
                nsp=self.nsp,
                short_seq_probability=self.settings.data.short_seq_probability if training else 0.0,
            )
        except ValueError as exc:
            split = "training" if training else "evaluation"
            raise NlpkitError(
                f"{split} text: {exc}: NSP draws NotNext segments from another document of the same "
                "split (hold out at least 2 documents, e.g. data.validation_documents: 2, or use objectives: [mlm])"
            ) from None
        cls_id, sep_id = tokenizer.cls_token_id, tokenizer.sep_token_id
        features: list[Feature] = []
        for pair in pairs:
            input_ids, word_starts, special = [cls_id], [0], [1]
            segments = [pair.a, pair.b] if self.nsp else [pair.a]
            types: list[int] = [0]
            for segment_index, segment in enumerate(segments):
                for d, s, start, end in segment:
                    input_ids.extend(doc_ids[d][s][start:end])
                    piece = doc_starts[d][s][start:end]
                    word_starts.extend([1] + piece[1:])  # a cut word's tail counts as a word
                input_ids.append(sep_id)
                word_starts.append(0)
                types.extend([segment_index] * (len(input_ids) - len(types)))
                special.extend([0] * (len(input_ids) - len(special) - 1) + [1])
            feature: Feature = {
                "input_ids": input_ids,
                "token_type_ids": types,
                "attention_mask": [1] * len(input_ids),
                "special_tokens_mask": special,
                "word_starts": word_starts,
                "example_id": pair.document,
            }
            if self.nsp:
                feature["next_sentence_label"] = IS_NEXT if pair.is_next else NOT_NEXT
            features.append(feature)
        return features

    # -- batching: masks are drawn here ----------------------------------------------
    def masker(self, tokenizer: "PreTrainedTokenizerBase") -> "Masker":
        if self._masker is None or self._masker_for != id(tokenizer):
            from nlpkit_pretrain.masking import Masker

            self._masker = Masker(
                tokenizer, self.settings.head.mlm_probability, whole_word=self.settings.head.whole_word_mask
            )
            self._masker_for = id(tokenizer)
        return self._masker

    def prepare_batch(
        self, batch: dict[str, "torch.Tensor"], tokenizer: "PreTrainedTokenizerBase", *, training: bool
    ) -> dict[str, "torch.Tensor"]:
        never = batch.pop("special_tokens_mask").bool() | (batch["attention_mask"] == 0)  # specials and padding
        starts = batch.pop("word_starts").clamp(min=0)  # padding (-100) -> 0
        masker = self.masker(tokenizer)
        if training:
            batch["input_ids"], batch["labels"] = masker(batch["input_ids"], never, starts)
        else:
            lengths = batch["attention_mask"].sum(dim=1).tolist()  # each sequence's own tokens
            batch["input_ids"], batch["labels"] = masker.reproducible(
                batch["input_ids"], never, starts, lengths, self.settings.head.eval_seed
            )
        return batch

    # -- model -----------------------------------------------------------------------
    def build_head(self, encoder: "PreTrainedModel") -> "PretrainingHeads":
        from nlpkit_pretrain.head import PretrainingHeads, load_heads

        head = PretrainingHeads(encoder, nsp=self.nsp)
        source = None
        if self.settings.encoder_checkpoint is not None:  # a scratch encoder must not get old heads
            from nlpkit.plugins import resolve_encoder

            source = resolve_encoder(self.settings.encoder_checkpoint)
        load_heads(head, source)
        return head

    def hf_head(self, encoder: "PreTrainedModel", head: "PretrainingHeads") -> "HfHead":
        from nlpkit_pretrain.head import pretraining_hf_head

        return pretraining_hf_head(encoder, head)

    def export_checkpoint(
        self, encoder: "PreTrainedModel", head: "PretrainingHeads", tokenizer: "PreTrainedTokenizerBase", directory: str | Path
    ) -> Path:
        """Write a standard BERT checkpoint (config, safetensors weights, tokenizer) that
        any recipe takes as ``encoder.name``."""
        from nlpkit_pretrain.head import save_checkpoint

        return save_checkpoint(encoder, head, tokenizer, directory)

    # -- evaluation --------------------------------------------------------------------
    def split_outputs(self, output: dict[str, "torch.Tensor"], batch: dict[str, "torch.Tensor"]) -> list[dict[str, float]]:
        """Per-sequence sums (loss, masked, correct, NSP hit), not vocabulary logits."""
        import torch
        from torch.nn import functional as F

        size = batch["input_ids"].shape[0]
        logits, labels, rows = output["mlm_logits"].float(), output["mlm_labels"], output["mlm_rows"]
        token_loss = F.cross_entropy(logits, labels, reduction="none") if logits.shape[0] else logits.sum(-1)
        loss_sum = torch.zeros(size, dtype=torch.float64, device=logits.device).index_add_(0, rows, token_loss.double())
        masked = torch.bincount(rows, minlength=size)
        correct = torch.bincount(rows, weights=(logits.argmax(-1) == labels).double(), minlength=size)
        nsp = (output["nsp_logits"].argmax(-1) == batch["next_sentence_label"]).long() if self.nsp else None
        summaries = []
        for i in range(size):
            summaries.append(
                {
                    "mlm_loss_sum": float(loss_sum[i]),
                    "masked": float(masked[i]),
                    "correct": float(correct[i]),
                    "nsp_correct": float(nsp[i]) if nsp is not None else 0.0,
                    "nsp_total": 1.0 if nsp is not None else 0.0,
                }
            )
        return summaries

    def decode(
        self, examples: Sequence[Document], features: Sequence[Feature], outputs: Sequence[dict[str, float]]
    ) -> list[dict[str, Any]]:
        """Per document: summed masked-token loss and hits, and its perplexity."""
        import math

        sums = [dict.fromkeys(("mlm_loss_sum", "masked", "correct", "nsp_correct", "nsp_total"), 0.0) for _ in examples]
        for feature, output in zip(features, outputs):
            total = sums[feature["example_id"]]
            for key in total:
                total[key] += float(output[key])
        predictions = []
        for total in sums:
            masked = total["masked"]
            prediction: dict[str, Any] = {
                key: int(value) if key != "mlm_loss_sum" else value for key, value in total.items()
            }
            prediction["perplexity"] = math.exp(total["mlm_loss_sum"] / masked) if masked else None
            predictions.append(prediction)
        return predictions

    def metric(self) -> "PretrainingMetric":
        from nlpkit_pretrain.metric import PretrainingMetric

        return PretrainingMetric()

    def metric_inputs(self, examples: Sequence[Document], predictions: Sequence[dict[str, Any]]) -> dict[str, Any]:
        # Without NSP every nsp_total is 0, and the metric reports no nsp_accuracy.
        keys = ("mlm_loss_sum", "masked", "correct", "nsp_correct", "nsp_total")
        return {key: [p[key] for p in predictions] for key in keys}

    def metric_names(self) -> frozenset[str]:
        names = frozenset({"mlm_loss", "perplexity", "mlm_accuracy", "masked_tokens"})  # PretrainingMetric
        return (names | {"nsp_accuracy"}) if self.nsp else names

    def record(self, example: Document, prediction: dict[str, Any]) -> dict[str, Any]:
        return {"document": example.title or f"{example.path}:{example.line}", **prediction}


TOKENIZE_BATCH = 4096
"""Sentences per tokenizer call: the fast tokenizer's encodings (offsets, word ids... about
200 bytes a token) are dropped after each call, and only ids and word starts kept."""


def _tokenized(sentences: list[str], tokenizer: "PreTrainedTokenizerBase") -> tuple[list[list[int]], list[list[int]]]:
    """Each sentence's token ids (no special tokens) and word starts."""
    backend = getattr(tokenizer, "backend_tokenizer", None) if tokenizer.is_fast else None
    if backend is not None and backend.truncation is None and backend.padding is None:
        return _tokenized_by_backend(sentences, backend)
    ids: list[list[int]] = []
    starts: list[list[int]] = []
    for begin in range(0, len(sentences), TOKENIZE_BATCH):
        encoded = tokenizer(sentences[begin : begin + TOKENIZE_BATCH], add_special_tokens=False, truncation=False,
                            verbose=False)
        part: list[list[int]] = encoded["input_ids"]
        ids.extend(part)
        if tokenizer.is_fast:
            starts.extend(_word_starts(encoded.word_ids(i)) for i in range(len(part)))
        else:  # no word ids: every piece is its own word
            starts.extend([1] * len(p) for p in part)
    return ids, starts


def _tokenized_by_backend(sentences: list[str], backend: Any) -> tuple[list[list[int]], list[list[int]]]:
    """:func:`_tokenized` by the Rust tokenizer itself: the same ids and word ids as a call
    of the transformers tokenizer, without the dict of every field that it builds for
    each sentence. Only for a backend with no truncation or padding left set on it by an
    earlier call."""
    ids: list[list[int]] = []
    starts: list[list[int]] = []
    for begin in range(0, len(sentences), TOKENIZE_BATCH):
        for encoding in backend.encode_batch(sentences[begin : begin + TOKENIZE_BATCH], add_special_tokens=False):
            ids.append(encoding.ids)
            starts.append(_word_starts(encoding.word_ids))
    return ids, starts


def _word_starts(word_ids: list[int | None]) -> list[int]:
    """1 on the first piece of each pre-tokenizer word."""
    return [1, *(int(word != before) for before, word in zip(word_ids, word_ids[1:]))] if word_ids else []
