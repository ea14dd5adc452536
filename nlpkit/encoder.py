"""Encoder and tokenizer loading: alias, local path or hub id; pretrained or scratch."""

from __future__ import annotations

import contextlib
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Iterator, Sequence

from nlpkit.errors import RecipeError
from nlpkit.plugins import resolve_encoder
from nlpkit.sections import EncoderSection

if TYPE_CHECKING:  # pragma: no cover
    from transformers import PreTrainedModel, PreTrainedTokenizerFast

log = logging.getLogger("nlpkit")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")  # BERT's, in its order


def quiet_transformers() -> None:
    """No per-file progress bars when loading or saving a small model, and transformers'
    log at ``TRANSFORMERS_VERBOSITY`` (``error`` unless the user set it) even when it was
    imported before this module set that default: a saved model that lacks the pooler
    its head never used is no news to report."""
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    level = hf_logging.log_levels.get(os.environ.get("TRANSFORMERS_VERBOSITY", "error"), hf_logging.ERROR)
    hf_logging.set_verbosity(level)


@contextlib.contextmanager
def transformers_quiet() -> Iterator[None]:
    """transformers logs only errors within the block, whatever its verbosity was (the
    ``TRANSFORMERS_VERBOSITY`` above counts only when nlpkit is imported first).
    Its load report calls every tensor absent from the files "newly initialized... you
    should probably TRAIN this model", the unused pooler a run leaves out included:
    callers that load a model check what is missing themselves."""
    from transformers.utils import logging as hf_logging

    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    try:
        yield
    finally:
        hf_logging.set_verbosity(verbosity)


def load_saved_encoder(path: Path) -> tuple["PreTrainedModel", list[str]]:
    """The encoder saved in a run's model directory, loaded quietly, and the names of
    its tensors that the files lack (they hold random weights): the caller decides
    whether that is expected (the pooler of a head that ignores it) or damage."""
    from transformers import AutoModel

    with transformers_quiet():
        encoder, info = AutoModel.from_pretrained(path, output_loading_info=True)
    missing = {*info.get("missing_keys", ()), *info.get("mismatched_keys", ())}
    return encoder, sorted(map(str, missing))


def train_wordpiece(
    texts: Iterable[str], vocab_size: int, lowercase: bool, min_frequency: int = 2
) -> "PreTrainedTokenizerFast":
    """A BERT WordPiece tokenizer trained offline on ``texts`` (CJK characters split).

    The same texts always give the same vocabulary. The tokenizers trainer numbers the
    ``##`` pieces of single characters in hash-map order and breaks ties between equally
    frequent merges by those numbers, so on its own it gives another vocabulary in every
    process (huggingface/tokenizers#1794): a re-run, a ``--resume`` or a second DDP
    process would tokenize with other ids than the first. Handing the trainer those pieces
    up front, in sorted order, fixes their numbers and with them every merge.
    """
    from tokenizers import BertWordPieceTokenizer
    from transformers import BertTokenizerFast

    texts = list(texts)
    if not any(text.strip() for text in texts):
        raise RecipeError(
            "encoder.train_tokenizer: the task gives no training texts to learn a vocabulary from "
            "(a task plugin provides them with Task.texts)"
        )
    wordpiece = BertWordPieceTokenizer(lowercase=lowercase, handle_chinese_chars=True, strip_accents=lowercase)
    normalize, split = wordpiece.normalizer.normalize_str, wordpiece.pre_tokenizer.pre_tokenize_str
    inner = {char for text in texts for word, _ in split(normalize(text)) for char in word[1:]}
    wordpiece.train_from_iterator(
        texts, vocab_size=vocab_size, min_frequency=min_frequency, show_progress=False,
        special_tokens=[*SPECIAL_TOKENS, *(f"##{char}" for char in sorted(inner))],
    )
    vocab = dict(sorted(wordpiece.get_vocab().items(), key=lambda kv: kv[1]))
    return BertTokenizerFast(vocab=vocab, do_lower_case=lowercase, model_max_length=512)


