"""A pre-training corpus encoded as it streams in, into memory-mapped shards: the same
features as reading it whole, reused on a rerun, written whole or not at all, from every
corpus shape (files, a glob, a folder, a datasets directory)."""

from __future__ import annotations

import random
import threading
import time
from pathlib import Path

import pytest

from nlpkit import data as core_data
from nlpkit import shards
from nlpkit.cache import clear, entries
from nlpkit.data import encode, encode_split, read_splits
from nlpkit.errors import DataError
from nlpkit.feature_view import MappedFeatures
from nlpkit.plugins import get_task
from nlpkit.recipe import load_recipe
from nlpkit.shards import ShardedFeatures, StreamedExamples
from nlpkit.task import TaskSettings

WORDS = ["river", "castle", "song", "station", "valley", "market", "tower", "train", "music", "winter"]


def grammar_corpus(path: Path, documents: int, seed: int = 0) -> Path:
    """A blank-line separated corpus of ``documents`` documents of simple sentences."""
    rng = random.Random(seed)
    lines = []
    for _ in range(documents):
        for _ in range(rng.randint(1, 3)):
            lines.append(" ".join(f"The {rng.choice(WORDS)} is near the {rng.choice(WORDS)} ." for _ in range(rng.randint(2, 6))))
        lines.append("")
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def recipe_for(train: str | Path, tiny_model: Path, cache: Path, **data):
    return load_recipe({
        "task": "pretrain",
        "encoder": {"name": str(tiny_model), "max_length": 24},
        "data": {"train": str(train), "cache_dir": str(cache), **data},
    })


def prepared(recipe, tokenizer):
    task = get_task("pretrain")(TaskSettings.of(recipe))
    splits = read_splits(task, recipe)
    for split in splits.values():
        encode_split(task, split, tokenizer, recipe)
    return task, splits


