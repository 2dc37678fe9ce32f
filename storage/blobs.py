"""STM tensor <-> stored blob, with the integrity checks that make a bad blob a clear error.

The checksum is CRC-32 (zlib): it exists to catch truncation and bit rot, not tampering, and is
twice as fast as SHA-256 on a 3 MiB snapshot (about 1 ms against 2 ms here), which matters on a
path with a 2 ms budget. It is stored as `crc32:<hex>` so another algorithm can follow.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import torch

from rxt_core.stm_codec import decode_stm, encode_stm
from storage.errors import CorruptSnapshotError, InvalidArgumentError

DTYPES: dict[str, torch.dtype] = {
    "float32": torch.float32,
    "float16": torch.float16,
    "bfloat16": torch.bfloat16,
}
DTYPE_NAMES = {dtype: name for name, dtype in DTYPES.items()}


def checksum(data: bytes) -> str:
    return f"crc32:{zlib.crc32(data):08x}"


@dataclass(frozen=True, slots=True)
class EncodedStm:
    data: bytes
    shape: tuple[int, ...]
    dtype: str
    checksum: str


def encode(stm: torch.Tensor, dtype: str | None = None) -> EncodedStm:
    """Validate one session's STM ([layers, slots, dim], floating point) and serialise it."""
    if not isinstance(stm, torch.Tensor):
        raise InvalidArgumentError(f"an STM must be a torch.Tensor, got {type(stm).__name__}")
    if stm.dim() != 3:
        raise InvalidArgumentError(
            f"an STM has shape [layers, slots, dim]; got {list(stm.shape)} "
            "(select one session of a batched [batch, layers, slots, dim] tensor first)"
        )
    target = stm.dtype if dtype is None else DTYPES.get(dtype)
    if target not in DTYPE_NAMES:
        raise InvalidArgumentError(f"cannot store an STM as {dtype or stm.dtype}; use one of {list(DTYPES)}")
    data = encode_stm(stm, target)
    return EncodedStm(data=data, shape=tuple(stm.shape), dtype=DTYPE_NAMES[target], checksum=checksum(data))


def decode(
    data: bytes | None,
    *,
    shape: tuple[int, ...],
    dtype: str,
    expected_checksum: str,
    label: str,
    device: torch.device | str = "cpu",
) -> torch.Tensor:
    """Verify and decode a stored blob; `label` names the snapshot in the error message."""
    if data is None:
        raise CorruptSnapshotError(f"{label}: the stored blob is missing")
    actual = checksum(data)
    if actual != expected_checksum:
        raise CorruptSnapshotError(
            f"{label}: checksum mismatch (stored {expected_checksum}, computed {actual} over "
            f"{len(data)} bytes); the blob is truncated or corrupted, refusing to load it"
        )
    try:
        stm = decode_stm(data, device=device)
    except ValueError as exc:
        raise CorruptSnapshotError(f"{label}: {exc}") from exc
    if tuple(stm.shape) != shape or DTYPE_NAMES.get(stm.dtype) != dtype:
        raise CorruptSnapshotError(
            f"{label}: blob holds {DTYPE_NAMES.get(stm.dtype, stm.dtype)}{list(stm.shape)}, "
            f"but the snapshot row says {dtype}{list(shape)}"
        )
    return stm
