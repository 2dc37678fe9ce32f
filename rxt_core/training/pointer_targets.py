"""What the memory pointer learns directly (stage 4's `pointer_weight`, session 25), at every
answer token:
- where to point: at a token recalled from an earlier turn (copy_targets.stated_values: a stated
  value, not a word of every turn) — and, when the pointer reads the query, at a token copied from
  the turn's own query that no earlier turn held (`pointed_values`) — whose id a filled slot
  holds, -log of the pointer's own probability of that id;
- when to copy: the gate's logit, by binary cross-entropy, towards "this token is such a value"
  (`gate_target="values"`) or towards how much more surely the pointer says the token than the
  vocabulary head does (`"better"`, `better_than_head`).

Why a loss of its own: the mixed output's loss reaches the pointer only through its gate, which
starts nearly shut (g ≈ 0.02 so a trained model continues as it was). Continued 100 steps from
the bundled model on that loss alone, the gate closed further (0.006 at answer tokens) and the
pointer's top slot held the recalled token 18% of the time: a pointer that is mostly wrong is
better shut, so it never gets the practice to be right. A pointer that starts from the vocabulary
head's logits is right from the start (95% of held values), but its gate, trained through the
mixture alone, still barely moved in 75 steps (0.018 -> 0.020 at recalled tokens, 0.013
elsewhere): the sigmoid's slope at g ≈ 0.02 leaves it little gradient. So the gate is told too
(and learns faster, memory_pointer.CopyGate).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
from torch.nn import functional as F

from ..model import ReactiveTransformer
from .batching import TokenBatch
from .copy_targets import RecallSources, copied_targets, stated_values


@contextlib.contextmanager
def recording_pointer(model: ReactiveTransformer) -> Iterator[dict]:
    """Inside the block, the dict holds the latest pointer output: "copy" [B, T, V], the slot
    "ids" [B, S] it pointed into, the vocabulary "head" logits [B, T, V] it read and the "gate"
    logits [B, T]."""
    if model.pointer is None:
        raise ValueError("pointer supervision needs the memory pointer (memory_pointer=true)")
    latest: dict = {}
    hooks = [
        model.pointer.slots.register_forward_hook(
            lambda _m, args, out: latest.update(copy=out[0], head=args[1], ids=args[2][1])
        ),
        model.pointer.gate.register_forward_hook(lambda _m, _args, out: latest.update(gate=out)),
    ]
    try:
        yield latest
    finally:
        for hook in hooks:
            hook.remove()


def pointed_values(sources: list[RecallSources], batches: list[TokenBatch], config) -> list[torch.Tensor]:
    """Per turn, [B, T - 1]: the answer targets the pointer is taught to copy. The recalled values
    (copy_targets.stated_values); with `pointer_reads_query` also the tokens copied from the turn's
    own query that no earlier turn held — a value just stated, which the pointer can now read."""
    values = [stated_values(s).targets & b.targets for s, b in zip(sources, batches, strict=True)]
    if config.pointer_reads_query:
        values = [v | q for v, q in zip(values, query_values(sources, batches, config), strict=True)]
    return values


def query_values(sources: list[RecallSources], batches: list[TokenBatch], config) -> list[torch.Tensor]:
    """Per turn, [B, T - 1]: the answer targets copied from the turn's own query that no earlier
    turn held (a value just stated, which an acknowledgement repeats)."""
    return [
        copied_targets(b.ids, b.mask, config) & (s.mentions == 0) & b.targets
        for s, b in zip(sources, batches, strict=True)
    ]


def held_values(slot_ids: torch.Tensor, batch: TokenBatch, recalled: torch.Tensor) -> torch.Tensor:
    """[B, T - 1]: the `recalled` targets of `batch` whose id a slot of `slot_ids` [B, S] holds."""
    target = batch.ids[:, 1:]
    return recalled & (slot_ids[:, None, :] == target[..., None]).any(-1)


def better_than_head(copy: torch.Tensor, head: torch.Tensor, batch: TokenBatch) -> torch.Tensor:
    """[B, T - 1] in [0, 1]: c / (c + h) per target of `batch`, where c is the pointer's
    probability of the target token (`copy` [B, T, V]) and h the vocabulary head's (`head`
    logits [B, T, V]). Why this target: it is the posterior that the token came from memory when
    both sources are equally likely a priori, i.e. where the gate should sit for that token. It is
    0 for a token no slot holds, about 1/2 where both say it alike, and near 0 at a value's first
    token when the pointer prefers the wrong slot; "is a held value" (session 25) opened the gate
    there too, which cost the seen values as much as the pointer won on unseen ones."""
    target = batch.ids[:, 1:, None]
    with torch.no_grad():
        c = copy[:, :-1].gather(-1, target)[..., 0].float()
        h = torch.softmax(head[:, :-1].float(), dim=-1).gather(-1, target)[..., 0]
        return c / (c + h)


def gate_loss(gate: torch.Tensor, wanted: torch.Tensor, where: torch.Tensor) -> torch.Tensor:
    """Summed binary cross-entropy of the gate logits [B, T] over the positions `where`
    [B, T - 1] (a batch's targets, or some of them), towards `wanted` [B, T - 1] (0/1
    `held_values`, or `better_than_head`'s soft targets)."""
    logits = gate[:, :-1][where].float()
    return F.binary_cross_entropy_with_logits(logits, wanted[where].float(), reduction="sum")


def pointer_loss(
    copy: torch.Tensor, batch: TokenBatch, supervised: torch.Tensor
) -> tuple[torch.Tensor, int, int]:
    """Summed -log p_pointer(target) over the `supervised` targets [B, T - 1] of `batch`
    (`held_values`); how many those are, and at how many the pointer's top token is the target."""
    target = batch.ids[:, 1:]
    chance = copy[:, :-1].gather(-1, target[..., None])[..., 0][supervised]
    top = copy[:, :-1].argmax(-1)[supervised] == target[supervised]
    return -chance.clamp_min(1e-30).log().sum(), int(supervised.sum()), int(top.sum())
