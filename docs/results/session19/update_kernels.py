"""Where a bench-22m memory update's time goes, against what its own kernels take alone.

Profiles batch-1 `update_memory` (32 + 32 tokens, the issue's shapes) with shapes recorded, then
re-times every matrix product and SDPA call of it in isolation at its exact shapes and dtype
(back to back, warm caches, no Python between them). Their sum is what the update's compute
costs on this host without any framework overhead; the rest of the wall time is element-wise
ops, copies and dispatch.

    .venv/bin/python docs/results/session19/update_kernels.py [--threads 2] [--precision bf16|fp32]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections import Counter

import torch
from torch.profiler import ProfilerActivity, profile

from rxt_core import ReactiveTransformer, preset

MATMULS = {"aten::mm", "aten::addmm", "aten::bmm", "aten::_scaled_dot_product_flash_attention_for_cpu"}


def median_ms(fn, repeats: int) -> float:
    for _ in range(3):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)


def kernel(name: str, shapes: list, dtypes: list):
    """A closure running `name` on fresh tensors of the recorded shapes."""
    dtype = {"c10::BFloat16": torch.bfloat16, "float": torch.float32}[dtypes[0]]
    t = [torch.randn(s, dtype=dtype) if s else None for s in shapes]
    if name == "aten::mm":
        return lambda: torch.mm(t[0], t[1])
    if name == "aten::addmm":
        return lambda: torch.addmm(t[0], t[1], t[2])
    if name == "aten::bmm":
        return lambda: torch.bmm(t[0], t[1])
    q, k, v = t[:3]
    return lambda: torch.nn.functional.scaled_dot_product_attention(
        q, k, v, enable_gqa=q.shape[1] != k.shape[1]
    )


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--precision", default="bf16", choices=("bf16", "fp32"))
    p.add_argument("--repeats", type=int, default=50)
    p.add_argument("--out")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = ReactiveTransformer(preset("bench-22m")).eval()
    query = torch.randint(6, model.config.vocab_size, (32,)).tolist()
    answer = torch.randint(6, model.config.vocab_size, (32,)).tolist()
    stm = model.init_memory(1)

    def update():
        model.update_memory(stm, query, answer, args.precision)

    wall = median_ms(update, args.repeats)
    with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as prof:
        update()
    calls = Counter()
    for event in prof.events():
        if event.name in MATMULS:
            dtypes = [d for d in event.input_dtypes if d]
            calls[(event.name, tuple(tuple(s) for s in event.input_shapes), tuple(dtypes))] += 1
    rows, total = [], 0.0
    for (name, shapes, dtypes), count in sorted(calls.items()):
        shapes = [list(s) for s in shapes][: 3 if "attention" in name else len(shapes)]
        ms = median_ms(kernel(name, shapes, list(dtypes)), args.repeats)
        flop = _flops(name, shapes)
        rows.append(
            {
                "op": name,
                "shapes": shapes,
                "dtype": dtypes[0],
                "calls": count,
                "ms_each": ms,
                "gflop_per_s": flop / ms / 1e6,
            }
        )
        total += ms * count
    again = median_ms(update, args.repeats)  # the host drifts: wall time before and after
    print(
        f"update_memory batch 1, {args.precision}, {args.threads} threads: wall {wall:.2f} / {again:.2f} ms "
        f"(before / after); its matrix products and SDPA alone: {total:.2f} ms"
    )
    for r in sorted(rows, key=lambda r: -r["ms_each"] * r["calls"]):
        print(
            f"  {r['op']:<52} {str(r['shapes']):<48} x{r['calls']:<3} {r['ms_each'] * r['calls']:6.2f} ms "
            f"({r['gflop_per_s']:5.0f} GFLOP/s)"
        )
    if args.out:
        with open(args.out, "w") as f:
            json.dump(
                {
                    "precision": args.precision,
                    "threads": args.threads,
                    "wall_ms": [wall, again],
                    "kernels_ms": total,
                    "kernels": rows,
                },
                f,
                indent=1,
            )


def _flops(name: str, shapes: list) -> float:
    if name == "aten::mm":
        (m, k), (_, n) = shapes[:2]
        return 2 * m * k * n
    if name == "aten::addmm":
        (m, k), (_, n) = shapes[1:3]
        return 2 * m * k * n
    if name == "aten::bmm":
        (b, m, k), (_, _, n) = shapes[:2]
        return 2 * b * m * k * n
    (b, h, tq, d), (_, _, tk, _) = shapes[:2]
    return 4 * b * h * tq * tk * d


if __name__ == "__main__":
    main()
