"""Data for a run: reading splits through the task, encoding with a cache, loaders."""

from __future__ import annotations

import hashlib
import json
import logging
import random
import shutil
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Sequence

import numpy as np
from tqdm.auto import tqdm

from nlpkit import feature_cache
from nlpkit.cache import features_dir, shards_path, store_path
from nlpkit.feature_view import MappedFeatures
from nlpkit.shards import ShardedFeatures, StreamedExamples, encode_stream, one_writer
from nlpkit.errors import DataError, RecipeError
from nlpkit.sections import Recipe
from nlpkit.tabular import Table, TableKind, not_text, content_digest, open_table, table_kind
from nlpkit.task import Counts, Feature, Task

if TYPE_CHECKING:  # pragma: no cover
    from torch.utils.data import DataLoader
    from transformers import PreTrainedTokenizerBase

log = logging.getLogger("nlpkit")
SPLITS = ("train", "validation", "test")
UNLABELLED = "unlabelled"
"""The split of ``distill.unlabelled``: training inputs without labels."""
TRAINING_SPLITS = ("train", UNLABELLED)
TEACHER_ONLY = "teacher_only"
"""The batch key that marks (1) the rows of unlabelled transfer data: the teacher's
outputs are their only target (:mod:`nlpkit.distill`)."""
ENCODE_CHUNK = 512  # examples per encode call: granularity of the progress bar


@dataclass
class Split:
    """One split: its examples and, once encoded, its features."""

    name: str
    examples: Sequence[Any] | StreamedExamples
    """A list, or a streamed training split (:class:`~nlpkit.shards.StreamedExamples`)."""
    path: str
    """The file the examples come from (keys the feature cache)."""
    source: str = ""
    """How to describe where they come from in the log."""
    features: Sequence[Feature] = field(default_factory=list)
    """A list, or the cache's store read in place (:class:`~nlpkit.feature_view.MappedFeatures`)."""
    digest: str | None = None
    """The content's hash, for data given in memory (else: the file's, when needed)."""

    def __post_init__(self) -> None:
        self.source = self.source or self.path


ENCODING_HINT = "set data.encoding to the file's encoding (e.g. latin-1)"


def read_examples(task: Task, path: str | Path, split: str, encoding_hint: str = ENCODING_HINT) -> list[Any]:
    """The examples of a data file: a table (Parquet, Arrow, a ``datasets`` directory:
    recognised by content) through ``task.read_rows``, any other file through
    ``task.read``; what any reader can meet is said as a data error: a file in another
    encoding than expected (with its line), or one that holds no examples."""
    kind = table_kind(path)
    if kind is not None:
        _check_format(task, path, kind)
        examples = read_table(task, open_table(path, str(path), split), split)
    else:
        try:
            examples = task.read(Path(path), split)
        except UnicodeDecodeError as exc:
            raise undecodable(path, exc, encoding_hint) from None
    if not examples:
        raise DataError(path, None, f"no examples could be read for {f'data.{split}' if split in SPLITS else split}")
    return examples


def read_table(task: Task, table: Table, split: str) -> list[Any]:
    """``task.read_rows`` on the table's rows (renamed by ``data.columns``); a bad row is
    named by its index: ``train.parquet[3]``, ``data['train'][3]``."""
    try:
        return task.read_rows(table.records(task.settings.data.columns), table.name, split)
    except DataError as exc:
        if exc.path == table.name and exc.line is not None:
            raise DataError(f"{table.name}[{exc.line}]", None, exc.reason) from None
        raise


def _check_format(task: Task, path: str | Path, kind: TableKind) -> None:
    """A table given where the recipe names a text format: say what the file is."""
    fmt = getattr(task.settings.data, "format", "auto")
    if fmt != "auto":
        raise DataError(path, None, not_text(kind, fmt))


def undecodable(path: str | Path, exc: UnicodeDecodeError, hint: str) -> "DataError":
    """A DataError at the line of the first byte that is not valid ``exc.encoding``."""
    raw = Path(path).read_bytes()
    try:
        raw.decode(exc.encoding)
        start = None  # the reader met it elsewhere (a stream); no line to name
    except UnicodeDecodeError as whole:
        start = whole.start
    if start is None:
        return DataError(path, None, f"not valid {exc.encoding} text; {hint}")
    line = raw.count(b"\n", 0, start) + 1
    column = start - (raw.rfind(b"\n", 0, start) + 1) + 1
    return DataError(path, line, f"not valid {exc.encoding} text (byte 0x{raw[start]:02x} at column {column}); {hint}")


