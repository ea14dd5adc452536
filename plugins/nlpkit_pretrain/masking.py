"""Dynamic MLM masking on top of transformers' ``DataCollatorForLanguageModeling``.

What the library does and what this module adds (transformers 5.23):

- token-level masking (select ``p`` of the non-special tokens; 80% ``[MASK]``, 10% random,
  10% unchanged) is the library's ``torch_mask_tokens``, used as is;
- its whole-word masking defines words by *contiguous character offsets* and then forces
  100% ``[MASK]`` (no 80/10/10). We pass offsets synthesised from the tokenizer's own
  ``word_ids()`` (BERT's pre-tokenizer words: ``"don't"`` is three words, as in Google's
  whole-word masking), take its word selection, and run the token-level masker with
  probability 1 over exactly that selection to get the 80/10/10 replacement back;
- reproducible evaluation masks: the library keeps one generator per collator, so masks
  would depend on batch order and size. Here every evaluation row gets its own generator
  seeded from the evaluation seed and the row's token ids.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Sequence

import numpy as np
import torch

if TYPE_CHECKING:  # pragma: no cover
    from transformers import PreTrainedTokenizerBase


def row_seed(eval_seed: int, input_ids: Sequence[int]) -> int:
    """A 63-bit seed from the evaluation seed and a row's (unmasked) token ids."""
    digest = hashlib.blake2b(np.asarray(input_ids, dtype=np.int64).tobytes(), digest_size=8, key=str(eval_seed).encode())
    return int.from_bytes(digest.digest(), "little") & (2**63 - 1)


def word_offsets(word_starts: torch.Tensor) -> torch.Tensor:
    """Fake character offsets ``[batch, seq, 2]`` that are contiguous inside a word and
    leave a one-character gap between words: what the library's whole-word masking reads."""
    positions = torch.arange(word_starts.shape[1]).expand_as(word_starts)
    start = positions + torch.cumsum(word_starts.long(), dim=1)
    return torch.stack([start, start + 1], dim=-1)


class Masker:
    """Selects and replaces tokens for MLM; ``generator=None`` draws from torch's global RNG
    (seeded by the trainer), so training masks change every epoch."""

    def __init__(
        self,
        tokenizer: "PreTrainedTokenizerBase",
        probability: float = 0.15,
        *,
        whole_word: bool = False,
        mask_replace_prob: float = 0.8,
        random_replace_prob: float = 0.1,
    ) -> None:
        from transformers import DataCollatorForLanguageModeling

        self.whole_word = whole_word
        self.tokens = DataCollatorForLanguageModeling(
            tokenizer,
            mlm_probability=probability,
            mask_replace_prob=mask_replace_prob,
            random_replace_prob=random_replace_prob,
        )
        # 80/10/10 over a given selection: select everything not excluded, with probability 1.
        self.replace = DataCollatorForLanguageModeling(
            tokenizer, mlm_probability=1.0, mask_replace_prob=mask_replace_prob, random_replace_prob=random_replace_prob
        )
        # Selection only (mask_replace_prob=1 avoids the library's "not supported" warning).
        self.words = DataCollatorForLanguageModeling(
            tokenizer, whole_word_mask=True, mlm_probability=probability, mask_replace_prob=1.0, random_replace_prob=0.0
        )

    def __call__(
        self,
        input_ids: torch.Tensor,
        special_tokens_mask: torch.Tensor,
        word_starts: torch.Tensor | None = None,
        generator: torch.Generator | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Masked ``input_ids`` and ``labels`` (-100 where not selected). Inputs are not modified.

        ``special_tokens_mask`` is 1 for tokens never to mask (specials and padding);
        ``word_starts`` is 1 on the first piece of each word (needed for whole words).
        """
        special = special_tokens_mask.bool()
        if not self.whole_word:
            self.tokens.generator = generator  # public attribute: the collator's RNG
            return self.tokens.torch_mask_tokens(input_ids.clone(), special_tokens_mask=special)
        if word_starts is None:
            raise ValueError("whole-word masking needs word_starts")
        self.words.generator = generator
        _, selection = self.words.torch_mask_tokens(
            input_ids.clone(), special_tokens_mask=special.long(), offset_mapping=word_offsets(word_starts)
        )
        selected = selection != -100
        self.replace.generator = generator
        return self.replace.torch_mask_tokens(input_ids.clone(), special_tokens_mask=~selected)

    def reproducible(
        self,
        input_ids: torch.Tensor,
        special_tokens_mask: torch.Tensor,
        word_starts: torch.Tensor | None,
        lengths: Sequence[int],
        eval_seed: int,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Masks that depend only on ``eval_seed`` and each row's own tokens (not on the
        batch it sits in): the same text gets the same masks in every evaluation."""
        ids = input_ids.clone()
        labels = torch.full_like(input_ids, -100)
        for i, n in enumerate(lengths):
            row = input_ids[i : i + 1, :n]
            gen = torch.Generator().manual_seed(row_seed(eval_seed, row[0].tolist()))
            starts = word_starts[i : i + 1, :n] if word_starts is not None else None
            ids[i : i + 1, :n], labels[i : i + 1, :n] = self(row, special_tokens_mask[i : i + 1, :n], starts, gen)
        return ids, labels
