"""Sentence embeddings: an encoder's token states pooled into one vector per text.

The default encoder is a sentence-transformers model (mean pooling over real tokens), so
:class:`Embedder` computes what ``SentenceTransformer`` does on it: the same tokenizer,
truncation length (``sentence_bert_config.json``'s ``max_seq_length`` when the folder has
one) and pooling. Texts are tokenized once, sorted by length and run in batches of
similar lengths, so little padding is computed.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Sequence

import numpy as np

from nlpkit.errors import DataError, InputError, NlpkitError

if TYPE_CHECKING:  # pragma: no cover
    import torch

log = logging.getLogger("nlpkit")

Pooling = Literal["mean", "cls"]
POOLINGS: tuple[str, ...] = ("mean", "cls")
SENTENCE_CONFIG = "sentence_bert_config.json"
"""sentence-transformers' settings file in a model folder (its ``max_seq_length``)."""


class Embedder:
    """``embed(texts) -> (n, hidden)`` float32 array from ``encoder`` (a transformers
    encoder model) and its tokenizer, inputs cut to ``max_length`` tokens."""

    def __init__(
        self, tokenizer: Any, encoder: Any, *, max_length: int, batch_size: int = 64, precision: str = "32"
    ) -> None:
        self.tokenizer = tokenizer
        self.encoder = encoder.eval()
        self.max_length = max_length
        self.batch_size = batch_size
        self.precision = precision

    @property
    def dimension(self) -> int:
        return int(self.encoder.config.hidden_size)

    @classmethod
    def load(cls, name: str) -> "Embedder":
        """The encoder ``name``: an alias (``minilm``), a transformers model folder or a hub
        id, at the precision ``auto`` picks on this machine."""
        from transformers import AutoModel, AutoTokenizer

        from nlpkit.cpu import use_fast_paths
        from nlpkit.encoder import quiet_transformers, transformers_quiet
        from nlpkit.plugins import resolve_encoder
        from nlpkit.precision import resolve_precision

        quiet_transformers()
        source = resolve_encoder(name)
        try:
            with transformers_quiet():
                tokenizer = AutoTokenizer.from_pretrained(source)
                encoder = AutoModel.from_pretrained(source)
        except (OSError, ValueError) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise NlpkitError(f"{name}: cannot load it as an encoder ({first})") from None
        use_fast_paths(encoder)
        return cls(tokenizer, encoder, max_length=max_length_of(source, tokenizer, encoder.config),
                   precision=resolve_precision("auto"))

    def embed(
        self, texts: str | Sequence[str], *, batch_size: int | None = None, pooling: Pooling = "mean",
        normalize: bool = False,
    ) -> np.ndarray:
        """One row per text, in order: the mean of the last layer's states over the text's
        real tokens (``pooling="mean"``) or the ``[CLS]`` state (``"cls"``); ``normalize``
        scales each row to unit length. A single string gives a 1-D vector."""
        single = isinstance(texts, str)
        batch = [texts] if single else list(texts)
        check_texts(batch)
        if pooling not in POOLINGS:
            raise NlpkitError(f"unknown pooling {pooling!r}; choose {' or '.join(POOLINGS)}")
        size = batch_size or self.batch_size
        if size < 1:
            raise NlpkitError(f"batch_size must be at least 1, got {size}")
        vectors = self._pooled(batch, size, pooling)
        if normalize:
            vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        return vectors[0] if single else vectors

    def _pooled(self, texts: list[str], size: int, pooling: Pooling) -> np.ndarray:
        import torch
        from tqdm.auto import tqdm

        from nlpkit.precision import autocast

        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        if not texts:
            return out
        ids = self.tokenizer(texts, truncation=True, max_length=self.max_length)
        order = sorted(range(len(texts)), key=lambda i: -len(ids["input_ids"][i]))
        starts = range(0, len(order), size)
        device = next(self.encoder.parameters()).device
        with torch.inference_mode(), autocast(self.precision, device.type):
            for start in tqdm(starts, desc="embedding", unit="batch", disable=len(starts) < 20):
                rows = order[start:start + size]
                batch = self.tokenizer.pad({k: [v[i] for i in rows] for k, v in ids.items()}, return_tensors="pt")
                batch = {k: v.to(device) for k, v in batch.items()}
                states = self.encoder(**batch, return_dict=True).last_hidden_state
                out[rows] = pool(states, batch["attention_mask"], pooling).float().cpu().numpy()
        return out


def pool(states: "torch.Tensor", mask: "torch.Tensor", pooling: Pooling) -> "torch.Tensor":
    """(batch, tokens, hidden) -> (batch, hidden): the first token's state, or the mean
    over the positions where ``mask`` is 1 (padding never counts)."""
    if pooling == "cls":
        return states[:, 0]
    weights = mask.unsqueeze(-1).to(states.dtype)
    return (states * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1e-9)


def check_texts(texts: Sequence[Any]) -> None:
    """Each item a non-blank string (:class:`InputError` naming its position)."""
    for index, text in enumerate(texts):
        if not isinstance(text, str):
            raise InputError(f"expected a text (a string), got {type(text).__name__}", index)
        if not text.strip():
            raise InputError("the text is empty or only whitespace: there is nothing to embed", index)


def max_length_of(source: str, tokenizer: Any, config: Any) -> int:
    """The truncation length of a model folder: sentence-transformers' ``max_seq_length``
    if it has one (what ``SentenceTransformer`` cuts at), else the tokenizer's limit,
    never past the model's position embeddings."""
    limit = int(getattr(config, "max_position_embeddings", 512))
    settings = Path(source) / SENTENCE_CONFIG
    if settings.is_file():
        try:
            value = json.loads(settings.read_text(encoding="utf-8")).get("max_seq_length")
        except (OSError, ValueError, AttributeError):
            value = None
        if isinstance(value, int) and value > 0:
            return min(value, limit)
    model_max = getattr(tokenizer, "model_max_length", limit)
    return min(int(model_max), limit) if isinstance(model_max, int) else limit


def texts_of(inputs: Sequence[tuple[int, Any]], source: str) -> list[str]:
    """The texts of parsed input lines (a string, or a JSON object's ``text``), with
    :class:`DataError` naming the line of anything else."""
    texts = []
    for line, value in inputs:
        text = value.get("text") if isinstance(value, dict) else value
        if not isinstance(text, str):
            raise DataError(source, line, 'expected a text, or a JSON object with a "text" string')
        if not text.strip():
            raise DataError(source, line, "the text is empty or only whitespace: there is nothing to embed")
        texts.append(text)
    return texts


def write_embeddings(vectors: np.ndarray, path: Path, lines: Sequence[int]) -> None:
    """``.npy``: the array (rows in input order); ``.jsonl``: one ``{"line", "embedding"}``
    row per input. Written through a temporary file, so a failure leaves no half file."""
    from nlpkit.rundir import write_lines

    suffix = path.suffix.lower()
    if suffix == ".npy":
        import tempfile

        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}.", suffix=".npy", delete=False) as tmp:
            np.save(tmp, vectors)
        Path(tmp.name).replace(path)
        return
    write_lines(path, jsonl_rows(vectors, lines))


def jsonl_rows(vectors: np.ndarray, lines: Sequence[int]) -> Any:
    return (json.dumps({"line": line, "embedding": row.tolist()}) for line, row in zip(lines, vectors))
