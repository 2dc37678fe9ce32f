"""Token-level losses shared by the stages, the baseline and evaluation."""

from __future__ import annotations

import torch
from torch.nn import functional as F

from .batching import TokenBatch


def next_token_nll(logits: torch.Tensor, batch: TokenBatch) -> tuple[torch.Tensor, torch.Tensor]:
    """Summed negative log-likelihood of the target next tokens, and how many were right
    (greedy argmax), over `batch.targets`. logits [B, T, V]."""
    pred = logits[:, :-1]
    target = batch.ids[:, 1:]
    select = batch.targets
    flat = pred[select]
    nll = F.cross_entropy(flat.float(), target[select], reduction="sum")
    correct = (flat.argmax(-1) == target[select]).sum()
    return nll, correct
