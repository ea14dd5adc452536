"""``nlpkit export --format hf``: a directory that plain transformers loads
(``AutoModelFor...``, ``pipeline``), and nlpkit's loader for it.

The task maps its head onto a transformers class (:meth:`nlpkit.task.Task.hf_head`); the
core adds the encoder's weights, writes the model, the tokenizer and nlpkit's copy of the
head, then loads the result back with plain transformers and compares it with nlpkit's
model before the export counts as done: a head that transformers would fill at random
fails here, never silently later.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nlpkit.errors import NlpkitError

if TYPE_CHECKING:  # pragma: no cover
    import torch
    from transformers import PretrainedConfig, PreTrainedModel

    from nlpkit.predictor import Predictor
    from nlpkit.rundir import ExportDir, RunDir
    from nlpkit.task import HfHead, Task

log = logging.getLogger("nlpkit")

CUSTOM_CLASSES = ("NlpkitBertForSequenceClassification",)
"""The classes of :mod:`nlpkit.export.modeling_nlpkit`: an export that uses one ships the
file and loads with ``trust_remote_code=True``."""
MODELING_MODULE = "modeling_nlpkit"
TOLERANCE = 1e-5
"""The largest difference allowed between nlpkit's outputs and the export's (fp32)."""


def write_hf(predictor: "Predictor", run: "RunDir", stage: "ExportDir", quantize: str | None) -> dict[str, Any]:
    """Write the transformers model of ``predictor``'s run into ``stage``, check it, and
    return what the export's metadata records of it."""
    from safetensors.torch import save_file, save_model

    model = predictor.model
    spec = predictor.task.hf_head(model.encoder, model.head)
    hf_model = build(spec, model.encoder)
    hf_model.save_pretrained(stage.path)
    predictor.tokenizer.save_pretrained(stage.path)
    custom = spec.architecture in CUSTOM_CLASSES
    if custom:
        from nlpkit.export import modeling_nlpkit

        shutil.copyfile(modeling_nlpkit.__file__, stage.path / f"{MODELING_MODULE}.py")
    for name, tensors in spec.beside.items():
        save_file({k: v.detach().contiguous() for k, v in tensors.items()}, str(stage.path / name))
    stage.saved.path.mkdir(parents=True, exist_ok=True)
    save_model(model.head, str(stage.saved.head_file))
    difference = verify(stage.path, spec, predictor, trust_remote_code=custom)
    id2label = spec.config.get("id2label")
    return {
        "labels": [id2label[i] for i in sorted(id2label)] if id2label else None,
        "architecture": spec.architecture,
        "auto_class": spec.auto_class,
        "also_loads": list(spec.also_loads),
        "pipeline": spec.pipeline,
        "trust_remote_code": custom,
        "beside": sorted(spec.beside),
        "notes": list(spec.notes),
        "max_abs_difference": difference,
    }


def build(spec: "HfHead", encoder: "PreTrainedModel") -> "PreTrainedModel":
    """The transformers model of ``spec`` holding the encoder's and the head's weights;
    :class:`NlpkitError` if a tensor of the class is left without a value."""
    config = hf_config(spec, encoder.config)
    model = model_class(spec.architecture)(config)
    prefix = model.base_model_prefix
    state = {f"{prefix}.{name}": value for name, value in encoder.state_dict().items()}
    state.update(spec.weights)
    missing, unexpected = model.load_state_dict(state, strict=False)
    tied = set(getattr(model, "all_tied_weights_keys", None) or {})
    missing = [k for k in missing if k not in tied]
    # The encoder's tensors that the class has no place for (BERT's pooler under a token
    # head) do not change its outputs; a head tensor without a place is the plugin's error.
    unplaced = [k for k in unexpected if not k.startswith(f"{prefix}.")]
    if missing or unplaced:
        raise NlpkitError(
            f"the head does not map onto {spec.architecture}: "
            + "; ".join(f"{what} {', '.join(sorted(keys)[:5])}" for what, keys in
                        (("no value for", missing), ("no place for", unplaced)) if keys)
        )
    model.tie_weights()
    return model.eval()


def hf_config(spec: "HfHead", encoder_config: "PretrainedConfig") -> "PretrainedConfig":
    """The encoder's configuration with the head's entries and the class named."""
    from transformers import AutoConfig

    values = encoder_config.to_dict()
    for key in ("architectures", "auto_map", "transformers_version", "id2label", "label2id", "_name_or_path"):
        values.pop(key, None)
    model_type = values.pop("model_type")
    values.update(spec.config)
    values["architectures"] = [spec.architecture]
    if spec.architecture not in CUSTOM_CLASSES:
        return AutoConfig.for_model(model_type, **values)
    if model_type != "bert":
        raise NlpkitError(f"this head needs nlpkit's modeling file, which is written for BERT, not {model_type}")
    from nlpkit.export.modeling_nlpkit import NlpkitBertConfig

    config = NlpkitBertConfig(**values)
    config.auto_map = {
        "AutoConfig": f"{MODELING_MODULE}.NlpkitBertConfig",
        spec.auto_class: f"{MODELING_MODULE}.{spec.architecture}",
    }
    return config


