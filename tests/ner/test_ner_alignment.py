"""Sub-word alignment, windows and stitching, checked with oracle outputs (no model):
feeding each feature's own labels back as predictions must give the gold tags back."""

import numpy as np
import pytest

from nlpkit.recipe import load_recipe
from nlpkit.task import Counts, TaskSettings
from nlpkit_ner import schemes
from nlpkit_ner.alignment import split_words, windows
from nlpkit_ner.readers import NerExample
from nlpkit_ner.task import NerTask


def make_task(encoder, **data):
    recipe = load_recipe({"task": "ner", "encoder": {"name": str(encoder), "max_length": data.pop("max_length", 32)}, "data": data})
    return NerTask(TaskSettings.of(recipe))


def oracle(features):
    outputs = []
    for f in features:
        labels = np.array(f["labels"], dtype=np.float32)
        outputs.append({"tag": np.where(labels < 0, 0, labels), "score": np.ones(len(labels), dtype=np.float32)})
    return outputs


def test_split_words_offsets_unicode_punctuation_spaces():
    text = "  Zoë  visited\tSão Paulo,  (U.S.)  café…北京大学!"
    spans = split_words(text)
    words = [text[s:e] for s, e in spans]
    assert words == ["Zoë", "visited", "São", "Paulo", ",", "(", "U.S", ".", ")", "café", "…", "北", "京", "大", "学", "!"]
    assert split_words("Paris-based", [0, 5]) == [(0, 5), (5, 6), (6, 11)]


def test_windows_cover_everything_with_overlap():
    starts = [True, False, True, True, False, False, True] * 10
    spans = windows(starts, 12, 4)
    assert spans[0][0] == 0 and spans[-1][1] == len(starts)
    for (a, b), (c, d) in zip(spans, spans[1:]):
        assert b - a <= 12 and c < b and b - c >= 4 and starts[c]


TAGGED = [
    (["Angela", "Merkel", "visited", "Parisians"], ["B-PER", "I-PER", "O", "B-MISC"]),  # paris ##i ##a ##n ##s
    (["Düsseldorf", ",", "café", "naïve", "Carol", "Jones"], ["B-LOC", "O", "O", "O", "B-PER", "B-PER"]),
]


@pytest.mark.parametrize("all_pieces", [False, True])
@pytest.mark.parametrize("scheme", ["iob2", "iobes"])
def test_labels_survive_alignment_and_windows(ner_encoder, ner_tokenizer, all_pieces, scheme):
    long_words = [w for words, _ in TAGGED for w in words] * 6
    long_tags = [t for _, tags in TAGGED for t in tags] * 6
    data = TAGGED + [(long_words, long_tags)]
    task = make_task(ner_encoder, label_all_pieces=all_pieces, train_scheme=scheme, window_overlap=6, max_length=24)
    examples = [NerExample(list(w), schemes.convert(t, scheme)) for w, t in data]
    task.setup(examples)
    features = task.encode(examples, ner_tokenizer, training=True, counts=Counts())
    assert sum(f["example_id"] == 2 for f in features) > 2  # the long sentence became windows
    assert all(len(f["input_ids"]) <= 24 for f in features)
    predictions = task.decode(examples, features, oracle(features))
    for example, prediction in zip(examples, predictions):
        assert prediction["tags"] == example.tags
    # The first piece carries the word's label; continuation pieces are ignored (or labelled).
    first = features[0]
    pieces = ner_tokenizer.convert_ids_to_tokens(first["input_ids"])
    labelled = [p for p, l in zip(pieces, first["labels"]) if l >= 0]
    assert any(p.startswith("##") for p in pieces)
    if all_pieces:
        assert labelled == [p for p in pieces if p not in ("[CLS]", "[SEP]")]
    else:
        assert len(labelled) == 4 and not any(p.startswith("##") for p in labelled)


def test_chinese_text_is_tagged_character_by_character(ner_encoder, ner_tokenizer):
    task = make_task(ner_encoder)
    task.setup([NerExample(["北", "京"], ["B-LOC", "I-LOC"])])
    (example,) = task.examples_from_inputs(["我在北京大学"])
    assert example.words == ["我", "在", "北", "京", "大", "学"]
    features = task.encode([example], ner_tokenizer, training=False, counts=Counts())
    assert sum(u >= 0 for u in features[0]["units"]) == 6


def test_raw_text_entities_have_character_offsets(ner_encoder, ner_tokenizer):
    task = make_task(ner_encoder)
    task.setup([NerExample(["Angela", "Paris"], ["B-PER", "B-LOC"])])
    text = "  Angela   Merkel,  visited Zoë's café in   Paris !"
    (example,) = task.examples_from_inputs([text])
    gold = {"Angela": "B-PER", "Merkel": "I-PER", "Paris": "B-LOC"}
    tag_ids = [task.tags.index(gold.get(w, "O")) for w in example.words]
    features = task.encode([example], ner_tokenizer, training=False, counts=Counts())
    f = features[0]
    outputs = [{"tag": np.array([tag_ids[u] if u >= 0 else 0 for u in f["units"]], dtype=np.float32),
                "score": np.full(len(f["units"]), 0.5, dtype=np.float32)}]
    (prediction,) = task.decode([example], features, outputs)
    assert prediction["entities"] == [
        {"text": "Angela   Merkel", "label": "PER", "start": 2, "end": 17, "score": 0.5},
        {"text": "Paris", "label": "LOC", "start": 44, "end": 49, "score": 0.5},
    ]
    for entity in prediction["entities"]:
        assert text[entity["start"] : entity["end"]] == entity["text"]
