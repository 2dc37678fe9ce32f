"""Which dtype a memory write computes in.

A write is matrix-matrix work (every STM slot against the encoded interaction), so it runs faster
in bf16 wherever the hardware multiplies bf16 natively: CUDA GPUs, and CPUs with avx512_bf16 or
AMX (session 7, AMD EPYC with avx512_bf16: bench-22m update 13.8 -> 9.3 ms, the bundled model's
held-out recall unchanged; docs/benchmarks.md). Elsewhere bf16 is emulated and slower, so "auto"
keeps fp32 there. Decoding is matrix-vector work and is not affected by this setting.

On a CPU the casts to bf16 cost more than they save on small writes: the bundled model (4 x 64
slots x 128) took 5.5 ms in fp32 and 5.8 ms in bf16 for one session, 7.8 vs 7.4 ms for two, 12.1
vs 11.0 ms for four and 58 vs 44 ms for 32 (session 8, 2 threads; 1 thread alike). So "auto" on a
CPU uses bf16 from BF16_MIN_STM_ELEMENTS memory elements per write (batch x layers x slots x dim).

Only the products round to bf16: the STM goes in and comes out in the weights' dtype, and the
gate mixes old and new memory in that dtype, so slots a write leaves alone do not drift.
"""

from __future__ import annotations

import contextlib
from typing import Literal, get_args

import torch

WritePrecision = Literal["auto", "fp32", "bf16"]
WRITE_PRECISIONS: tuple[str, ...] = get_args(WritePrecision)
WriteDtype = Literal["fp32", "bf16"]
WRITE_DTYPES: tuple[str, ...] = get_args(WriteDtype)  # what "auto" resolves to
BF16_MIN_STM_ELEMENTS = 65_536


def has_fast_bf16(device: torch.device) -> bool:
    """True where bf16 matrix products run on hardware: CUDA, or a CPU with avx512_bf16 / AMX."""
    if device.type == "cuda":
        return True
    if device.type != "cpu":
        return False
    capabilities = torch.cpu.get_capabilities()
    return bool(capabilities.get("avx512_bf16") or capabilities.get("amx_bf16"))


def check_write_precision(precision: str) -> None:
    if precision not in WRITE_PRECISIONS:
        raise ValueError(f"write precision must be one of {', '.join(WRITE_PRECISIONS)}; got {precision!r}")


def write_dtype(precision: str, stm: torch.Tensor) -> WriteDtype:
    """What a write of `stm` ([batch, layers, slots, dim]) computes in: "auto" -> "bf16" on CUDA,
    and on a CPU with bf16 hardware for writes of at least BF16_MIN_STM_ELEMENTS; else "fp32"."""
    check_write_precision(precision)
    if precision != "auto":
        return precision  # type: ignore[return-value]
    if not has_fast_bf16(stm.device):
        return "fp32"
    large_enough = stm.device.type != "cpu" or stm.numel() >= BF16_MIN_STM_ELEMENTS
    return "bf16" if large_enough else "fp32"


def write_autocast(precision: str, stm: torch.Tensor) -> contextlib.AbstractContextManager:
    """The context a write of `stm` runs in: bf16 autocast, or none (the weights' dtype)."""
    if write_dtype(precision, stm) == "bf16":
        return torch.autocast(device_type=stm.device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()