def load_tokenizer(spec: EncoderSection, texts: Iterable[str] | None = None) -> "PreTrainedTokenizerFast":
    from transformers import AutoTokenizer

    quiet_transformers()
    if spec.train_tokenizer:
        if texts is None:
            raise RecipeError("encoder.train_tokenizer needs training data (data.train)")
        log.info("training a WordPiece vocabulary of %d tokens on the training texts", spec.vocab_size)
        return train_wordpiece(texts, spec.vocab_size, spec.lowercase)
    source = resolve_encoder(spec.name)
    try:
        tokenizer = AutoTokenizer.from_pretrained(source)
    except (OSError, ValueError) as exc:
        raise RecipeError(_not_found(spec.name, source, exc)) from None
    if not getattr(tokenizer, "is_fast", False):
        raise RecipeError(f"encoder.name = {spec.name}: nlpkit needs a fast tokenizer (offsets, word ids)")
    return tokenizer


def load_encoder(spec: EncoderSection, vocab_size: int) -> "PreTrainedModel":
    """A BERT-family encoder: pretrained weights, or random weights (``init: scratch``)
    with ``vocab_size`` embedding rows. A tokenizer with more tokens than the pretrained
    rows needs :func:`nlpkit.vocab.grow_embeddings`."""
    from transformers import AutoConfig, AutoModel, BertConfig

    if spec.init == "scratch":
        config = BertConfig(**{"vocab_size": vocab_size, **spec.config})
        log.info(
            "initialising a new encoder from scratch: %d layers, hidden size %d, vocabulary %d",
            config.num_hidden_layers, config.hidden_size, config.vocab_size,
        )
        return AutoModel.from_config(config)
    source = resolve_encoder(spec.name)
    try:
        config = AutoConfig.from_pretrained(source, **spec.config)
        model = AutoModel.from_pretrained(source, config=config)
    except (OSError, ValueError) as exc:
        raise RecipeError(_not_found(spec.name, source, exc)) from None
    if spec.layers is not None:
        keep_layers(model, spec.layers)
        log.info("encoder.layers: kept layers %s of %d", ", ".join(map(str, spec.layers)), config.num_hidden_layers)
    return model


def keep_layers(model: "PreTrainedModel", layers: Sequence[int]) -> None:
    """Keep only ``layers`` of a BERT-family encoder's transformer stack, in order (a
    smaller student, initialised from those layers). The config says the new depth, so
    ``save_pretrained`` writes an ordinary encoder of ``len(layers)`` layers."""
    from torch import nn

    stack = getattr(getattr(model, "encoder", None), "layer", None)
    if not isinstance(stack, nn.ModuleList):
        raise RecipeError(f"encoder.layers: {type(model).__name__} keeps no BERT-style layer stack (encoder.layer)")
    model.encoder.layer = nn.ModuleList([stack[i] for i in layers])
    model.config.num_hidden_layers = len(layers)
    for position, layer in enumerate(model.encoder.layer):
        attention = getattr(layer.attention, "self", None)
        if attention is not None and hasattr(attention, "layer_idx"):
            attention.layer_idx = position  # caches are indexed by it


def check_layers(spec: EncoderSection, source: str) -> None:
    """``encoder.layers`` against the encoder's depth, read from its config (a recipe
    check, before any data is read or weights are loaded)."""
    if spec.layers is None:
        return
    from transformers import AutoConfig

    if spec.init == "scratch":
        raise RecipeError(
            f"{source}: encoder.layers picks layers of pretrained weights; a scratch encoder sets its depth with "
            "encoder.config.num_hidden_layers"
        )
    quiet_transformers()
    name = resolve_encoder(spec.name)
    try:
        depth = AutoConfig.from_pretrained(name, **spec.config).num_hidden_layers
    except (OSError, ValueError) as exc:
        raise RecipeError(f"{source}: {_not_found(spec.name, name, exc)}") from None
    outside = [i for i in spec.layers if i >= depth]
    if outside:
        raise RecipeError(
            f"{source}: encoder.layers: {', '.join(map(str, outside))} out of range: encoder.name = {spec.name} has "
            f"{depth} layers, numbered 0 to {depth - 1}"
        )


def _not_found(name: str, source: str, exc: Exception) -> str:
    from nlpkit.plugins import encoder_aliases

    hint = "" if Path(source).exists() else (
        f" It is neither a local directory nor a registered alias ({', '.join(encoder_aliases())});"
        " loading it as a hub id failed (offline machines cannot reach a model hub)."
    )
    return f"encoder.name = {name}: cannot load it ({type(exc).__name__}: {str(exc).splitlines()[0]}).{hint}"