def read_splits(task: Task, recipe: Recipe, given: Mapping[str, Any] | None = None) -> dict[str, Split]:
    """Read train/validation/test through the task, apply limits and validation_split.
    ``given``: data in memory by split (``nlpkit.run(..., data=...)``), in place of the
    recipe's file for that split."""
    data = recipe.data
    given = dict(given or {})
    unknown = sorted(set(given) - set(SPLITS))
    if unknown:
        raise RecipeError(f"data: unknown split {', '.join(map(repr, unknown))}; the splits are {', '.join(SPLITS)}")
    splits: dict[str, Split] = {}
    for name in SPLITS:
        if name in given:
            table = open_table(given[name], f"data[{name!r}]", name)
            examples = read_table(task, table, name)
            if not examples:
                raise RecipeError(f"data[{name!r}]: no examples could be read (an empty table?)")
            splits[name] = Split(name, examples, table.name, digest=table.digest() if data.cache else None)
        elif path := getattr(data, name):
            stream = _stream(task, recipe, name, path)
            splits[name] = Split(name, stream if stream is not None else read_examples(task, path, name), str(path))
    if "train" in splits:  # (build_recipe refuses a split fraction together with that split's file)
        _hold_out(splits, data.test_split, data.validation_split, data.split_seed)
    for name, split in splits.items():
        limit = getattr(data, f"limit_{name}")
        if limit is not None and limit < len(split.examples):
            split.examples = split.examples[:limit]
    for name, split in splits.items():
        if isinstance(split.examples, StreamedExamples):
            log.info("data.%s: streamed from %s", name, split.source)
        else:
            log.info("data.%s: %d examples from %s", name, len(split.examples), split.source)
    return splits


def _stream(task: Task, recipe: Recipe, name: str, path: str) -> StreamedExamples | None:
    """The training split read lazily, where its task streams it (:meth:`Task.stream`)
    and nothing asks for it whole: the shards are the cache (``data.cache``), and no
    seeded fraction or first N is taken from it."""
    data = recipe.data
    if name != "train" or not data.cache or data.validation_split or data.test_split or data.limit_train:
        return None
    source = task.stream(Path(path), name)
    return None if source is None else StreamedExamples(source)


def _hold_out(splits: dict[str, Split], test: float | None, validation: float | None, seed: int) -> None:
    """Move seeded fractions of the training examples into the test and validation
    splits: one shuffle, the test part taken first, so a test set does not change with
    ``validation_split`` (and without ``test_split`` the validation part is the same)."""
    train = splits["train"]
    order = list(range(len(train.examples)))
    random.Random(seed).shuffle(order)
    taken = 0
    for name, fraction in (("test", test), ("validation", validation)):
        if not fraction:
            continue
        cut = max(1, round(len(order) * fraction))
        held = sorted(order[taken : taken + cut])
        taken += cut
        source = f"{train.path} (seeded {fraction:.0%}, data.split_seed {seed})"
        splits[name] = Split(name, [train.examples[i] for i in held], train.path, source, digest=train.digest)
    if taken:
        train.examples = [train.examples[i] for i in sorted(order[taken:])]
        train.source = f"{train.path} (the rest)"


def cache_dir(recipe: Recipe) -> Path:
    """The folder of the recipe's feature stores (:mod:`nlpkit.cache`)."""
    return features_dir(recipe.data.cache_dir)


