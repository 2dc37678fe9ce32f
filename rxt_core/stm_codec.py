"""Short-Term Memory tensor <-> bytes, in the safetensors format.

Why safetensors: the format is a length-prefixed JSON header (dtype, shape, offsets) followed by
the raw little-endian tensor bytes, so a blob is self-describing, readable from any language and
cannot execute code when loaded (unlike pickle). One blob holds exactly one tensor named `stm`.

Half precision (`float16` / `bfloat16`) halves the bytes per snapshot; the caller decides
whether that rounding error is acceptable (`rxt bench storage` measures it).
"""

from __future__ import annotations

import torch
from safetensors import SafetensorError
from safetensors.torch import load, save

TENSOR_NAME = "stm"
STORAGE_DTYPES: frozenset[torch.dtype] = frozenset({torch.float32, torch.float16, torch.bfloat16})


def encode_stm(t: torch.Tensor, dtype: torch.dtype | None = None) -> bytes:
    """Serialise one STM tensor, optionally cast to `dtype` (fp32, fp16 or bf16) first."""
    target = t.dtype if dtype is None else dtype
    if target not in STORAGE_DTYPES:
        raise ValueError(f"cannot store an STM as {target}; use one of float32, float16, bfloat16")
    cpu = t.detach().to(device="cpu", dtype=target).contiguous()
    return save({TENSOR_NAME: cpu})


def decode_stm(b: bytes, device: torch.device | str = "cpu") -> torch.Tensor:
    """Parse a blob written by `encode_stm`; raises ValueError if it is not one."""
    try:
        tensors = load(bytes(b))
    except SafetensorError as exc:
        raise ValueError(f"not a valid safetensors STM blob ({len(b)} bytes): {exc}") from exc
    if set(tensors) != {TENSOR_NAME}:
        raise ValueError(f"an STM blob holds exactly one tensor {TENSOR_NAME!r}, found {sorted(tensors)}")
    return tensors[TENSOR_NAME].to(device)
