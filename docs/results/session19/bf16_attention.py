"""SDPA vs attention written as two matrix products, in bf16 on this CPU, at the memory update's
three attention shapes (bench-22m, batch 1: memory self/interlayer attention 512 x 512 slots, the
write 512 slots x 67 tokens, the encoder 67 x 67 tokens; 4 query heads, 2 K/V heads, head_dim 32),
alternated arm by arm (the host drifts). Prints the median ms of each.

    .venv/bin/python docs/results/session19/bf16_attention.py [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch
from torch.nn import functional as F

SHAPES = {"slots x slots": (512, 512), "slots x tokens": (512, 67), "tokens x tokens": (67, 67)}


def sdpa(q, k, v, mask):
    return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, enable_gqa=True)


def sdpa_fp32(q, k, v, mask):
    return sdpa(q.float(), k.float(), v.float(), mask).to(q.dtype)


def matmuls(q, k, v, mask):
    group = q.shape[1] // k.shape[1]
    k, v = k.repeat_interleave(group, 1), v.repeat_interleave(group, 1)
    scores = (q * q.shape[-1] ** -0.5) @ k.transpose(-1, -2)
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    return scores.softmax(-1) @ v


def matmuls_fp32_softmax(q, k, v, mask):
    group = q.shape[1] // k.shape[1]
    k, v = k.repeat_interleave(group, 1), v.repeat_interleave(group, 1)
    scores = ((q * q.shape[-1] ** -0.5) @ k.transpose(-1, -2)).float()
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    return scores.softmax(-1).to(v.dtype) @ v


ARMS = {
    "sdpa": sdpa,
    "sdpa_fp32": sdpa_fp32,
    "matmuls": matmuls,
    "matmuls_fp32_softmax": matmuls_fp32_softmax,
}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--rounds", type=int, default=6)
    p.add_argument("--out")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    results = {}
    for name, (tq, tk) in SHAPES.items():
        q = torch.randn(1, 4, tq, 32, dtype=torch.bfloat16)
        k, v = (torch.randn(1, 2, tk, 32, dtype=torch.bfloat16) for _ in range(2))
        mask = None if tk == 512 else torch.ones(1, 1, 1, tk, dtype=torch.bool)
        reference = sdpa_fp32(q, k, v, mask).float()
        times = {arm: [] for arm in ARMS}
        for r in range(args.rounds):
            for arm in list(ARMS) if r % 2 == 0 else list(reversed(ARMS)):
                fn = ARMS[arm]
                for _ in range(3):
                    fn(q, k, v, mask)
                start = time.perf_counter()
                for _ in range(20):
                    fn(q, k, v, mask)
                times[arm].append((time.perf_counter() - start) / 20 * 1e3)
        errors = {arm: float((ARMS[arm](q, k, v, mask).float() - reference).abs().max()) for arm in ARMS}
        results[name] = {
            arm: {"ms": statistics.median(t), "max_abs_error": errors[arm]} for arm, t in times.items()
        }
        row = ", ".join(
            f"{arm} {statistics.median(t):.3f} ms (err {errors[arm]:.1e})" for arm, t in times.items()
        )
        print(f"{name:>16}: {row}")
    if args.out:
        with open(args.out, "w") as f:
            json.dump({"threads": args.threads, "results": results}, f, indent=1)


if __name__ == "__main__":
    main()
