"""Which dtype a memory write computes in.

A write is matrix-matrix work (every STM slot against the encoded interaction), so it runs faster
in bf16 wherever the hardware multiplies bf16 natively: CUDA GPUs, and CPUs with avx512_bf16 or
AMX (session 7, AMD EPYC with avx512_bf16: bench-22m update 13.8 -> 9.3 ms, the bundled model's
held-out recall unchanged; docs/benchmarks.md). Elsewhere bf16 is emulated and slower, so "auto"
keeps fp32 there. Decoding is matrix-vector work and is not affected by this setting.

Only the products round to bf16: the STM goes in and comes out in the weights' dtype, and the
gate mixes old and new memory in that dtype, so slots a write leaves alone do not drift.
"""

from __future__ import annotations

import contextlib
from typing import Literal, get_args

import torch

WritePrecision = Literal["auto", "fp32", "bf16"]
WRITE_PRECISIONS: tuple[str, ...] = get_args(WritePrecision)


def has_fast_bf16(device: torch.device) -> bool:
    """True where bf16 matrix products run on hardware: CUDA, or a CPU with avx512_bf16 / AMX."""
    if device.type == "cuda":
        return True
    if device.type != "cpu":
        return False
    capabilities = torch.cpu.get_capabilities()
    return bool(capabilities.get("avx512_bf16") or capabilities.get("amx_bf16"))


def resolve_write_precision(precision: str, device: torch.device) -> Literal["fp32", "bf16"]:
    """ "auto" -> "bf16" where it is fast on `device`, else "fp32"; the others as given."""
    if precision not in WRITE_PRECISIONS:
        raise ValueError(f"write precision must be one of {', '.join(WRITE_PRECISIONS)}; got {precision!r}")
    if precision == "auto":
        return "bf16" if has_fast_bf16(device) else "fp32"
    return precision  # type: ignore[return-value]


def write_autocast(precision: str, device: torch.device) -> contextlib.AbstractContextManager:
    """The context a memory write runs in: bf16 autocast, or none (the weights' dtype)."""
    if resolve_write_precision(precision, device) == "bf16":
        return torch.autocast(device_type=device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()