@pytest.fixture
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Chunks of 7 documents and shards of 10 features: a tiny corpus spans many of each."""
    monkeypatch.setattr(core_data, "ENCODE_CHUNK", 7)
    monkeypatch.setattr(shards, "SHARD_FEATURES", 10)


def test_streamed_shards_hold_the_features_of_the_whole_corpus_read_at_once(
    tmp_path: Path, tiny_model: Path, tokenizer, small_chunks: None
) -> None:
    corpus = grammar_corpus(tmp_path / "corpus.txt", 40)
    recipe = recipe_for(corpus, tiny_model, tmp_path / "cache", validation_documents=3)
    task, splits = prepared(recipe, tokenizer)
    train = splits["train"]
    assert isinstance(train.examples, StreamedExamples) and isinstance(train.features, ShardedFeatures)
    assert len(train.features.shards) > 2 and all(isinstance(s, MappedFeatures) for s in train.features.shards)
    # What the whole corpus read into memory and encoded by the core gives (today's path):
    documents = task.read(corpus, "train")
    assert len(train.examples) == len(documents) == 37
    whole = encode(task, documents, tokenizer, training=True)
    assert list(train.features) == whole
    assert [train.features[i] for i in (0, 9, 10, len(whole) - 1)] == [whole[i] for i in (0, 9, 10, len(whole) - 1)]
    assert core_data.feature_lengths(train.features).tolist() == [len(f["input_ids"]) for f in whole]
    # The held-out documents are the validation split, read whole (it is small).
    assert len(splits["validation"].examples) == 3 and not isinstance(splits["validation"].examples, StreamedExamples)


def test_a_rerun_reads_the_shards_without_encoding(
    tmp_path: Path, tiny_model: Path, tokenizer, small_chunks: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    corpus = grammar_corpus(tmp_path / "corpus.txt", 20)
    recipe = recipe_for(corpus, tiny_model, tmp_path / "cache")
    _, first = prepared(recipe, tokenizer)
    task_class = get_task("pretrain")

    def fail(*args, **kwargs):
        raise AssertionError("encoded again")

    monkeypatch.setattr(task_class, "encode", fail)
    _, again = prepared(recipe, tokenizer)
    assert list(again["train"].features) == list(first["train"].features)
    assert len(again["train"].examples) == 20
    # Another seed draws other pairs: another key, other shards.
    monkeypatch.undo()
    recipe = recipe_for(corpus, tiny_model, tmp_path / "cache")
    recipe.train.seed = 99
    prepared(recipe, tokenizer)
    assert len([e for e in entries(tmp_path / "cache/features") if e.ours]) == 2


def test_shards_are_written_whole_or_not_at_all(
    tmp_path: Path, tiny_model: Path, tokenizer, small_chunks: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    corpus = grammar_corpus(tmp_path / "corpus.txt", 30)
    recipe = recipe_for(corpus, tiny_model, tmp_path / "cache")
    task_class = get_task("pretrain")
    encode_chunk, calls = task_class.encode, []

    def fail_on_third_chunk(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt  # Ctrl-C midway through the corpus
        return encode_chunk(self, *args, **kwargs)

    monkeypatch.setattr(task_class, "encode", fail_on_third_chunk)
    with pytest.raises(KeyboardInterrupt):
        prepared(recipe, tokenizer)
    assert list((tmp_path / "cache/features").iterdir()) == []  # no folder, no partial one
    monkeypatch.undo()
    _, splits = prepared(recipe, tokenizer)
    assert len(splits["train"].examples) == 30


def test_a_second_process_waits_for_the_first_to_encode_and_reads_its_shards(
    tmp_path: Path, tiny_model: Path, small_chunks: None, monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Two preparations of one corpus at once (two DDP ranks started by torchrun, two
    runs): one encodes, the other waits for its shards and reads them."""
    from transformers import AutoTokenizer

    corpus = grammar_corpus(tmp_path / "corpus.txt", 30)
    recipe = recipe_for(corpus, tiny_model, tmp_path / "cache")
    task_class = get_task("pretrain")
    encode_chunk, encoders, started = task_class.encode, set(), threading.Event()

    def slow_encode(self, *args, **kwargs):
        encoders.add(threading.current_thread().name)
        started.set()
        time.sleep(0.1)  # the second preparation starts meanwhile
        return encode_chunk(self, *args, **kwargs)

    monkeypatch.setattr(task_class, "encode", slow_encode)
    results: dict[str, list] = {}

    def prepare(name: str) -> None:
        _, splits = prepared(recipe, AutoTokenizer.from_pretrained(tiny_model))
        results[name] = list(splits["train"].features)

    caplog.set_level("INFO", logger="nlpkit")
    first = threading.Thread(target=prepare, args=("first",), name="first")
    first.start()
    assert started.wait(60)
    second = threading.Thread(target=prepare, args=("second",), name="second")
    second.start()
    first.join(120)
    second.join(120)
    assert encoders == {"first"} and results["second"] == results["first"] != []
    assert "is encoding these shards; waiting for it" in caplog.text
    assert [p.name for p in (tmp_path / "cache/features").iterdir() if p.name.startswith(".")] == []  # no lock left


def test_a_damaged_shard_folder_is_reported_and_encoded_again(
    tmp_path: Path, tiny_model: Path, tokenizer, small_chunks: None, caplog: pytest.LogCaptureFixture
) -> None:
    corpus = grammar_corpus(tmp_path / "corpus.txt", 20)
    recipe = recipe_for(corpus, tiny_model, tmp_path / "cache")
    _, first = prepared(recipe, tokenizer)
    expected = list(first["train"].features)  # read before the file under the map is overwritten
    folder = first["train"].features.path
    (folder / "00001.safetensors").write_bytes(b"not a store")
    _, again = prepared(recipe, tokenizer)
    assert "ignoring feature shards" in caplog.text
    assert list(again["train"].features) == expected


