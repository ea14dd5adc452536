"""Extractive question answering (SQuAD v1.1 / v2.0): the ``qa`` task.

Kept free of top-level torch/transformers/evaluate imports so that validating a recipe
stays fast; the heavy modules are imported inside the methods that need them.
"""

from __future__ import annotations

import json
import logging
import math
from collections import defaultdict
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Iterable, Iterator, Literal, Sequence

from pydantic import Field, field_validator, model_validator

from nlpkit.errors import NlpkitError, RecipeError
from nlpkit.readers import Record
from nlpkit.recipe import DataSection, HeadSection, Recipe
from nlpkit.task import PREDICTION, Counts, ExplainTarget, Feature, Logits, Task, TaskSettings, text_list, text_object

from nlpkit_qa.readers import QAExample, ReadReport, looks_like_squad, read_qa, read_qa_rows

if TYPE_CHECKING:  # pragma: no cover
    import evaluate
    import torch
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

    from nlpkit.task import HfHead

log = logging.getLogger("nlpkit.qa")

SPECIAL_TOKENS = 3  # [CLS] question [SEP] context [SEP]: checked again with the real tokenizer


class QADataOptions(DataSection):
    window_overlap: int | None = Field(
        None,
        ge=0,
        description="Context tokens shared by consecutive windows of a long context (an overlap, "
        "not a step; Hugging Face's doc_stride). Must be smaller than encoder.max_length - "
        "max_question_length - 3; default: half of that, at most 128.",
    )
    max_question_length: int = Field(
        64, gt=0, description="Questions longer than this many tokens are cut (and counted in the log)."
    )
    answerless_window_fraction: float = Field(
        1.0,
        ge=0,
        le=1,
        description="Fraction (seeded) of the training windows of answerable questions that miss the "
        "answer (labelled [CLS]) to keep; 1 keeps all.",
    )
    metric: Literal["auto", "squad", "cmrc2018"] = Field(
        "auto",
        description="How answers are scored: 'squad' (SQuAD's word-level F1 and EM), 'cmrc2018' (CMRC 2018's "
        "character-level F1 and EM as f1/exact_match, SQuAD's as squad_f1/squad_exact_match; SQuAD v1.1 only), "
        "'auto': cmrc2018 where most letters of the training contexts are Chinese characters.",
    )
    squad_v2: bool = Field(
        False,
        description="Some questions have no answer (SQuAD v2.0): null answers are predicted and "
        "scored. false (SQuAD v1.1): every question has an answer, and one without is a bad row.",
    )

    @field_validator("squad_v2", mode="before")
    @classmethod
    def _null_is_false(cls, value: Any) -> Any:
        return False if value is None else value  # run directories of earlier versions saved null (auto)

    @model_validator(mode="after")
    def _cmrc_scores_answered_questions(self) -> "QADataOptions":
        if self.metric == "cmrc2018" and self.squad_v2:
            raise ValueError("metric cmrc2018 scores questions that all have an answer; it cannot go with squad_v2: true")
        return self


class QAHeadOptions(HeadSection):
    n_best: int = Field(20, gt=0, description="Start and end candidates per window, and answers listed.")
    max_answer_length: int = Field(30, gt=0, description="Longest answer, in tokens.")
    null_threshold: float = Field(
        0.0, description="SQuAD v2: answer null when null score - best span score exceeds this."
    )
    return_n_best: bool = Field(False, description="Add the n-best list to every prediction.")


