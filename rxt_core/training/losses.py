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


def weighted_next_token_nll(
    logits: torch.Tensor, batch: TokenBatch, weights: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Like `next_token_nll`, with the sum weighted by `weights` [B, T-1] beside the plain one:
    (summed NLL, weighted summed NLL, how many were right)."""
    select = batch.targets
    flat = logits[:, :-1][select]
    nll = F.cross_entropy(flat.float(), batch.ids[:, 1:][select], reduction="none")
    correct = (flat.argmax(-1) == batch.ids[:, 1:][select]).sum()
    return nll.sum(), (weights[select] * nll).sum(), correct