@pytest.mark.parametrize("shape", ["files in a folder", "glob", "datasets directory", "jsonl"])
def test_every_corpus_shape_streams_the_documents_it_reads(
    tmp_path: Path, tiny_model: Path, tokenizer, shape: str
) -> None:
    texts = [f"The {w} is old . It stands near the {v} ." for w in WORDS for v in WORDS[:3]]
    folder = tmp_path / "corpus"
    folder.mkdir()
    if shape in ("files in a folder", "glob"):
        for i in range(3):
            (folder / f"part{i}.txt").write_text("\n\n".join(texts[i::3]) + "\n", encoding="utf-8")
        (folder / "notes.md").write_text("not corpus text\n")  # neither the folder nor *.txt takes it
        train = folder if shape == "files in a folder" else folder / "*.txt"
    elif shape == "jsonl":
        import json

        train = folder / "corpus.jsonl"
        train.write_text("".join(json.dumps({"text": t}) + "\n" for t in texts), encoding="utf-8")
    else:
        import datasets

        train = folder / "saved"
        datasets.Dataset.from_dict({"text": texts}).save_to_disk(str(train))
    recipe = recipe_for(train, tiny_model, tmp_path / "cache")
    _, splits = prepared(recipe, tokenizer)
    streamed = list(splits["train"].examples)
    assert sorted(d.text for d in streamed) == sorted(texts)
    assert len(splits["train"].examples) == len(texts) and len(splits["train"].features) >= len(texts) // 2


def test_the_reader_streams_lines_as_they_are_needed(tmp_path: Path, tiny_model: Path) -> None:
    """The first documents come before the reader meets a bad byte further down: it never
    held the whole file."""
    from nlpkit_pretrain.corpus import iter_documents

    corpus = tmp_path / "corpus.txt"
    corpus.write_bytes(b"First document .\n\nSecond document .\n\n" + b"A filler line .\n" * 10_000 + b"\nbad \xff byte\n")
    documents = iter_documents(corpus, boundary="blank_line")  # (auto would look for titles first)
    assert next(documents).text == "First document ."
    assert next(documents).text == "Second document ."
    with pytest.raises(DataError, match=r"corpus.txt:10006: not valid utf-8"):
        next(documents)


def test_an_empty_streamed_corpus_says_why(tmp_path: Path, tiny_model: Path, tokenizer) -> None:
    corpus = tmp_path / "empty.txt"
    corpus.write_text("\n\n\n")
    with pytest.raises(DataError, match="no text found: the file is empty"):
        prepared(recipe_for(corpus, tiny_model, tmp_path / "cache"), tokenizer)


def test_cache_info_lists_the_shard_folder_and_clear_removes_it(
    tmp_path: Path, tiny_model: Path, tokenizer, small_chunks: None
) -> None:
    corpus = grammar_corpus(tmp_path / "corpus.txt", 20)
    _, splits = prepared(recipe_for(corpus, tiny_model, tmp_path / "cache"), tokenizer)
    folder = tmp_path / "cache/features"
    (found,) = entries(folder)
    assert found.path.name.endswith(".shards") and found.task == "pretrain" and found.split == "train"
    assert found.features == len(splits["train"].features) and found.problem is None
    assert found.size == sum(p.stat().st_size for p in found.path.iterdir())
    assert [e.path for e in clear(folder)] == [found.path] and not found.path.exists()


def test_recipe_check_takes_a_pattern_that_matches_files_and_refuses_one_that_does_not(
    tmp_path: Path, tiny_model: Path
) -> None:
    import yaml
    from click.testing import CliRunner

    from nlpkit.cli import main

    grammar_corpus(tmp_path / "part1.txt", 5)
    recipe = tmp_path / "r.yaml"
    for pattern, code in ((tmp_path / "part*.txt", 0), (tmp_path / "nothing*.txt", 2)):
        recipe.write_text(yaml.safe_dump({"task": "pretrain", "encoder": {"name": str(tiny_model)},
                                          "data": {"train": str(pattern)}}))
        result = CliRunner().invoke(main, ["recipe", "check", str(recipe)])
        assert result.exit_code == code, result.output
    assert f"data file not found: data.train = {tmp_path / 'nothing*.txt'}" in result.output