def window_overlap(data: Any, max_length: int) -> int:
    """``data.window_overlap``, or its default: half a window's context room, at most 128."""
    if data.window_overlap is not None:
        return int(data.window_overlap)
    room = max_length - data.max_question_length - SPECIAL_TOKENS
    return max(0, min(128, room // 2))


def is_mostly_chinese(texts: Iterable[str]) -> bool:
    """Whether most letters of the texts are Chinese characters (CJK unified ideographs)."""
    chinese = letters = 0
    for text in texts:
        for char in text:
            if char.isalpha():
                letters += 1
                chinese += "\u4e00" <= char <= "\u9fff"
    return letters > 0 and chinese / letters > 0.5


class QATask(Task[QAExample]):
    name: ClassVar[str] = "qa"
    DataOptions: ClassVar[type[DataSection]] = QADataOptions
    HeadOptions: ClassVar[type[HeadSection]] = QAHeadOptions
    monitor: ClassVar[str] = "f1"
    monitor_mode: ClassVar[str] = "max"
    # The tensors only: offsets (nested, possibly empty) stay with the features.
    batch_keys: ClassVar[tuple[str, ...]] = (
        "input_ids", "attention_mask", "token_type_ids", "start_positions", "end_positions", "example_id"
    )
    prediction_formats: ClassVar[tuple[str, ...]] = ("jsonl", "squad")
    row_keys: ClassVar[tuple[str, ...]] = ("id", "question", "context", "answers", "is_impossible")

    def __init__(self, settings: TaskSettings) -> None:
        super().__init__(settings)
        self.squad_v2: bool = bool(self.settings.data.squad_v2)
        self.scoring: str = "squad" if self.settings.data.metric == "auto" else self.settings.data.metric
        """``squad`` or ``cmrc2018``: decided by setup() where the recipe says auto."""

    @classmethod
    def recipe_model(cls) -> type[Recipe]:
        """The recipe model, checking the window settings against ``encoder.max_length``
        (a cross-section rule that neither section can check alone)."""
        base = super().recipe_model()

        def check_windows(recipe: Any) -> Any:
            from nlpkit_qa.windows import check_window_settings

            try:
                max_length = recipe.encoder.max_length
                check_window_settings(
                    max_length, recipe.data.max_question_length, window_overlap(recipe.data, max_length), SPECIAL_TOKENS
                )
            except RecipeError as exc:
                raise RecipeError(f"{recipe.source or '<recipe>'}: {exc}") from None
            return recipe

        return type(  # type: ignore[return-value]
            base.__name__, (base,), {"check_qa_windows": model_validator(mode="after")(check_windows)}
        )

    # -- reading -------------------------------------------------------------------
    def read(self, path: Path, split: str) -> list[QAExample]:
        data = self.settings.data
        unanswerable = self._unanswerable(split)
        examples, report = read_qa(
            path, encoding=data.encoding, on_error=data.on_error, unanswerable=unanswerable, columns=data.columns
        )
        self._say(report, split)
        return examples

    def read_rows(self, rows: Iterable[Record], source: str, split: str) -> list[QAExample]:
        records = ((r.line, r.values) for r in rows)
        on_error, unanswerable = self.settings.data.on_error, self._unanswerable(split)
        examples, report = read_qa_rows(records, source, on_error=on_error, unanswerable=unanswerable)
        self._say(report, split)
        return examples

    def _unanswerable(self, split: str) -> bool:
        # Questions to predict need no answers; a v1.1 run reads them as unanswered, not as bad rows.
        return self.squad_v2 or split == PREDICTION

    def _say(self, report: ReadReport, split: str) -> None:
        """Log what reading did besides returning examples (repairs, skips)."""
        if report.repaired:
            log.warning(
                "data.%s: %d answer_start values did not point at their answer text and were repaired "
                "(the text occurs once in the context)", split, report.repaired
            )
        if report.skipped:
            log.warning(
                "data.%s: skipped %d malformed questions (or articles/paragraphs with their questions; data.on_error: "
                "skip), e.g. %s", split, report.skipped, report.problems[0]
            )
        if report.located.counts:
            found = report.located.counts
            log.info(
                "data.%s: answers found in their passage once: %d, several times (the occurrence nearest the "
                "question's characters taken): %d, after removing surrounding spaces: %d, nowhere (bad rows): %d",
                split, found["once"], found["several"], found["stripped"], found["missing"],
            )
        if report.unanswerable:
            log.warning(
                "data.%s: skipped %d unanswerable questions (data.squad_v2 is false; data.on_error: skip), e.g. %s",
                split, len(report.unanswerable), report.unanswerable[0],
            )

    def examples_from_inputs(self, inputs: Sequence[Any]) -> list[QAExample]:
        """``{"question", "context"[, "id"]}`` dicts or ``(question, context)`` pairs."""
        examples = []
        shape = "task qa predicts from {'question': ..., 'context': ...} objects or (question, context) pairs"
        for i, item in enumerate(inputs):
            if isinstance(item, dict):
                question, context, qid = item.get("question"), item.get("context"), item.get("id", str(i))
                missing = [k for k in ("question", "context") if k not in item]
                if missing:
                    keys = ", ".join(repr(k) for k in item) or "none"
                    raise NlpkitError(f"{shape}; no {' or '.join(map(repr, missing))} key (keys: {keys})")
            elif isinstance(item, (tuple, list)) and len(item) == 2:
                (question, context), qid = item, str(i)
            else:
                raise NlpkitError(f"{shape}; got {item!r:.80}")
            if not isinstance(question, str) or not isinstance(context, str):
                raise NlpkitError(f"{shape} of strings; got {item!r:.80}")
            examples.append(QAExample(str(qid), question, context, has_gold=False, is_impossible=False))
        return examples

    def input_schemas(self) -> list[dict[str, Any]]:
        return [text_object(["question", "context"]), text_list(2, 2)]

    def input_format(self, lines: Sequence[str]) -> str | None:
        """A SQuAD JSON file is read as such by ``nlpkit predict`` (one prediction per
        question, with its id); JSONL rows of questions are the core's inputs."""
        return "SQuAD JSON" if looks_like_squad(lines) else None

    def texts(self, examples: Sequence[QAExample]) -> Iterator[str]:
        seen: set[str] = set()
        for example in examples:
            yield example.question
            if example.context not in seen:  # SQuAD repeats a paragraph for each question
                seen.add(example.context)
                yield example.context

    # -- state ---------------------------------------------------------------------
    def setup(self, train: Sequence[QAExample]) -> None:
        if self.settings.data.metric == "auto" and not self.squad_v2:
            self.scoring = "cmrc2018" if is_mostly_chinese(e.context for e in train) else "squad"
            log.info("data.metric auto: scored as %s", "CMRC 2018 (the contexts are Chinese)" if
                     self.scoring == "cmrc2018" else "SQuAD")

    def check(self, examples: Sequence[QAExample], split: str) -> list[str]:
        impossible = sum(e.is_impossible and e.has_gold for e in examples)
        if impossible and not self.squad_v2:
            return [
                f"data.{split} holds {impossible} unanswerable questions, but the task never predicts "
                "a null answer (set data.squad_v2: true)"
            ]
        return []

    def state_dict(self) -> dict[str, Any]:
        # SQuAD scoring is what a saved run without "scoring" means: only CMRC's is written.
        return {"squad_v2": self.squad_v2, **({"scoring": self.scoring} if self.scoring != "squad" else {})}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.squad_v2 = bool(state.get("squad_v2", self.squad_v2))
        self.scoring = str(state.get("scoring", "squad"))

    # -- encoding ------------------------------------------------------------------
    def encode(
        self, examples: Sequence[QAExample], tokenizer: "PreTrainedTokenizerBase", *, training: bool, counts: Counts
    ) -> list[Feature]:
        from nlpkit_qa.windows import encode_windows

        data, max_length = self.settings.data, self.settings.max_length
        return encode_windows(
            examples,
            tokenizer,
            max_length=max_length,
            max_question_length=data.max_question_length,
            window_overlap=window_overlap(data, max_length),
            labels=training,
            answerless_window_fraction=data.answerless_window_fraction if training else 1.0,
            seed=self.settings.seed,
            counts=counts,
        )

    def cache_settings(self) -> dict[str, Any]:
        settings = super().cache_settings()
        settings.pop("head", None)  # post-processing options do not change the features
        settings["seed"] = self.settings.seed  # seeds the down-sampling of windows
        return settings

    # -- model ---------------------------------------------------------------------
    def build_head(self, encoder: "PreTrainedModel") -> "torch.nn.Module":
        from nlpkit_qa.heads import SpanHead

        return SpanHead(encoder.config.hidden_size, self.settings.head.dropout)

    def hf_head(self, encoder: "PreTrainedModel", head: Any) -> "HfHead":
        """The span head is ``BertForQuestionAnswering``'s ``qa_outputs`` exactly; finding
        the best span (windows, n-best, ``head.max_answer_length``) is nlpkit's decoding."""
        from nlpkit.task import HfHead

        def compare(nlpkit: Any, batch: Any, output: Any) -> dict[str, Any]:
            ours = nlpkit(batch)
            return {name: (ours[name], getattr(output, name)) for name in ("start_logits", "end_logits")}

        return HfHead(
            architecture="BertForQuestionAnswering",
            auto_class="AutoModelForQuestionAnswering",
            weights={"qa_outputs.weight": head.out.weight.detach(), "qa_outputs.bias": head.out.bias.detach()},
            compare=compare,
            notes=("Plain transformers gives the start and end logits of every token (transformers 5 has no "
                   "question-answering pipeline); nlpkit picks the answer span from them: the best start and end "
                   "in the context, across the windows of a long context.",),
        )

    def explain_targets(self, feature: Feature, output: Any, prediction: dict[str, Any]) -> list[ExplainTarget]:
        """The start logit of the answer's first token and the end logit of its last (an
        unanswered question: both at [CLS], where SQuAD v2 models put "no answer")."""
        start = end = 0
        if prediction.get("answer"):
            offsets, first = feature["offsets"], feature["context_start"]
            start = first + next(i for i, (a, b) in enumerate(offsets) if a <= prediction["start"] < b)
            end = first + max(i for i, (a, b) in enumerate(offsets) if a < prediction["end"] <= b)
        return [ExplainTarget("answer start", lambda out: out["start_logits"][:, start]),
                ExplainTarget("answer end", lambda out: out["end_logits"][:, end])]

    def distill_logits(self, output: dict[str, "torch.Tensor"], batch: dict[str, "torch.Tensor"]) -> dict[str, Logits]:
        """Where the answer starts and ends: a distribution over each window's tokens
        (padding has a logit of -1e4 in teacher and student alike, so no mass)."""
        return {"start": Logits(output["start_logits"]), "end": Logits(output["end_logits"])}

    # -- evaluation and prediction ---------------------------------------------
    def decode(
        self, examples: Sequence[QAExample], features: Sequence[Feature], outputs: Sequence[Any]
    ) -> list[dict[str, Any]]:
        from nlpkit_qa.postprocess import Window, best_answers

        windows: dict[int, list[Window]] = defaultdict(list)
        for feature, output in zip(features, outputs):
            windows[feature["example_id"]].append(
                Window(output["start_logits"], output["end_logits"], feature["context_start"], feature["offsets"])
            )
        head = self.settings.head
        predictions = []
        for index, example in enumerate(examples):
            answer = best_answers(
                example.context,
                windows.get(index, []),
                n_best=head.n_best,
                max_answer_length=head.max_answer_length,
                allow_null=self.squad_v2,
                null_threshold=head.null_threshold,
                with_n_best=head.return_n_best,
            )
            predictions.append({"id": example.id, **answer})
        return predictions

    def metric(self) -> "evaluate.Metric":
        from nlpkit_qa.metric import SquadV1, SquadV2

        if self.scoring == "cmrc2018":
            from nlpkit_qa.cmrc_metric import Cmrc2018

            return Cmrc2018()
        return SquadV2() if self.squad_v2 else SquadV1()

    def metric_inputs(
        self, examples: Sequence[QAExample], predictions: Sequence[dict[str, Any]]
    ) -> dict[str, Any]:
        references = [
            {"id": e.id, "answers": {"text": [a.text for a in e.answers], "answer_start": [a.start for a in e.answers]}}
            for e in examples
        ]
        if not self.squad_v2:
            scored = [{"id": p["id"], "prediction_text": p["answer"]} for p in predictions]
            return {"predictions": scored, "references": references}
        scored = [
            {"id": p["id"], "prediction_text": p["answer"], "no_answer_probability": p.get("null_score_diff")}
            for p in predictions
        ]
        # The predictions already apply null_threshold: the headline exact/f1 score them
        # as they are (threshold +inf), the best_* figures sweep the null score differences.
        return {"predictions": scored, "references": references, "no_answer_threshold": math.inf}

    def metric_names(self) -> frozenset[str]:
        # squad_v1 / squad_v2 (metric.py), as data.squad_v2 says; with data.metric auto, CMRC's
        # figures too: only the training data can rule them out.
        v1 = frozenset({"exact_match", "f1"})
        cmrc = v1 | {"average", "squad_exact_match", "squad_f1"}
        parts = ("exact", "f1", "total")
        v2 = frozenset(
            [*parts, *(f"{group}_{p}" for group in ("HasAns", "NoAns") for p in parts),
             "best_exact", "best_exact_thresh", "best_f1", "best_f1_thresh"]
        )
        if self.settings.data.squad_v2:
            return v2
        return v1 if self.settings.data.metric == "squad" else cmrc

    def has_labels(self, examples: Sequence[QAExample]) -> bool:
        return any(e.has_gold for e in examples)

    def record(self, example: QAExample, prediction: dict[str, Any]) -> dict[str, Any]:
        record = {"id": example.id, "question": example.question, **prediction}
        if example.has_gold:
            record["gold"] = [a.text for a in example.answers]
            record["gold_start"] = [a.start for a in example.answers]
            record["excerpt"] = excerpt(example, prediction)
        return record

    def render(
        self, examples: Sequence[QAExample], predictions: Sequence[dict[str, Any]], fmt: str
    ) -> Iterator[str]:
        if fmt == "squad":  # the official evaluation scripts' input: one {id: answer} object
            yield json.dumps({p["id"]: p["answer"] for p in predictions}, ensure_ascii=False)
            return
        yield from super().render(examples, predictions, fmt)


EXCERPT_MARGIN = 80
"""Characters of context kept on each side of the predicted and gold answers in a run's
predictions file: enough for a report to show the answers in context, far less than the
whole context (SQuAD's dev set: 10,570 questions on 2,067 contexts)."""


def excerpt(example: QAExample, prediction: dict[str, Any]) -> dict[str, Any]:
    """The part of the context around the predicted and the gold answers: its ``start``
    in the context and its ``text``."""
    spans = [(a.start, a.start + len(a.text)) for a in example.answers]
    if prediction.get("answer"):
        spans.append((prediction["start"], prediction["end"]))
    if not spans:  # no gold answer and none predicted: the context's beginning
        spans = [(0, 0)]
    start = max(0, min(s for s, _ in spans) - EXCERPT_MARGIN)
    end = min(len(example.context), max(e for _, e in spans) + EXCERPT_MARGIN)
    return {"start": start, "text": example.context[start:end]}