def model_class(architecture: str) -> type["PreTrainedModel"]:
    import transformers

    if architecture in CUSTOM_CLASSES:
        from nlpkit.export import modeling_nlpkit

        return getattr(modeling_nlpkit, architecture)
    cls = getattr(transformers, architecture, None)
    if cls is None:
        raise NlpkitError(f"transformers {transformers.__version__} has no model class {architecture}")
    return cls


def verify(path: Path, spec: "HfHead", predictor: "Predictor", *, trust_remote_code: bool) -> float:
    """Load the export with plain transformers and compare it with nlpkit's model: the
    tokenizer on sample texts, the outputs on a few sequences; the largest difference."""
    import transformers
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(path, trust_remote_code=trust_remote_code)  # as the card says
    for text in SAMPLE_TEXTS:
        if tokenizer(text)["input_ids"] != predictor.tokenizer(text)["input_ids"]:
            raise NlpkitError(f"the exported tokenizer reads {text!r} otherwise than the run's")
    loaded = getattr(transformers, spec.auto_class).from_pretrained(path, trust_remote_code=trust_remote_code).eval()
    if type(loaded).__name__ != spec.architecture:
        raise NlpkitError(f"{spec.auto_class} loads the export as {type(loaded).__name__}, not {spec.architecture}")
    worst = 0.0
    for batch in sample_batches(predictor.tokenizer, loaded.config):
        worst = max(worst, _compare(spec, predictor, loaded, batch))
    return worst


SAMPLE_TEXTS = ("Paris is the capital of France.", "a gripping , beautifully acted film", "naïve café, 東京 2024!")


def sample_batches(tokenizer: Any, config: Any, lengths: tuple[int, ...] = (6, 19, 48)) -> list[dict[str, "torch.Tensor"]]:
    """One-sequence batches of random tokens between [CLS] and [SEP], the second half of
    each with token type 1 where the model has two (a pair): seeded, so the check repeats."""
    import torch

    generator = torch.Generator().manual_seed(0)
    special = set(tokenizer.all_special_ids)
    ordinary = torch.tensor([i for i in range(len(tokenizer)) if i not in special])
    batches = []
    for length in lengths:
        length = min(length, config.max_position_embeddings)
        body = ordinary[torch.randint(len(ordinary), (length - 2,), generator=generator)]
        ids = torch.cat([torch.tensor([tokenizer.cls_token_id]), body, torch.tensor([tokenizer.sep_token_id])])
        types = torch.zeros(length, dtype=torch.long)
        if getattr(config, "type_vocab_size", 1) > 1:
            types[length // 2:] = 1
        batches.append({"input_ids": ids[None], "attention_mask": torch.ones(1, length, dtype=torch.long),
                        "token_type_ids": types[None]})
    return batches


def _compare(spec: "HfHead", predictor: "Predictor", loaded: "PreTrainedModel", batch: dict[str, "torch.Tensor"]) -> float:
    import torch

    model = predictor.model.cpu().eval()
    with torch.inference_mode():
        hf_output = loaded(**batch)
        pairs = spec.compare(model, batch, hf_output)
    worst = 0.0
    for name, (ours, theirs) in pairs.items():
        if ours.shape != theirs.shape:
            raise NlpkitError(f"the export's {name} has shape {tuple(theirs.shape)}, nlpkit's {tuple(ours.shape)}")
        difference = float((ours.float() - theirs.float()).abs().max()) if ours.numel() else 0.0
        if not difference <= TOLERANCE:
            raise NlpkitError(
                f"the export does not compute what nlpkit's model does: {name} differ by {difference:.3g} "
                f"(allowed {TOLERANCE:g}); nothing was written"
            )
        worst = max(worst, difference)
    return worst


def load_model(export: "ExportDir", task: "Task") -> Any:
    """nlpkit's model from an ``hf`` export: the encoder from the exported weights (under
    the class's base-model prefix), the head from nlpkit's copy (``ExportDir.saved``)."""
    from safetensors import SafetensorError
    from transformers import AutoConfig, AutoModel

    from nlpkit.model import TaskModel
    from nlpkit.model import load_head

    try:
        encoder = AutoModel.from_config(AutoConfig.from_pretrained(export.saved.path))
        weights = _exported_weights(export)
    except (OSError, ValueError, SafetensorError) as exc:
        raise _damaged(export, exc) from None
    prefix = f"{encoder.base_model_prefix}."
    state = {k[len(prefix):]: v for k, v in weights.items() if k.startswith(prefix)}
    head = task.build_head(encoder)
    if not getattr(head, "uses_pooler", True):
        encoder.pooler = None
    missing, _ = encoder.load_state_dict(state, strict=False)
    if missing and all(k.startswith("pooler.") for k in missing):
        encoder.pooler = None  # exported without it: a head that reads it fails loudly, never with a random one
    elif missing:
        raise _damaged(export, ValueError(f"no weights for the encoder's {', '.join(sorted(missing)[:5])}"))
    load_head(head, export.saved.head_file, task.name)
    return TaskModel(encoder, head)


def _exported_weights(export: "ExportDir") -> dict[str, "torch.Tensor"]:
    from safetensors.torch import load_file

    return load_file(str(export.weights))


def _damaged(export: "ExportDir", exc: Exception) -> NlpkitError:
    from nlpkit.errors import RunDirError

    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return RunDirError(f"{export.path}: the exported model cannot be loaded ({first}); export the run again")
