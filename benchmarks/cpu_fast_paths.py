"""The three CPU fast paths of nlpkit/cpu.py, each against the standard kernel.

Prints, on this machine:
1. a fresh 47 MB tensor (the dense gradient of MiniLM's word embeddings) per step, with
   glibc's defaults and with ``keep_freed_memory()`` (run in two child processes, since
   the setting is process-wide);
2. one attention layer (batch 32, 12 heads of 32, bf16 autocast), forward + backward in
   training with dropout 0.1 and forward alone in inference, torch's fused kernel
   (``scaled_dot_product_attention``) against ``nlpkit.cpu.attention``;
3. dropout on a batch of hidden states: ``nn.functional.dropout`` against
   ``nlpkit.cpu.dropout``.

    python benchmarks/cpu_fast_paths.py
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from typing import Callable

import torch
import torch.nn.functional as F


def median_ms(fn: Callable[[], object], repeat: int) -> float:
    fn()  # warm-up: kernel selection, first allocations
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def allocation(keep: bool) -> float:
    from nlpkit.cpu import keep_freed_memory

    if keep:
        assert keep_freed_memory(), "no glibc here"
    return median_ms(lambda: torch.zeros(30522, 384), 50)


def attention_rows() -> None:
    from torch import nn

    from nlpkit.cpu import attention

    module = nn.Module()
    print("\nattention layer, batch 32, 12 heads x 32, bf16; ms (fused kernel / nlpkit)")
    for length in (16, 64, 128, 384):
        q, k, v = (torch.randn(32, 12, length, 32, dtype=torch.bfloat16, requires_grad=True) for _ in range(3))
        lengths = torch.randint(length // 2, length + 1, (32,))
        mask = (torch.arange(length)[None, :] < lengths[:, None])[:, None, None, :]
        repeat = 3 if length >= 384 else 10

        def fused_train() -> None:
            F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=0.1).sum().backward()

        def ours_train() -> None:
            attention(module.train(), q, k, v, mask, dropout=0.1)[0].sum().backward()

        def fused_infer() -> None:
            with torch.no_grad():
                F.scaled_dot_product_attention(q, k, v, attn_mask=mask)

        def ours_infer() -> None:
            with torch.no_grad():
                attention(module.eval(), q, k, v, mask)

        train = median_ms(fused_train, repeat), median_ms(ours_train, repeat)
        infer = median_ms(fused_infer, repeat), median_ms(ours_infer, repeat)
        print(f"length {length:3d}: training {train[0]:7.1f} / {train[1]:7.1f} ({train[0] / train[1]:.2f}x)"
              f"   inference {infer[0]:6.1f} / {infer[1]:6.1f} ({infer[0] / infer[1]:.2f}x)")


def dropout_row() -> None:
    from nlpkit.cpu import dropout

    x = torch.randn(32, 16, 384, dtype=torch.bfloat16)
    standard = median_ms(lambda: F.dropout(x, 0.1, training=True), 200)
    ours = median_ms(lambda: dropout(x, 0.1), 200)
    print(f"\ndropout 0.1 on 32 x 16 x 384 bf16 states: torch {standard:.2f} ms, nlpkit {ours:.2f} ms"
          f" ({standard / ours:.2f}x)")


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--allocation":
        print(allocation(sys.argv[2] == "keep"))
        return
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    child = [sys.executable, __file__, "--allocation"]
    default = float(subprocess.run([*child, "default"], check=True, capture_output=True, text=True).stdout)
    kept = float(subprocess.run([*child, "keep"], check=True, capture_output=True, text=True).stdout)
    print(f"a fresh 30522 x 384 fp32 tensor: glibc defaults {default:.2f} ms, keep_freed_memory {kept:.2f} ms"
          f" ({default / kept:.1f}x)")
    attention_rows()
    dropout_row()


if __name__ == "__main__":
    main()
