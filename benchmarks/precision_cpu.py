"""fp32 against bf16 autocast on this CPU: matrix products and a MiniLM training step.

    python benchmarks/precision_cpu.py

`train.precision: auto` picks bf16 only where the hardware has bf16 matrix units
(AVX512-BF16 or AMX on CPUs, bf16-capable CUDA GPUs); this script shows why.
"""

from __future__ import annotations

import os
import statistics
import time

import torch

os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")


def matmul_gflops(dtype: torch.dtype, n: int = 1024, repeats: int = 3) -> float:
    a, b = torch.randn(n, n).to(dtype), torch.randn(n, n).to(dtype)
    a @ b
    started = time.perf_counter()
    for _ in range(repeats):
        a @ b
    return 2 * n**3 * repeats / (time.perf_counter() - started) / 1e9


def train_step_seconds(bf16: bool, model: torch.nn.Module, rounds: int = 3) -> float:
    ids = torch.randint(1000, 2000, (32, 64))
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            hidden = model(input_ids=ids, attention_mask=torch.ones_like(ids)).last_hidden_state
        hidden.float().mean().backward()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    from transformers import AutoModel

    from nlpkit.encoders import minilm_path
    from nlpkit.precision import resolve_precision

    print(f"torch {torch.__version__}, CPU capability {torch.backends.cpu.get_cpu_capability()}, "
          f"{torch.get_num_threads()} threads; precision auto -> {resolve_precision('auto')}")
    fp32, bf16 = matmul_gflops(torch.float32), matmul_gflops(torch.bfloat16)
    print(f"1024x1024 matmul: fp32 {fp32:.1f} GFLOP/s, bf16 {bf16:.2f} GFLOP/s (bf16 / fp32: {bf16 / fp32:.2f}x)")
    model = AutoModel.from_pretrained(minilm_path()).train()
    step32 = train_step_seconds(False, model)
    step16 = train_step_seconds(True, model)
    print(f"MiniLM training step, batch 32 x 64 tokens: fp32 {step32:.2f} s, bf16 autocast {step16:.2f} s "
          f"(bf16 speed-up: {step32 / step16:.2f}x)")


if __name__ == "__main__":
    main()
