"""How far apart the embedding rows of added tokens are in finished runs.

Rows that all start at the old rows' mean (transformers' resizing) and train at the
encoder's learning rate stay nearly one vector through a short fine-tuning: the encoder
cannot tell the new tokens apart. This prints, per run directory, the mean norm of the old
and of the added rows and the mean cosine between two different added rows.

    python benchmarks/new_token_rows.py runs/peoples-daily runs/peoples-daily-mean

The added rows are those past the encoder's own vocabulary (``--old-rows``, 30,522 for the
default encoder).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
from transformers import AutoModel

from nlpkit.encoder import quiet_transformers
from nlpkit.rundir import model_dir


def row_stats(run: Path, old_rows: int) -> tuple[float, float, float, int]:
    """Old rows' mean norm, added rows' mean norm, their mean pairwise cosine, their count."""
    table = AutoModel.from_pretrained(model_dir(run).path).get_input_embeddings().weight.detach().float()
    old, new = table[:old_rows], table[old_rows:]
    unit = torch.nn.functional.normalize(new, dim=1)
    cosine = (unit @ unit.T)[~torch.eye(len(new), dtype=torch.bool)].mean()
    return old.norm(dim=1).mean().item(), new.norm(dim=1).mean().item(), cosine.item(), len(new)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path)
    parser.add_argument("--old-rows", type=int, default=30522)
    args = parser.parse_args()
    quiet_transformers()
    for run in args.runs:
        old, new, cosine, count = row_stats(run, args.old_rows)
        print(f"{run}: {count} added rows, mean norm {new:.3f} (old rows {old:.3f}), mean pairwise cosine {cosine:.3f}")


if __name__ == "__main__":
    main()
