"""BERT's pre-training heads (MLM + NSP) on top of nlpkit's encoder, and checkpoint export.

The head mirrors ``BertForPreTraining.cls`` (``predictions.transform``, ``predictions.bias``,
``seq_relationship``) so that a checkpoint's ``cls.*`` weights load by name. The MLM
decoder is tied to the encoder's input embeddings by *using* them in ``forward`` rather
than registering them again, so the optimizer never sees one tensor twice.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import nn
from torch.nn import functional as F

from nlpkit.rundir import ModelDir

if TYPE_CHECKING:  # pragma: no cover
    from nlpkit.task import HfHead

log = logging.getLogger("nlpkit.pretrain")


class PretrainingHeads(nn.Module):
    """MLM prediction head (tied decoder) and NSP classifier.

    ``forward`` computes vocabulary logits only at the masked positions (``labels`` !=
    -100): ~15% of the tokens, which saves most of the decoder's cost.
    """

    def __init__(self, encoder: nn.Module, *, nsp: bool) -> None:
        from transformers.models.bert.modeling_bert import BertPredictionHeadTransform

        super().__init__()
        config = encoder.config
        self.nsp = nsp
        # Without NSP the pooler gets no gradient; the core then drops it (DDP rejects it).
        self.uses_pooler = nsp
        self.predictions = nn.Module()
        self.predictions.transform = BertPredictionHeadTransform(config)
        self.predictions.bias = nn.Parameter(torch.zeros(encoder.get_input_embeddings().num_embeddings))
        self.seq_relationship = nn.Linear(config.hidden_size, 2)  # kept even for MLM only: exported
        # Not a submodule: the encoder's parameters stay registered once, in the encoder.
        object.__setattr__(self, "_encoder", encoder)
        std = getattr(config, "initializer_range", 0.02)
        for module in (self.predictions.transform.dense, self.seq_relationship):
            nn.init.normal_(module.weight, std=std)
            nn.init.zeros_(module.bias)

    def forward(self, encoder_output: Any, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        sequence = _get(encoder_output, "last_hidden_state", 0)
        labels = batch["labels"]
        positions = labels != -100
        hidden = self.predictions.transform(sequence[positions])
        weight = self._encoder.get_input_embeddings().weight  # looked up each time: survives resizing
        out = {
            "mlm_logits": F.linear(hidden, weight, self.predictions.bias),
            "mlm_labels": labels[positions],
            "mlm_rows": positions.nonzero()[:, 0],
        }
        if self.nsp:
            pooled = _get(encoder_output, "pooler_output", 1)
            if pooled is None:
                raise RuntimeError("NSP needs the encoder's pooler (BertModel with add_pooling_layer=True)")
            out["nsp_logits"] = self.seq_relationship(pooled)
        return out

    def loss(self, output: dict[str, torch.Tensor], batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """The masked tokens' cross-entropy, plus NSP's with ``nsp``."""
        logits = output["mlm_logits"]
        if logits.shape[0]:
            loss = F.cross_entropy(logits.float(), output["mlm_labels"])
        else:  # no token selected in this (tiny) batch: a zero that keeps the graph
            loss = logits.sum() * 0.0
        if self.nsp:
            loss = loss + F.cross_entropy(output["nsp_logits"].float(), batch["next_sentence_label"])
        return loss


def _get(output: Any, name: str, index: int) -> Any:
    if hasattr(output, name):
        return getattr(output, name)
    if isinstance(output, dict):
        return output.get(name)
    return output[index]


# -- loading a checkpoint's cls.* weights ---------------------------------------------------

_RENAMES = {".gamma": ".weight", ".beta": ".bias"}  # TF-converted checkpoints


def checkpoint_state(path: str | Path, prefix: str = "cls.") -> dict[str, torch.Tensor]:
    """The tensors of a local checkpoint whose names start with ``prefix`` (safetensors,
    sharded safetensors or ``pytorch_model.bin``); empty when there is none."""
    path = Path(path)
    if not path.is_dir():
        return {}
    files: list[Path] = []
    index = path / "model.safetensors.index.json"
    if (path / "model.safetensors").is_file():
        files = [path / "model.safetensors"]
    elif index.is_file():
        weight_map = json.loads(index.read_text())["weight_map"]
        files = sorted({path / f for k, f in weight_map.items() if k.startswith(prefix)})
    state: dict[str, torch.Tensor] = {}
    if files:
        from safetensors import safe_open

        for file in files:
            with safe_open(str(file), framework="pt") as handle:
                for key in handle.keys():
                    if key.startswith(prefix):
                        state[key] = handle.get_tensor(key)
    elif (path / "pytorch_model.bin").is_file():
        full = torch.load(path / "pytorch_model.bin", map_location="cpu", weights_only=True)
        state = {k: v for k, v in full.items() if k.startswith(prefix)}
    saved = ModelDir(path)
    if not state and saved.head_file.is_file() and _is_pretrain_run(path):
        # An nlpkit pre-training run's model/ folder: the heads are saved beside the encoder.
        from safetensors.torch import load_file

        state = {prefix + k: v for k, v in load_file(str(saved.head_file)).items()}
    for old, new in _RENAMES.items():
        state = {(k[: -len(old)] + new if k.endswith(old) else k): v for k, v in state.items()}
    return state


def _is_pretrain_run(path: Path) -> bool:
    return ModelDir(path).task_name() == "pretrain"


def load_heads(head: PretrainingHeads, path: str | Path | None) -> list[str]:
    """Load ``cls.*`` weights from the checkpoint at ``path`` into ``head``; log what was
    found and what was initialised. Returns the names of the initialised parameters."""
    state = checkpoint_state(path) if path else {}
    own = head.state_dict()
    loaded: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        name = key[len("cls.") :]
        if name == "predictions.decoder.bias":
            name = "predictions.bias"
        if name not in own:
            continue  # decoder.weight: tied to the embeddings, which the encoder loaded
        if name == "predictions.bias" and value.shape != own[name].shape:
            # Vocabulary extended after the checkpoint: new rows start at 0.
            padded = torch.zeros_like(own[name])
            padded[: value.shape[0]] = value[: padded.shape[0]]
            value = padded
        if value.shape == own[name].shape:
            loaded[name] = value
    head.load_state_dict(loaded, strict=False)
    missing = sorted(k for k in own if k not in loaded)
    # INFO: the core's "nlpkit" logger shows it and writes it to the run's train.log.
    if not loaded:
        log.info(
            "pre-training heads: the checkpoint %s has no MLM/NSP head (cls.*): initialised %s",
            path or "(scratch)",
            ", ".join(missing),
        )
    elif missing:
        log.info("pre-training heads: loaded from %s; initialised %s", path, ", ".join(missing))
    else:
        log.info("pre-training heads: loaded from %s", path)
    return missing


# -- export -----------------------------------------------------------------------------


def pretraining_hf_head(encoder: nn.Module, head: PretrainingHeads) -> "HfHead":
    """MLM + NSP as ``BertForPreTraining`` (which ``AutoModelForMaskedLM`` loads too); a
    run without NSP as ``BertForMaskedLM``: its NSP layer and pooler were never trained."""
    from nlpkit.task import HfHead

    transform = head.predictions.transform
    weights = {f"cls.predictions.transform.{k}": v.detach() for k, v in transform.state_dict().items()}
    weights["cls.predictions.bias"] = head.predictions.bias.detach()
    weights["cls.predictions.decoder.weight"] = encoder.get_input_embeddings().weight.detach()  # tied
    weights["cls.predictions.decoder.bias"] = head.predictions.bias.detach()
    if head.nsp:
        weights.update({f"cls.seq_relationship.{k}": v.detach() for k, v in head.seq_relationship.state_dict().items()})

    def compare(nlpkit: Any, batch: Any, output: Any) -> dict[str, Any]:
        # Every position "masked": nlpkit's head scores them all, in order.
        ours = nlpkit({**batch, "labels": batch["input_ids"]})
        theirs = output.prediction_logits if head.nsp else output.logits
        pairs = {"mlm logits": (ours["mlm_logits"], theirs.flatten(0, 1))}
        if head.nsp:
            pairs["nsp logits"] = (ours["nsp_logits"], output.seq_relationship_logits)
        return pairs

    return HfHead(
        architecture="BertForPreTraining" if head.nsp else "BertForMaskedLM",
        auto_class="AutoModelForPreTraining" if head.nsp else "AutoModelForMaskedLM",
        weights=weights,
        compare=compare,
        also_loads=("AutoModelForMaskedLM",) if head.nsp else (),
        pipeline="fill-mask",
    )



def save_checkpoint(encoder: nn.Module, head: PretrainingHeads, tokenizer: Any, directory: str | Path) -> Path:
    """Save encoder + heads as a standard ``BertForPreTraining`` checkpoint (config.json,
    model.safetensors, tokenizer files).

    ``AutoModel``/nlpkit's ``encoder.name`` load its encoder (the ``bert.`` prefix is the
    base model's), fine-tuning heads start fresh, and continued pre-training finds ``cls.*``.
    """
    from transformers import BertForPreTraining

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    config = encoder.config
    config.vocab_size = encoder.get_input_embeddings().num_embeddings
    config.architectures = ["BertForPreTraining"]
    model = BertForPreTraining(config)
    model.bert.load_state_dict(encoder.state_dict())
    model.cls.predictions.transform.load_state_dict(head.predictions.transform.state_dict())
    model.cls.predictions.bias.data.copy_(head.predictions.bias.data)
    model.cls.seq_relationship.load_state_dict(head.seq_relationship.state_dict())
    model.tie_weights()
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory
