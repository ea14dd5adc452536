"""``nlpkit explain``: why a saved model predicted what it did for one input.

* token attributions for the predicted class: integrated gradients (captum) over the
  word embeddings, from a baseline that keeps [CLS], [SEP] and padding and replaces every
  other token by [PAD]; by completeness they sum to the predicted logit's difference
  between the input and the baseline, up to captum's convergence delta, which is reported;
* the attention of every layer and head (the encoder's reference "eager" attention).

For tasks whose head gives one row of logits per input (classification, sentiment
polarity, pairs, NSP); NER and QA are not explained yet.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from nlpkit.errors import InputError, NlpkitError

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from nlpkit.predictor import Predictor

STEPS = 50
"""Integration steps of integrated gradients (captum's default)."""


@dataclass
class Explanation:
    input: Any
    label: str
    probability: float
    tokens: list[str]
    attributions: list[float]
    """Per token: integrated gradients summed over the embedding dimensions."""
    logit: float
    """The predicted class's logit for the input..."""
    baseline_logit: float
    """...and for the baseline."""
    delta: float
    """captum's convergence delta: sum(attributions) - (logit - baseline_logit)."""
    steps: int
    attentions: list[list[list[list[float]]]]
    """``[layer][head][query token][key token]``."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def explain(predictor: "Predictor", text: Any, steps: int = STEPS) -> Explanation:
    """Attributions and attention maps of ``predictor``'s prediction for one input (what
    ``predict`` takes: a text, a pair, a dict)."""
    import importlib.util

    import torch

    if importlib.util.find_spec("captum") is None:
        raise NlpkitError("explain needs captum: pip install 'nlpkit[explain]'")
    batch = _one_feature(predictor, text)
    model = predictor.model.float().eval()
    model.encoder.set_attn_implementation("eager")  # the attention that returns its weights
    with torch.no_grad():
        logits = model(batch)
    if not isinstance(logits, torch.Tensor) or logits.dim() != 2:
        raise NlpkitError(
            f"task {predictor.task.name}: explain needs a head that gives one row of logits per input "
            "(classification, sentiment polarity, pairs, NSP); this one does not"
        )
    target = int(logits[0].argmax())
    attributions, delta, baseline_logit = _integrated_gradients(model, predictor.tokenizer, batch, target, steps)
    prediction = predictor.predict(text)
    ids = batch["input_ids"][0].tolist()
    return Explanation(
        input=text, label=str(prediction.get("label")), probability=float(torch.softmax(logits[0], -1)[target]),
        tokens=predictor.tokenizer.convert_ids_to_tokens(ids), attributions=attributions,
        logit=float(logits[0, target]), baseline_logit=baseline_logit, delta=delta, steps=steps,
        attentions=_attentions(model, batch),
    )


def _one_feature(predictor: "Predictor", text: Any) -> dict[str, "torch.Tensor"]:
    """The input as the one batch of one feature that prediction would build."""
    from nlpkit.data import eval_loader
    from nlpkit.predictor import check_inputs
    from nlpkit.task import Counts

    check_inputs([text], single=True)
    examples = predictor.examples_from_inputs([text])
    features = predictor.task.encode(examples, predictor.tokenizer, training=False, counts=Counts())
    if len(features) != 1:
        raise InputError(f"the input is encoded as {len(features)} windows; explain takes an input of one")
    loader = eval_loader(predictor.task, features, predictor.tokenizer, 1)
    return {k: v.to(predictor.device) for k, v in next(iter(loader)).items()}


def _integrated_gradients(
    model: Any, tokenizer: Any, batch: dict[str, "torch.Tensor"], target: int, steps: int
) -> tuple[list[float], float, float]:
    """(per-token attributions, convergence delta, the baseline's logit)."""
    import torch
    from captum.attr import LayerIntegratedGradients

    # captum varies the first input and repeats the others along the batch for each step.
    names = [k for k in batch if k != "input_ids"]
    others = tuple(batch[k] for k in names)

    def logit(input_ids: "torch.Tensor", *rest: "torch.Tensor") -> "torch.Tensor":
        return model({"input_ids": input_ids, **dict(zip(names, rest))})[:, target]

    ids = batch["input_ids"]
    baseline = torch.where(_kept(tokenizer, ids), ids, torch.full_like(ids, tokenizer.pad_token_id or 0))
    layer = LayerIntegratedGradients(logit, model.encoder.get_input_embeddings())
    attributions, delta = layer.attribute(
        ids, baselines=baseline, additional_forward_args=others, n_steps=steps, return_convergence_delta=True,
    )
    with torch.no_grad():
        baseline_logit = float(logit(baseline, *others)[0])
    return attributions.sum(-1)[0].tolist(), float(delta[0]), baseline_logit


def _kept(tokenizer: Any, ids: "torch.Tensor") -> "torch.Tensor":
    """Where the input holds [CLS], [SEP] or padding: kept in the baseline."""
    import torch

    mask = torch.zeros_like(ids, dtype=torch.bool)
    for token in (tokenizer.cls_token_id, tokenizer.sep_token_id, tokenizer.pad_token_id):
        if token is not None:
            mask |= ids == token
    return mask


def _attentions(model: Any, batch: dict[str, "torch.Tensor"]) -> list[list[list[list[float]]]]:
    import torch

    from nlpkit.task import ENCODER_INPUTS

    with torch.no_grad():
        output = model.encoder(**{k: batch[k] for k in ENCODER_INPUTS if k in batch}, output_attentions=True)
    return [layer[0].tolist() for layer in output.attentions]


def write_explanation(explanation: Explanation, output: str | os.PathLike[str]) -> None:
    """``.json``: the explanation as JSON; anything else: a self-contained HTML page."""
    import json
    from pathlib import Path

    from nlpkit.rundir import replacing

    target = Path(output)
    if target.suffix.lower() == ".json":
        page = json.dumps(explanation.to_dict(), indent=2, ensure_ascii=False)
    else:
        from nlpkit.report.render import render_explanation

        page = render_explanation(explanation)
    with replacing(target) as partial:
        partial.write_text(page, encoding="utf-8")
