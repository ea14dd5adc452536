"""Helpers for tests of nlpkit and of task plugins: a tiny random BERT built offline."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Mapping

if TYPE_CHECKING:  # pragma: no cover
    from nlpkit.predictor import Predictor

DEFAULT_TEXTS = (
    "the movie was great and the actors were wonderful",
    "a terrible boring film with a bad plot",
    "angela merkel visited paris on monday",
    "what is the capital of france ? paris is the capital",
    "i loved it , truly a good and fun story",
    "awful , slow and dull . i hated every minute",
)


def tiny_bert(
    path: str | Path,
    texts: Iterable[str] = DEFAULT_TEXTS,
    *,
    hidden_size: int = 32,
    layers: int = 2,
    heads: int = 2,
    vocab_size: int = 400,
    lowercase: bool = True,
    seed: int = 0,
) -> Path:
    """Save a randomly initialised BERT with a WordPiece vocabulary trained on ``texts``.

    The same arguments give the same files, byte for byte. Takes well under a second; the
    result loads with ``AutoModel``/``AutoTokenizer`` and can be ``encoder.name`` in a recipe.
    """
    import torch
    from transformers import BertConfig, BertModel

    from nlpkit.encoder import train_wordpiece

    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    tokenizer = train_wordpiece(texts, vocab_size, lowercase, min_frequency=1)
    tokenizer.save_pretrained(path)
    torch.manual_seed(seed)
    config = BertConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden_size,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        intermediate_size=hidden_size * 2,
        max_position_embeddings=512,
    )
    BertModel(config).save_pretrained(path)
    return path


def untrained_predictor(recipe: Mapping[str, Any]) -> "Predictor":
    """A :class:`~nlpkit.predictor.Predictor` for ``recipe``'s task, trained on nothing:
    label maps from its ``data.train``, the encoder of ``encoder.name`` and a random head.
    For tests of what prediction reads and writes, in a second instead of a training run."""
    import torch

    from nlpkit.data import read_examples
    from nlpkit.encoder import load_encoder, load_tokenizer
    from nlpkit.model import TaskModel
    from nlpkit.plugins import get_task
    from nlpkit.predictor import Predictor
    from nlpkit.recipe import build_recipe
    from nlpkit.task import TaskSettings

    built = build_recipe(recipe, "<test recipe>")
    task = get_task(built.task)(TaskSettings.of(built))
    task.setup(read_examples(task, str(built.data.train), "train"))
    tokenizer = load_tokenizer(built.encoder)
    encoder = load_encoder(built.encoder, len(tokenizer))
    torch.manual_seed(built.train.seed)
    return Predictor(task, tokenizer, TaskModel(encoder, task.build_head(encoder)))
