"""How long a memory write lasts: the share of what turn k wrote that the STM still holds d turns
later. A diagnostic printed by `rxt eval`.

With a sigmoid residual gate every STM entry moves as STM_t = K_t * STM_{t-1} + (1 - K_t) * U_t,
where the keep factor K_t = 1 - G_t (times 1 - G_pre of the pre-step in the self / interlayer
variants). Of what turn k wrote (weight 1 - K_k) the part (1 - K_k) * K_{k+1} * ... * K_{k+d} is
left d turns later; summed over entries and divided by the sum of 1 - K_k, that is the share of
turn k's write still in memory: whatever the decoder recalls of turn k at distance d, it reads
from that share. (Session 6, bundled model, held-out dialogues: 30% after 1 turn, 15% after 4,
11% after 8: the memory overwrites most of a write at the very next turn, and recall fell
fastest there too.) Sigmoid gates only: a tanh gate does not mix. In the self
/ interlayer variants the pre-step also moves content between slots, which this counts as lost:
there it is a lower bound.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import torch
from torch import nn

from ..config import RxTConfig
from ..model import ReactiveTransformer
from .batching import TokenDialogue, turn_batch


@dataclass
class WriteRetention:
    """`mean_write`: the mean write weight 1 - K of an entry per update (how much of the memory a
    turn rewrites); `share_left[d]`: the share of a turn's write left d turns later. Their product
    is how much of the memory still holds turn k's content at distance d: session 6's overlap
    penalty raised the share 2.5x by writing 4x less per turn, and recall stayed where it was."""

    mean_write: float
    share_left: dict[int, float]

    def as_dict(self) -> dict:
        return {"mean_write": self.mean_write, "share_left": self.share_left}


def writes_are_convex(config: RxTConfig) -> bool:
    """Whether every step that writes into the STM is a convex mix (what the shares assume): the
    slot write always is; residual gates are with the sigmoid activation; the keep write moves
    slots instead of mixing them, so it has no write weights at all."""
    if config.memory_write == "keep":
        return False
    uses_residual_gates = config.memory_write == "gated" or config.memory_attention != "simple"
    return config.gate.activation == "sigmoid" or not uses_residual_gates


@torch.inference_mode()
def write_retention(
    model: ReactiveTransformer,
    dialogues: Sequence[TokenDialogue],
    max_distance: int = 16,
    batch_size: int = 32,
) -> WriteRetention:
    """The write weights of every update and what is left of them at each distance, over every
    turn with a turn d later, teacher-forced on the reference interactions."""
    if not writes_are_convex(model.config):
        raise ValueError("write retention is defined for sigmoid gates (a convex mix) only")
    was_training = model.training
    model.eval()
    kept = torch.zeros(max_distance + 1, dtype=torch.float64)
    written = torch.zeros(max_distance + 1, dtype=torch.float64)
    write_sum, write_count = 0.0, 0
    for start in range(0, len(dialogues), batch_size):
        keeps, present = _keep_factors(model, dialogues[start : start + batch_size])
        for k in range(len(keeps)):
            write = 1 - keeps[k]
            write_sum += float(write[present[k]].sum(dtype=torch.float64))
            write_count += write[present[k]].numel()
            share = write
            for d in range(1, min(max_distance, len(keeps) - 1 - k) + 1):
                share = share * keeps[k + d]
                rows = present[k + d]  # dialogues still going at turn k + d (and so at k)
                kept[d] += share[rows].sum(dtype=torch.float64).cpu()
                written[d] += write[rows].sum(dtype=torch.float64).cpu()
    model.train(was_training)
    shares = {d: float(kept[d] / written[d]) for d in range(1, max_distance + 1) if written[d] > 0}
    return WriteRetention(write_sum / max(1, write_count), shares)


def _keep_factors(
    model: ReactiveTransformer, dialogues: Sequence[TokenDialogue]
) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """Per turn: the keep factor K of every STM entry, [B, layers, slots, dim], and which rows
    had that turn."""
    keeps, present = [], []
    with recording_writes(model) as writes:
        stm = model.init_memory(len(dialogues))
        for t in range(max(len(d) for d in dialogues)):
            batch = turn_batch(dialogues, t, model.config)
            batch = batch.to(model.device)
            new = model.write_memory(stm, batch.ids, batch.mask)
            keeps.append(1 - writes.pop().float())
            present.append(batch.present)
            stm = batch.written(new, stm)
    return keeps, present


@contextmanager
def recording_writes(model: ReactiveTransformer) -> Iterator[list[torch.Tensor]]:
    """Inside the block, each `write_memory` call appends its write weights 1 - K,
    [B, layers, slots, dim], to the yielded list (differentiable: stage 4's overlap loss uses
    them). K multiplies the (1 - G) of every gate that writes into an STM layer."""
    layers = model.memory_attention.layers
    factors: list[torch.Tensor | None] = [None] * len(layers)
    writes: list[torch.Tensor] = []

    def recorder(i: int, last: bool):
        def record(gate: nn.Module, args: tuple, _output) -> None:
            keep = (1 - gate.write_weight(*args)).expand_as(args[0])
            factors[i] = keep if factors[i] is None else factors[i] * keep
            if last and i == len(layers) - 1:  # the final gate of the last layer: the write is done
                writes.append(1 - torch.stack(factors, dim=1))
                factors[:] = [None] * len(layers)

        return record

    hooks = []
    for i, layer in enumerate(layers):
        if getattr(layer, "pre_gate", None) is not None:
            hooks.append(layer.pre_gate.register_forward_hook(recorder(i, last=False)))
        hooks.append(layer.write_gate.register_forward_hook(recorder(i, last=True)))
    try:
        yield writes
    finally:
        for hook in hooks:
            hook.remove()
