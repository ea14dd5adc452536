"""``nlpkit explain``: why a saved model predicted what it did for one input.

* token attributions for each thing the task names to explain (:meth:`Task.explain_targets`:
  the predicted class of a classifier, each entity an NER model finds, the start and the
  end of a QA model's answer): integrated gradients (captum) over the word embeddings,
  from a baseline that keeps [CLS], [SEP] and padding and replaces every other token by
  [PAD]; by completeness they sum to the explained value's difference between the input
  and the baseline, up to captum's convergence delta, which is reported;
* the attention of every layer and head (the encoder's reference "eager" attention).
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from nlpkit.errors import InputError, NlpkitError

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from nlpkit.predictor import Predictor
    from nlpkit.task import ExplainTarget

STEPS = 50
"""Integration steps of integrated gradients (captum's default)."""


@dataclass
class Attribution:
    """The attributions of one explained value."""

    target: str
    """What was explained (``label 1``, ``PER: John Smith``, ``answer start``)."""
    attributions: list[float]
    """Per token: integrated gradients summed over the embedding dimensions."""
    value: float
    """The explained value (a logit) for the input..."""
    baseline_value: float
    """...and for the baseline."""
    delta: float
    """captum's convergence delta: sum(attributions) - (value - baseline_value)."""


@dataclass
class Explanation:
    input: Any
    prediction: dict[str, Any]
    """What ``predict`` gives for the input."""
    tokens: list[str]
    targets: list[Attribution]
    """One per explained value; none when there is nothing to explain (no entity found)."""
    steps: int
    attentions: list[list[list[list[float]]]]
    """``[layer][head][query token][key token]``."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def explain(predictor: "Predictor", text: Any, steps: int = STEPS) -> Explanation:
    """Attributions and attention maps of ``predictor``'s prediction for one input (what
    ``predict`` takes: a text, a pair, a dict): what :meth:`Predictor.explain
    <nlpkit.predictor.Predictor.explain>` runs once it has checked the input."""
    import importlib.util

    if importlib.util.find_spec("captum") is None:
        raise NlpkitError("explain needs captum: pip install 'nlpkit[explain]'")
    example, feature, batch = _one_feature(predictor, text)
    model = predictor.model.float().eval()
    model.encoder.set_attn_implementation("eager")  # the attention that returns its weights
    output = predictor.infer([feature])[0]
    prediction = predictor.task.decode([example], [feature], [output])[0]
    targets = predictor.task.explain_targets(feature, output, prediction)
    ids = batch["input_ids"][0].tolist()
    return Explanation(
        input=text, prediction=prediction, tokens=predictor.tokenizer.convert_ids_to_tokens(ids),
        targets=[_integrated_gradients(model, predictor.tokenizer, batch, target, steps) for target in targets],
        steps=steps, attentions=_attentions(model, batch),
    )


def _one_feature(predictor: "Predictor", text: Any) -> tuple[Any, dict[str, Any], dict[str, "torch.Tensor"]]:
    """The input's example, its one feature and the batch of it that prediction builds."""
    from nlpkit.data import eval_loader
    from nlpkit.task import Counts

    examples = predictor.examples_from_inputs([text])
    features = predictor.task.encode(examples, predictor.tokenizer, training=False, counts=Counts())
    if len(features) != 1:
        raise InputError(f"the input is encoded as {len(features)} windows; explain takes an input of one")
    loader = eval_loader(predictor.task, features, predictor.tokenizer, 1)
    return examples[0], features[0], {k: v.to(predictor.device) for k, v in next(iter(loader)).items()}


def _head_output(model: Any, batch: dict[str, "torch.Tensor"]) -> Any:
    """The head's differentiable output: its ``graph_forward`` (the part before any
    decoding, such as a CRF's), or else its ``forward``."""
    from nlpkit.task import ENCODER_INPUTS

    step = getattr(model.head, "graph_forward", model.head)
    encoded = model.encoder(**{k: batch[k] for k in ENCODER_INPUTS if k in batch}, return_dict=True)
    return step(encoded, batch)


def _integrated_gradients(
    model: Any, tokenizer: Any, batch: dict[str, "torch.Tensor"], target: "ExplainTarget", steps: int
) -> Attribution:
    import torch
    from captum.attr import LayerIntegratedGradients

    # captum varies the first input and repeats the others along the batch for each step.
    names = [k for k in batch if k != "input_ids"]
    others = tuple(batch[k] for k in names)

    def value(input_ids: "torch.Tensor", *rest: "torch.Tensor") -> "torch.Tensor":
        return target.select(_head_output(model, {"input_ids": input_ids, **dict(zip(names, rest))}))

    ids = batch["input_ids"]
    baseline = torch.where(_kept(tokenizer, ids), ids, torch.full_like(ids, tokenizer.pad_token_id or 0))
    layer = LayerIntegratedGradients(value, model.encoder.get_input_embeddings())
    attributions, delta = layer.attribute(
        ids, baselines=baseline, additional_forward_args=others, n_steps=steps, return_convergence_delta=True,
    )
    with torch.no_grad():
        at_input, at_baseline = float(value(ids, *others)[0]), float(value(baseline, *others)[0])
    return Attribution(target.name, attributions.sum(-1)[0].tolist(), at_input, at_baseline, float(delta[0]))


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
