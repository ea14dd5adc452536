"""Vocabulary fixes that any task can use: extend a tokenizer with the training data's
unknown words (e.g. Chinese characters missing from an English WordPiece vocabulary),
and give the encoder embedding rows for them that a short fine-tuning can use."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Iterable, Literal

if TYPE_CHECKING:  # pragma: no cover
    import torch
    from transformers import PreTrainedModel, PreTrainedTokenizerFast


def unknown_words(tokenizer: "PreTrainedTokenizerFast", texts: Iterable[str]) -> Counter[str]:
    """Pre-tokenized words (after the tokenizer's own normalisation) that WordPiece can
    only encode as ``[UNK]``, with their counts."""
    backend = tokenizer.backend_tokenizer
    unk = tokenizer.unk_token
    counts: Counter[str] = Counter()
    cache: dict[str, bool] = {}
    for text in texts:
        normalized = backend.normalizer.normalize_str(text) if backend.normalizer else text
        for word, _ in backend.pre_tokenizer.pre_tokenize_str(normalized):
            if word not in cache:
                cache[word] = any(t.value == unk for t in backend.model.tokenize(word))
            if cache[word]:
                counts[word] += 1
    return counts


def extend_vocabulary(tokenizer: "PreTrainedTokenizerFast", texts: Iterable[str], min_count: int = 2) -> int:
    """Add every unknown word seen at least ``min_count`` times as a token; returns how
    many were added. The encoder's embedding matrix must then be resized."""
    from tokenizers import AddedToken

    counts = unknown_words(tokenizer, texts)
    new = sorted(w for w, c in counts.items() if c >= min_count)
    return tokenizer.add_tokens([AddedToken(w, normalized=True, single_word=False) for w in new])


def unk_rate(tokenizer: "PreTrainedTokenizerFast", texts: Iterable[str]) -> float:
    """Share of produced tokens (special tokens excluded) that are ``[UNK]``."""
    unk_id = tokenizer.unk_token_id
    total = unknown = 0
    for text in texts:
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        total += len(ids)
        unknown += sum(1 for i in ids if i == unk_id)
    return unknown / total if total else 0.0


NewTokenInit = Literal["normal", "pieces", "mean"]
"""How the embedding rows of added tokens start (``encoder.new_token_init``)."""


def grow_embeddings(
    encoder: "PreTrainedModel", tokenizer: "PreTrainedTokenizerFast", init: NewTokenInit = "normal", seed: int = 0
) -> int:
    """Give the encoder an input embedding row for every token of ``tokenizer``; returns
    the index of the first new row (the old row count, also when nothing was added).

    ``normal`` draws the new rows from a normal distribution with the old rows' mean and
    covariance, so they differ from one another as much as learned rows do; ``pieces``
    starts a token from the mean of the rows of the pieces the old vocabulary splits it
    into (character by character where the whole is ``[UNK]``) and draws the tokens
    without known pieces as ``normal`` does; ``mean`` puts every new row at the old rows'
    mean, which is what transformers' resizing does (rows nearly identical to each other,
    which a short fine-tuning barely separates).
    """
    import torch

    first_new = encoder.get_input_embeddings().num_embeddings
    if len(tokenizer) <= first_new:
        return first_new
    encoder.resize_token_embeddings(len(tokenizer), mean_resizing=False)
    weight = encoder.get_input_embeddings().weight
    with torch.no_grad():
        old = weight[:first_new].float()
        count = weight.shape[0] - first_new
        if init == "mean":
            rows = old.mean(dim=0).expand(count, -1)
        else:
            rows = _draw_like(old, count, torch.Generator().manual_seed(seed))
        if init == "pieces":
            for token, index in tokenizer.get_added_vocab().items():
                pieces = [i for i in known_pieces(tokenizer, token) if i < first_new]
                if index >= first_new and pieces:
                    rows[index - first_new] = old[pieces].mean(dim=0)
        weight[first_new:] = rows.to(weight.dtype)
    return first_new


def _draw_like(rows: "torch.Tensor", count: int, generator: "torch.Generator") -> "torch.Tensor":
    """``count`` samples of a normal distribution fitted to ``rows`` (mean, covariance)."""
    import torch

    mean = rows.mean(dim=0)
    centred = (rows - mean).double()
    covariance = centred.T @ centred / max(1, rows.shape[0] - 1)
    # A little jitter keeps the Cholesky factor defined where the rows span fewer dimensions.
    jitter = 1e-6 * covariance.diagonal().mean() * torch.eye(rows.shape[1], dtype=torch.float64)
    factor = torch.linalg.cholesky(covariance + jitter)
    noise = torch.randn(count, rows.shape[1], generator=generator, dtype=torch.float64)
    return (noise @ factor.T).float() + mean


def known_pieces(tokenizer: "PreTrainedTokenizerFast", token: str) -> list[int]:
    """Ids of the pieces the tokenizer's own vocabulary (added tokens aside) gives
    ``token``: the whole token's WordPiece split, or where that is ``[UNK]`` the known
    characters' pieces; empty when none is known."""
    model, unk = tokenizer.backend_tokenizer.model, tokenizer.unk_token
    pieces = model.tokenize(token)
    if any(piece.value == unk for piece in pieces):
        pieces = [piece for char in token for piece in model.tokenize(char)]
    return [piece.id for piece in pieces if piece.value != unk]
