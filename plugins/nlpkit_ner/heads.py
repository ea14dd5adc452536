"""The token-classification head: dropout + linear over the encoder's hidden states,
optionally followed by a constrained CRF."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from nlpkit_ner.crf import CRF

IGNORE_INDEX = -100


def hidden_states(encoder_output: Any) -> torch.Tensor:
    if isinstance(encoder_output, torch.Tensor):
        return encoder_output
    state = getattr(encoder_output, "last_hidden_state", None)
    return state if state is not None else encoder_output[0]


def compact(mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Order that moves each row's masked positions to the front (stable), and the
    compacted mask: the CRF then runs over labelled positions only (first pieces), so
    its transitions link consecutive words, not a word and its continuation pieces."""
    order = torch.argsort((~mask).to(torch.int8), dim=1, stable=True)
    width = int(mask.sum(1).max().item()) if mask.numel() else 0
    order = order[:, :width]
    return order, mask.gather(1, order)


class TokenClassifier(nn.Module):
    """``forward(encoder_output, batch)`` -> ``{"logits": (B, T, C)}``; with a CRF also
    ``"crf_nll"`` (training, labels given: the loss needs the CRF's parameters, which
    only the head holds) or ``"tags"`` (eval: the Viterbi path at labelled positions,
    -1 elsewhere)."""

    def __init__(self, hidden_size: int, num_tags: int, dropout: float, crf: CRF | None = None) -> None:
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(hidden_size, num_tags)
        self.crf = crf

    def forward(self, encoder_output: Any, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        return self.finish(self.graph_forward(encoder_output, batch), batch)

    def graph_forward(self, encoder_output: Any, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """The emissions: a fixed tensor graph (what an ONNX export holds)."""
        return {"logits": self.classifier(self.dropout(hidden_states(encoder_output)))}

    def finish(self, out: dict[str, torch.Tensor], batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """The CRF's part, run in Python: its Viterbi loop is as long as the sentence."""
        if self.crf is None:
            return out
        logits = out["logits"]
        mask = batch["label_mask"] > 0  # padded with -100 by pad_features
        order, cmask = compact(mask)
        emissions = logits.gather(1, order.unsqueeze(-1).expand(-1, -1, logits.shape[-1]))
        if self.training and "labels" in batch:
            tags = batch["labels"].gather(1, order)
            tags = torch.where(tags < 0, torch.zeros_like(tags), tags)  # unseen types -> O
            # Per labelled token, like the cross-entropy, so learning rates carry over.
            nll = self.crf.nll(emissions, tags, cmask, batch.get("first_window"), batch.get("last_window"))
            out["crf_nll"] = nll / cmask.sum().clamp(min=1)
        elif not self.training:
            path = self.crf.viterbi(emissions, cmask, batch.get("first_window"), batch.get("last_window"))
            tags = torch.full(mask.shape, -1, dtype=torch.long, device=logits.device)
            tags.scatter_(1, order, torch.where(cmask, path, torch.full_like(path, -1)))
            out["tags"] = tags
        return out

    def loss(self, output: dict[str, torch.Tensor], batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """The CRF's negative log-likelihood, or the cross-entropy of the labelled pieces."""
        if "crf_nll" in output:
            return output["crf_nll"]
        logits = output["logits"].float()
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), batch["labels"].reshape(-1), ignore_index=IGNORE_INDEX)


def choose(output: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Per token: the chosen tag id (Viterbi's where a CRF decoded, else the arg-max) and
    its softmax probability (the confidence reported with entities)."""
    probs = torch.softmax(output["logits"].float(), dim=-1)
    best = probs.argmax(dim=-1)
    if "tags" in output:
        best = torch.where(output["tags"] >= 0, output["tags"], best)
    return {"tag": best, "score": probs.gather(-1, best.unsqueeze(-1)).squeeze(-1)}
