"""Tensors that cross a Ray Serve hop travel as raw numpy buffers, not as pickled torch tensors.

Serve pickles every call's arguments and results. A torch tensor pickles its storage through
`torch.save` (an archive per tensor, rebuilt by `torch.load` on the other side); a numpy array
pickles as its bytes. Measured on 2 cores in Serve's throughput mode with the bundled model's STM
(128 KiB fp32; `scripts/serve_hop_cost.py`, CPU over all processes per replica-to-replica call,
400 calls at once): 5.6 ms carrying the tensor, 3.6-4.8 ms carrying an `UpdateJob` packed this
way, 2.2-2.6 ms carrying nothing. The memory updater takes one such call per turn and its answer
carries an STM back; through the service (`rxt bench serve`, 64 sessions, alternated runs) the
packed form raised throughput from 215-218 to 260-268 answer tokens/s.

`TensorsAsNumpy` gives a dataclass that behaviour: its tensor fields (on any device, any
dtype numpy lacks included, e.g. bfloat16) pickle as bytes + dtype + shape and come back as
CPU tensors with the same values, dtype and shape (the receiver moves them to its device).
`copy.copy` / `copy.deepcopy` take the same path, so a copy's tensors are on the CPU too.
"""

from __future__ import annotations

import dataclasses
from typing import Any, NamedTuple

import numpy as np
import torch


class PackedTensor(NamedTuple):
    data: np.ndarray  # uint8, the tensor's bytes in row-major order
    dtype: str  # torch dtype name, e.g. "float32"
    shape: tuple[int, ...]


def pack(t: torch.Tensor) -> PackedTensor:
    flat = t.detach().to("cpu").contiguous().reshape(-1)
    return PackedTensor(flat.view(torch.uint8).numpy(), str(t.dtype).removeprefix("torch."), tuple(t.shape))


def unpack(p: PackedTensor) -> torch.Tensor:
    data = p.data if p.data.flags.writeable else p.data.copy()  # torch wants writable memory
    return torch.from_numpy(data).view(getattr(torch, p.dtype)).reshape(p.shape)


class TensorsAsNumpy:
    """Mixin for dataclasses sent between replicas: tensor fields pickle as `PackedTensor`."""

    def __reduce__(self):
        values = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        packed = {k: pack(v) if isinstance(v, torch.Tensor) else v for k, v in values.items()}
        return _rebuild, (type(self), packed)


def _rebuild(cls: type, values: dict[str, Any]) -> Any:
    return cls(**{k: unpack(v) if isinstance(v, PackedTensor) else v for k, v in values.items()})
