"""Pre-training throughput (tokens/s) in fp32 and bf16 autocast, same batches.

Times optimizer steps of ``task: pretrain`` (MLM + NSP: encoder, tied MLM decoder on the
masked positions, NSP head, AdamW) on WikiText-2 sequences, through the plugin's own
encode/collate/head/loss. Prints one line per precision and the speed-up.

    python benchmarks/pretrain_throughput.py                       # MiniLM, 20 steps each
    python benchmarks/pretrain_throughput.py --encoder PATH --steps 50 --batch-size 32

Tokens/s counts real (non-padding) tokens of the input sequences. Not run by CI.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import time
from pathlib import Path

os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--encoder", default="minilm", help="alias, path or hub id (default: minilm)")
    parser.add_argument("--data", default=os.path.join(os.environ.get("NLPKIT_DATA", "../shared/data"), "wikitext2", "wiki.test.raw"))
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--steps", type=int, default=20, help="timed steps per precision")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps per precision")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    args = parser.parse_args()

    import torch
    from transformers import AutoModel, AutoTokenizer

    from nlpkit.data import collate
    from nlpkit.encoder import quiet_transformers
    from nlpkit.model import TaskModel
    from nlpkit.plugins import get_task, resolve_encoder
    from nlpkit.recipe import load_recipe
    from nlpkit.task import Counts, TaskSettings

    quiet_transformers()
    if args.threads:
        torch.set_num_threads(args.threads)
    recipe = load_recipe(
        {
            "task": "pretrain",
            "encoder": {"name": args.encoder, "max_length": args.max_length},
            "data": {"train": args.data},
            "head": {"objectives": ["mlm", "nsp"]},
        }
    )
    task = get_task("pretrain")(TaskSettings.of(recipe))
    source = resolve_encoder(args.encoder)
    tokenizer = AutoTokenizer.from_pretrained(source)
    documents = task.read(Path(args.data), "train")
    features = task.encode(documents, tokenizer, training=True, counts=Counts())
    needed = (args.steps + args.warmup) * args.batch_size
    features = (features * (needed // max(len(features), 1) + 1))[:needed]
    batches = [collate(task, features[i : i + args.batch_size], tokenizer, training=True) for i in range(0, needed, args.batch_size)]
    device = "cuda" if torch.cuda.is_available() else "cpu"
    print(f"encoder {args.encoder}, device {device}, {torch.get_num_threads()} threads, batch {args.batch_size}, length <= {args.max_length}")

    results = {}
    for precision in ("fp32", "bf16"):
        torch.manual_seed(0)
        encoder = AutoModel.from_pretrained(source)
        model = TaskModel(encoder, task.build_head(encoder)).to(device).train()
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-5)
        autocast = torch.autocast(device, dtype=torch.bfloat16) if precision == "bf16" else contextlib.nullcontext()
        tokens, seconds = 0, 0.0
        for step, batch in enumerate(batches):
            batch = {k: v.to(device) for k, v in batch.items()}
            start = time.perf_counter()
            with autocast:
                loss = model.head.loss(model(batch), batch)
            loss.backward()
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            if device == "cuda":
                torch.cuda.synchronize()
            if step >= args.warmup:
                seconds += time.perf_counter() - start
                tokens += int(batch["attention_mask"].sum())
        results[precision] = tokens / seconds
        print(f"{precision}: {results[precision]:,.0f} tokens/s ({args.steps} steps, {seconds:.1f} s, last loss {float(loss.detach()):.3f})")
    print(f"bf16 / fp32: {results['bf16'] / results['fp32']:.2f}x")


if __name__ == "__main__":
    main()
