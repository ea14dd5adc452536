"""A linear-chain CRF whose transitions forbid the tag scheme's invalid sequences.

Forbidden pairs (``O -> I-PER`` in IOB2, ``B-PER -> O`` in IOBES...) get a fixed score
of ``-10000`` on top of the learned transitions, in training (the partition function
never puts mass on them) and in Viterbi decoding (they are never chosen).
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

FORBIDDEN = -10000.0


class CRF(nn.Module):
    def __init__(
        self,
        num_tags: int,
        allowed: Sequence[Sequence[bool]] | None = None,
        allowed_start: Sequence[bool] | None = None,
        allowed_end: Sequence[bool] | None = None,
    ) -> None:
        super().__init__()
        self.num_tags = num_tags
        self.transitions = nn.Parameter(torch.zeros(num_tags, num_tags))
        self.start = nn.Parameter(torch.zeros(num_tags))
        self.end = nn.Parameter(torch.zeros(num_tags))

        def penalty(ok: Sequence[bool] | Sequence[Sequence[bool]] | None, shape: tuple[int, ...]) -> torch.Tensor:
            if ok is None:
                return torch.zeros(shape)
            return torch.where(torch.tensor(ok, dtype=torch.bool), 0.0, FORBIDDEN).reshape(shape)

        # Buffers, not parameters: constraints are part of the model, never trained.
        self.register_buffer("trans_penalty", penalty(allowed, (num_tags, num_tags)), persistent=False)
        self.register_buffer("start_penalty", penalty(allowed_start, (num_tags,)), persistent=False)
        self.register_buffer("end_penalty", penalty(allowed_end, (num_tags,)), persistent=False)

    def _scores(
        self, first: torch.Tensor | None, last: torch.Tensor | None, batch: int
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Transitions (C, C) and per-row start/end scores (B, C). The start/end
        constraints hold only for rows that begin/end a sentence: a window cut from the
        middle of a long sentence may well open inside an entity."""
        first = torch.ones(batch, dtype=torch.bool, device=self.start.device) if first is None else first.bool()
        last = torch.ones(batch, dtype=torch.bool, device=self.end.device) if last is None else last.bool()
        start = self.start + self.start_penalty * first.unsqueeze(1)
        end = self.end + self.end_penalty * last.unsqueeze(1)
        return self.transitions + self.trans_penalty, start, end

    def nll(
        self,
        emissions: torch.Tensor,
        tags: torch.Tensor,
        mask: torch.Tensor,
        first: torch.Tensor | None = None,
        last: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Summed negative log-likelihood. ``emissions`` (B, T, C); ``tags``/``mask`` (B, T),
        masks left-aligned (every row's real steps come first). Rows with no step count 0.
        ``first``/``last`` (B,): whether a row starts/ends its sentence (default: all)."""
        emissions = emissions.float()
        batch, steps, _ = emissions.shape
        trans, start, end = self._scores(first, last, batch)
        mask = mask.bool()
        if steps == 0:
            return emissions.sum() * 0
        rows = torch.arange(batch, device=emissions.device)
        # Score of the gold path.
        gold = start[rows, tags[:, 0]] + emissions[rows, 0, tags[:, 0]]
        for t in range(1, steps):
            step = trans[tags[:, t - 1], tags[:, t]] + emissions[rows, t, tags[:, t]]
            gold = gold + step * mask[:, t]
        lengths = mask.sum(1)
        gold = gold + end[rows, tags[rows, (lengths - 1).clamp(min=0)]]
        # Log partition function (forward algorithm).
        alpha = start + emissions[:, 0]
        for t in range(1, steps):
            nxt = torch.logsumexp(alpha.unsqueeze(2) + trans + emissions[:, t].unsqueeze(1), dim=1)
            alpha = torch.where(mask[:, t : t + 1], nxt, alpha)
        log_z = torch.logsumexp(alpha + end, dim=1)
        return ((log_z - gold) * (lengths > 0)).sum()

    def viterbi(
        self,
        emissions: torch.Tensor,
        mask: torch.Tensor,
        first: torch.Tensor | None = None,
        last: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Best tag path per row (B, T); steps outside the (left-aligned) mask are 0."""
        emissions = emissions.float()
        batch, steps, _ = emissions.shape
        trans, start, end = self._scores(first, last, batch)
        mask = mask.bool()
        if steps == 0:
            return torch.zeros(batch, 0, dtype=torch.long, device=emissions.device)
        score = start + emissions[:, 0]
        history = []
        for t in range(1, steps):
            total = score.unsqueeze(2) + trans
            best, index = total.max(dim=1)
            nxt = best + emissions[:, t]
            keep = mask[:, t : t + 1]
            score = torch.where(keep, nxt, score)
            # Where the row has ended, carry the tag through unchanged.
            identity = torch.arange(self.num_tags, device=emissions.device).expand_as(index)
            history.append(torch.where(keep, index, identity))
        score = score + end
        best_last = score.argmax(dim=1)
        path = [best_last]
        for index in reversed(history):
            best_last = index.gather(1, best_last.unsqueeze(1)).squeeze(1)
            path.append(best_last)
        path.reverse()
        return torch.stack(path, dim=1) * mask.long()
