"""What the memory pointer learns directly (stage 4's `pointer_weight`, session 25): at an answer
token recalled from an earlier turn (copy_targets.stated_values: a stated value, not a word of
every turn) whose id a filled slot holds, -log of the pointer's own probability of that id.

Why a loss of its own: the mixed output's loss reaches the pointer only through its gate, which
starts nearly shut (g ≈ 0.02 so a trained model continues as it was). Continued 100 steps from
the bundled model on that loss alone, the gate closed further (0.006 at answer tokens) and the
pointer's top slot held the recalled token 18% of the time: a pointer that is mostly wrong is
better shut, so it never gets the practice to be right. Supervised for itself, the pointer
learns where values are, and the gate can then learn when to trust it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch

from ..model import ReactiveTransformer
from .batching import TokenBatch


@contextlib.contextmanager
def recording_pointer(model: ReactiveTransformer) -> Iterator[dict]:
    """Inside the block, the dict holds the latest pointer output: "copy" [B, T, V] and the slot
    "ids" [B, S] it pointed into."""
    if model.pointer is None:
        raise ValueError("pointer supervision needs the memory pointer (memory_pointer=true)")
    latest: dict = {}
    hook = model.pointer.slots.register_forward_hook(
        lambda _module, args, out: latest.update(copy=out, ids=args[2][1])
    )
    try:
        yield latest
    finally:
        hook.remove()


def pointer_loss(
    copy: torch.Tensor, slot_ids: torch.Tensor, batch: TokenBatch, recalled: torch.Tensor
) -> tuple[torch.Tensor, int, int]:
    """Summed -log p_pointer(target) over the `recalled` targets [B, T - 1] of `batch` whose id a
    slot holds; how many those are, and at how many the pointer's most likely token is the target."""
    target = batch.ids[:, 1:]
    held = (slot_ids[:, None, :] == target[..., None]).any(-1)  # [B, T - 1]
    supervised = recalled & held
    chance = copy[:, :-1].gather(-1, target[..., None])[..., 0][supervised]
    top = copy[:, :-1].argmax(-1)[supervised] == target[supervised]
    return -chance.clamp_min(1e-30).log().sum(), int(supervised.sum()), int(top.sum())
