"""``task: truecase``: which words of a lower-cased sentence start with a capital?

Self-supervised: any plain-text file is training data (one sentence per line); the
labels come from the text's own capitalisation. Per-word labels sit on the first
sub-word piece of each word, as in NER.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Sequence

from pydantic import Field

from nlpkit.errors import RowErrors
from nlpkit.recipe import DataSection
from nlpkit.task import Counts, Feature, Task


@dataclass
class Sentence:
    words: list[str]            # as written (gold capitalisation)
    line: int | None = None

    @property
    def capitalised(self) -> list[int]:
        return [int(w[:1].isupper()) for w in self.words]


class TruecaseData(DataSection):
    min_words: int = Field(3, ge=1, description="Lines with fewer words are skipped.")


class TruecaseTask(Task[Sentence]):
    name: ClassVar[str] = "truecase"
    DataOptions: ClassVar[type[DataSection]] = TruecaseData
    monitor: ClassVar[str] = "f1"

    # -- reading: a file -> examples ----------------------------------------------
    def read(self, path: Path, split: str) -> list[Sentence]:
        errors = RowErrors(path, self.settings.data.on_error)
        sentences = []
        with path.open(encoding=self.settings.data.encoding) as handle:
            for number, line in enumerate(handle, start=1):
                words = line.split()
                if not words:
                    continue
                if len(words) < self.settings.data.min_words:
                    errors.add(number, f"{len(words)} word(s), fewer than data.min_words")
                    continue
                sentences.append(Sentence(words, number))
        errors.report()
        return sentences

    def examples_from_inputs(self, inputs: Sequence[Any]) -> list[Sentence]:
        return [Sentence(str(text).split()) for text in inputs]

    def texts(self, examples: Sequence[Sentence]) -> Any:
        return (" ".join(s.words) for s in examples)

    # -- encoding: examples -> features ------------------------------------------------
    def encode(self, examples: Sequence[Sentence], tokenizer: Any, *, training: bool, counts: Counts) -> list[Feature]:
        lowered = [[w.lower() for w in s.words] for s in examples]
        encoded = tokenizer(lowered, is_split_into_words=True, truncation=True, max_length=self.settings.max_length)
        features, cut = [], 0
        for i, sentence in enumerate(examples):
            word_ids = encoded.word_ids(i)
            labels, previous = [], None
            for word in word_ids:  # label the first piece of each word, ignore the rest
                labels.append(sentence.capitalised[word] if word is not None and word != previous else -100)
                previous = word
            kept = max((w for w in word_ids if w is not None), default=-1) + 1
            cut += kept < len(sentence.words)
            features.append({
                "input_ids": encoded["input_ids"][i],
                "attention_mask": encoded["attention_mask"][i],
                "labels": labels,
                "words": kept,       # how many words fit in the window
                "example_id": i,
            })
        # The core logs it once per split: "data.train: 3 of 2,000 sentences were longer ...".
        counts.add("sentences were longer than encoder.max_length; their tails get no prediction", cut)
        return features

    # -- model: the head and its loss --------------------------------------------------------
    def build_head(self, encoder: Any) -> Any:
        from torch import nn
        from torch.nn import functional as F

        class TokenHead(nn.Module):
            uses_pooler = False  # lets the core drop BERT's unused pooler

            def __init__(self, hidden: int, dropout: float) -> None:
                super().__init__()
                self.dropout = nn.Dropout(dropout)
                self.out = nn.Linear(hidden, 2)

            def forward(self, encoder_output: Any, batch: dict) -> Any:
                return self.out(self.dropout(encoder_output.last_hidden_state))

            def loss(self, output: Any, batch: dict) -> Any:
                return F.cross_entropy(output.float().flatten(0, 1), batch["labels"].flatten(), ignore_index=-100)

        return TokenHead(encoder.config.hidden_size, self.settings.head.dropout)

    # -- export (optional): the head as a transformers class ---------------------------------
    def hf_head(self, encoder: Any, head: Any) -> Any:
        """A linear layer per token is ``BertForTokenClassification``'s ``classifier``."""
        from nlpkit.task import HfHead

        labels = {0: "lower", 1: "capitalised"}
        return HfHead(
            architecture="BertForTokenClassification",
            auto_class="AutoModelForTokenClassification",
            weights={"classifier.weight": head.out.weight.detach(), "classifier.bias": head.out.bias.detach()},
            compare=lambda nlpkit, batch, output: {"logits": (nlpkit(batch), output.logits)},
            config={"id2label": labels, "label2id": {name: i for i, name in labels.items()}},
            pipeline="token-classification",
        )

    # -- decoding: outputs -> predictions ---------------------------------------------------
    def decode(self, examples: Sequence[Sentence], features: Sequence[Feature], outputs: Sequence[Any]) -> list[dict]:
        predictions: list[dict] = [{} for _ in examples]
        for feature, logits in zip(features, outputs):
            sentence = examples[feature["example_id"]]
            # encode() labels every word's first piece, even for user input (all 0s there).
            firsts = [i for i, label in enumerate(feature["labels"]) if label != -100]
            flags = [int(logits[i].argmax()) for i in firsts][: feature["words"]]
            words = [w.lower() for w in sentence.words]
            restored = [w[:1].upper() + w[1:] if f else w for w, f in zip(words, flags)] + words[len(flags):]
            predictions[feature["example_id"]] = {"text": " ".join(restored), "capitalised": flags}
        return predictions

    # -- metrics ----------------------------------------------------------------------------
    def metric(self) -> Any:
        from nlpkit_truecase.metric import CapitalisationMetric

        return CapitalisationMetric()

    def metric_inputs(self, examples: Sequence[Sentence], predictions: Sequence[dict]) -> dict[str, list[int]]:
        gold = [flag for s, p in zip(examples, predictions) for flag in s.capitalised[: len(p["capitalised"])]]
        return {"predictions": [flag for p in predictions for flag in p["capitalised"]], "references": gold}

    def record(self, example: Sentence, prediction: dict) -> dict:
        return {"gold": " ".join(example.words), **prediction}