def tokenizer_fingerprint(tokenizer: "PreTrainedTokenizerBase") -> str:
    """What the tokenizer does to text: vocabulary, normalizer, pre-tokenizer, model.

    The fast tokenizer's JSON also holds the truncation and padding of its last call,
    which would make the fingerprint (and the cache key) depend on whether another
    split was encoded earlier in the same process; they are per-call settings that
    ``cache_settings`` covers, so they are left out.
    """
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None:
        text = json.dumps(sorted(tokenizer.get_vocab().items()))
    else:
        state = json.loads(backend.to_str())
        state.pop("truncation", None)
        state.pop("padding", None)
        text = json.dumps(state, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def encode(
    task: Task,
    examples: Sequence[Any],
    tokenizer: "PreTrainedTokenizerBase",
    *,
    training: bool,
    desc: str = "tokenizing",
    split: str | None = None,
) -> list[Feature]:
    """Encode in chunks (a progress bar for long splits); example ids stay global.

    The task counts what it cuts or splits in a :class:`~nlpkit.task.Counts`, one for
    all the chunks: each count is logged once, out of the split's example count
    ("data.train: 12 of 2,000 texts reach ...", without ``split``: "12 of 2,000 ...").
    """
    if isinstance(examples, StreamedExamples):
        examples = list(examples)  # asked for in memory
    features: list[Feature] = []
    counts = Counts()
    disable = len(examples) < 2 * ENCODE_CHUNK
    for start in tqdm(range(0, len(examples), ENCODE_CHUNK), desc=desc, unit="chunk", disable=disable):
        chunk = task.encode(examples[start : start + ENCODE_CHUNK], tokenizer, training=training, counts=counts)
        for feature in chunk:
            feature["example_id"] += start
        features.extend(chunk)
    counts.log(len(examples), f"data.{split}: " if split else "", log)
    return features


def encode_split(task: Task, split: Split, tokenizer: "PreTrainedTokenizerBase", recipe: Recipe) -> None:
    """Encode a split, reusing features cached under the same data, tokenizer and settings.

    The cache holds data only (:mod:`nlpkit.feature_cache`): a file found at the cache
    path is never executed, and one that is not a store written for this key (damaged,
    foreign, planted) is reported and replaced by a fresh encoding. Features that the
    cache holds are read in place (:class:`~nlpkit.feature_view.MappedFeatures`), not
    kept in memory; with ``data.cache: false`` they are a list."""
    training = split.name in TRAINING_SPLITS
    if not recipe.data.cache:
        split.features = encode(
            task, split.examples, tokenizer, training=training, desc=f"tokenizing {split.name}", split=split.name
        )
        return
    key = cache_key(task, split, tokenizer)
    if isinstance(split.examples, StreamedExamples):
        split.features = _sharded_features(task, split, tokenizer, shards_path(cache_dir(recipe), task.name, split.name, key), key)
        return
    path = store_path(cache_dir(recipe), task.name, split.name, key)
    cached = _cached_features(path, key)
    if cached is not None:
        split.features = cached
        log.info("data.%s: %d features from cache %s", split.name, len(cached), path)
        return
    split.features = encode(
        task, split.examples, tokenizer, training=training, desc=f"tokenizing {split.name}", split=split.name
    )
    if _store_features(path, split, key):
        split.features = _cached_features(path, key) or split.features  # the rows leave memory for the store


def _sharded_features(
    task: Task, split: Split, tokenizer: "PreTrainedTokenizerBase", path: Path, key: str
) -> ShardedFeatures:
    """A streamed split's shards at ``path``: found there, else encoded as the examples
    stream in (:mod:`nlpkit.shards`); a folder there that is not their store is replaced."""
    assert isinstance(split.examples, StreamedExamples)
    with one_writer(path):  # another process with this key: wait for its shards
        if path.exists():
            try:
                features = ShardedFeatures(path, key)
                split.examples.count = features.examples
                log.info("data.%s: %d features in %d shards from cache %s", split.name, len(features),
                         len(features.shards), path)
                return features
            except (OSError, feature_cache.CacheFormatError) as exc:
                log.warning("ignoring feature shards %s (%s); encoding again", path, exc)
                shutil.rmtree(path, ignore_errors=True)
        split.examples.count = encode_stream(
            task, split.examples, tokenizer, path, key, training=split.name == "train", split=split.name, chunk=ENCODE_CHUNK
        )
        features = ShardedFeatures(path, key)
        log.info("data.%s: %d examples, %d features in %d shards at %s", split.name, features.examples, len(features),
                 len(features.shards), path)
        return features


def cache_key(task: Task, split: Split, tokenizer: "PreTrainedTokenizerBase") -> str:
    """What the features of ``split`` depend on, hashed; the format number is part of it."""
    key_parts = {
        "file": split.digest or content_digest(split.path),
        "split": split.name,
        "n": None if isinstance(split.examples, StreamedExamples) else len(split.examples),  # streamed: not known yet
        **({"source": split.source} if split.source != split.path else {}),  # which part of a split file
        "tokenizer": tokenizer_fingerprint(tokenizer),
        "task": task.name,
        "settings": task.cache_settings(),
        "format": int(feature_cache.VERSION),
    }
    return hashlib.sha256(json.dumps(key_parts, sort_keys=True, default=str).encode()).hexdigest()[:24]


def _cached_features(path: Path, key: str) -> MappedFeatures | None:
    """The features stored at ``path``, read in place, or None when there are none to use."""
    if not path.exists():
        return None
    try:
        return MappedFeatures(path, key)
    except (OSError, feature_cache.CacheFormatError) as exc:
        log.warning("ignoring feature cache %s (%s); encoding again", path, exc)
        return None


def _store_features(path: Path, split: Split, key: str) -> bool:
    """Store the split's features at ``path``; False (and a warning) where they cannot be."""
    from nlpkit.rundir import replacing

    try:
        with replacing(path) as partial:  # parallel runs never read half a file
            feature_cache.save_features(partial, split.features, key)
    except feature_cache.UnstorableFeatures as exc:
        log.warning("data.%s: features not cached: %s", split.name, exc)
        return False
    return True


class FeatureDataset:
    """Features indexed for a DataLoader; each item remembers its position."""

    def __init__(self, features: Sequence[Feature]) -> None:
        self.features = features

    def __len__(self) -> int:
        return len(self.features)

    def __getitem__(self, index: int) -> tuple[int, Feature]:
        return index, self.features[index]


def feature_length(feature: Feature) -> int:
    """Length used to group batches of similar size."""
    return len(feature["input_ids"])


def feature_lengths(features: Sequence[Feature]) -> np.ndarray:
    """:func:`feature_length` of every feature, int64 (of a store: from its offsets, no
    row read; an array, as a streamed corpus may have millions)."""
    if isinstance(features, (MappedFeatures, ShardedFeatures)):
        return features.lengths("input_ids")
    if isinstance(features, JoinedFeatures):
        return np.concatenate([feature_lengths(features.labelled), feature_lengths(features.unlabelled)])
    return np.fromiter((feature_length(f) for f in features), dtype=np.int64, count=len(features))


class JoinedFeatures(Sequence[Feature]):
    """The training features, then the unlabelled ones (``distill.unlabelled``), each of
    those marked :data:`TEACHER_ONLY`: one training set for the samplers and loaders."""

    def __init__(self, labelled: Sequence[Feature], unlabelled: Sequence[Feature]) -> None:
        self.labelled = labelled
        self.unlabelled = unlabelled

    def __len__(self) -> int:
        return len(self.labelled) + len(self.unlabelled)

    def __getitem__(self, index: int) -> Feature:  # type: ignore[override]
        if index < len(self.labelled):
            return self.labelled[index]
        return {**self.unlabelled[index - len(self.labelled)], TEACHER_ONLY: 1}


def collate(
    task: Task, features: Sequence[Feature], tokenizer: Any, *, training: bool, pad_to_multiple_of: int = 1
) -> dict[str, Any]:
    """A batch of ``features``: the task's ``batch_keys`` of each, padded (to a multiple
    of ``train.pad_to_multiple_of``), then the task's ``prepare_batch``."""
    from nlpkit.batching import pad_features

    keys = task.batch_keys
    rows = features if keys is None else [{k: f[k] for k in (*keys, TEACHER_ONLY) if k in f} for f in features]
    if any(TEACHER_ONLY in row for row in rows):
        rows = _with_placeholders(rows)
    batch = pad_features(rows, pad_id=tokenizer.pad_token_id or 0, multiple_of=pad_to_multiple_of)
    return task.prepare_batch(batch, tokenizer, training=training)


def _with_placeholders(rows: Sequence[Feature]) -> list[Feature]:
    """Rows of labelled and unlabelled features made alike, so that they stack into one
    batch: :data:`TEACHER_ONLY` 0 on the labelled rows, and on the unlabelled rows a
    placeholder for each key they lack (their labels: never read, the hard loss leaves
    these rows out)."""
    import numbers

    from nlpkit.batching import IGNORE_INDEX

    example = {key: value for row in rows for key, value in row.items()}  # a value of every key

    def placeholder(value: Any) -> Any:
        if isinstance(value, bool):
            return False
        if isinstance(value, numbers.Integral):
            return IGNORE_INDEX
        return 0.0 if isinstance(value, numbers.Real) else []  # a list pads with -100

    filled = []
    for row in rows:
        missing = {key: placeholder(value) for key, value in example.items() if key not in row}
        if TEACHER_ONLY in missing:
            missing[TEACHER_ONLY] = 0
        filled.append({**row, **missing})
    return filled


def collate_indexed(
    items: Sequence[tuple[int, Feature]],
    task: Task,
    tokenizer: Any,
    training: bool,
    pad_to_multiple_of: int = 1,
    seed: int | None = None,
    sampler: Any = None,
) -> dict[str, Any]:
    """:func:`collate` with each row's feature index. With ``seed`` (training), what the
    task's ``prepare_batch`` draws at random (MLM masks) comes from torch's generator
    seeded by :func:`batch_seed`, and the run's own random stream is left as it was: a
    batch gets the same draws wherever and whenever it is built (prefetched, in a worker,
    built again after ``--resume``), and the training steps (dropout) the same stream."""
    import torch

    indices = [i for i, _ in items]
    features = [f for _, f in items]
    if seed is None:
        batch = collate(task, features, tokenizer, training=training, pad_to_multiple_of=pad_to_multiple_of)
    else:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(batch_seed(seed, int(getattr(sampler, "epoch", 0)), indices))
            batch = collate(task, features, tokenizer, training=training, pad_to_multiple_of=pad_to_multiple_of)
    batch["feature_index"] = torch.tensor(indices, dtype=torch.long)
    return batch


def batch_seed(seed: int, epoch: int, indices: Sequence[int]) -> int:
    """A 63-bit seed of a training batch: the run's seed, the epoch and which rows it holds
    (so a row's draws differ from epoch to epoch, and from batch to batch)."""
    digest = hashlib.blake2b(json.dumps([seed, epoch, list(indices)]).encode(), digest_size=8)
    return int.from_bytes(digest.digest(), "little") & (2**63 - 1)


def train_loader(task: Task, features: Sequence[Feature], tokenizer: Any, recipe: Recipe) -> "DataLoader":
    from nlpkit.batching import EpochShuffleSampler, LengthGroupedSampler, ResumableLoader

    train = recipe.train
    dataset = FeatureDataset(features)
    sampler: Any
    if train.group_by_length:
        sampler = LengthGroupedSampler(feature_lengths(features), train.batch_size, train.seed)
    else:
        sampler = EpochShuffleSampler(len(dataset), train.seed)
    return ResumableLoader(
        dataset,
        batch_size=train.batch_size,
        sampler=sampler,
        collate_fn=partial(
            collate_indexed, task=task, tokenizer=tokenizer, training=True, pad_to_multiple_of=train.pad_to_multiple_of,
            seed=train.seed, sampler=sampler,
        ),
        num_workers=train.num_workers,
        persistent_workers=train.num_workers > 0,
    )


def eval_order(features: Sequence[Feature]) -> list[int]:
    """Longest first: the same order (and so the same batches) wherever we evaluate."""
    return np.argsort(-feature_lengths(features), kind="stable").tolist()  # stable: as sorted() orders ties


def eval_loader(
    task: Task, features: Sequence[Feature], tokenizer: Any, batch_size: int, num_workers: int = 0,
    *, pad_to_multiple_of: int = 1,
) -> "DataLoader":
    from torch.utils.data import DataLoader

    from nlpkit.batching import FixedOrderSampler

    return DataLoader(
        FeatureDataset(features),
        batch_size=batch_size,
        sampler=FixedOrderSampler(eval_order(features)),
        collate_fn=partial(
            collate_indexed, task=task, tokenizer=tokenizer, training=False, pad_to_multiple_of=pad_to_multiple_of
        ),
        num_workers=num_workers,
    )
