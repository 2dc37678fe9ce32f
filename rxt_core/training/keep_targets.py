"""What the keep write's salience head learns (stage 4's `keep_weight`, session 20): which tokens
of an interaction a later answer of the same dialogue repeats.

Why these labels: a token is worth a slot exactly when the dialogue will need it again, and
copy_targets.recall_sources already finds, by token id alone, the answer tokens only memory can
supply and the latest earlier turn that held them. A token of turn t is a positive when a later
answer recalls its id from turn t and at most MAX_MENTIONS earlier turns held it (a stated value,
not a word of every turn). Tokens of a dialogue's last turn have no future to be asked about, so
only turns with a next turn are scored.

The labels are noisy by nature: which stated facts a dialogue asks about later is not knowable
when they are stated, so a head trained to P(asked) > 1/2 drops most values (a first CPU run with
positives weighing 2 kept 2 tokens a turn and 20% of the positives). Positives therefore weigh
`keep_positive_weight` (default 8: keep at P > 1/9, about the share of positives, 12% of the tokens
of the synthetic dialogues, ~3 per turn).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence

import torch
from torch.nn import functional as F

from ..model import ReactiveTransformer
from .batching import TokenBatch
from .copy_targets import RecallSources, stated_values


def future_recalled(
    batches: Sequence[TokenBatch], sources: Sequence[RecallSources], vocab: int
) -> list[torch.Tensor]:
    """Per turn t, [B, T_t] bool: the tokens whose id a later answer recalls from turn t."""
    rows = len(batches[0].ids)
    wanted = torch.zeros(len(batches), rows, vocab, dtype=torch.bool, device=batches[0].ids.device)
    for batch, recalled in zip(batches, map(stated_values, sources), strict=True):
        row, col = recalled.targets.nonzero(as_tuple=True)
        wanted[recalled.source[row, col], row, batch.ids[row, col + 1]] = True
    return [wanted[t].gather(1, batch.ids) & batch.mask for t, batch in enumerate(batches)]


def keep_loss(
    salience: torch.Tensor, labels: torch.Tensor, mask: torch.Tensor, positive_weight: float
) -> torch.Tensor:
    """Summed binary cross-entropy of the salience logits [B, T] over the tokens in `mask`, the
    positives weighing `positive_weight` (w): the head then keeps a token when P(asked) > 1/(1+w)."""
    weight = torch.where(labels, positive_weight, 1.0)[mask]
    return F.binary_cross_entropy_with_logits(
        salience[mask], labels[mask].float(), weight=weight, reduction="sum"
    )


@contextlib.contextmanager
def recording_salience(model: ReactiveTransformer) -> Iterator[list[torch.Tensor]]:
    """Inside the block, each `write_memory` call appends its salience logits [B, T]."""
    salience = model.memory_attention.salience
    if salience is None:
        raise ValueError("keep supervision needs the keep write (memory_write='keep')")
    logits: list[torch.Tensor] = []
    hook = salience.register_forward_hook(lambda _module, _args, out: logits.append(out))
    try:
        yield logits
    finally:
        hook.remove()
