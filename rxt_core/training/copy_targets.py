"""Which answer tokens repeat something the model was told: from its own query, or from an
earlier turn of the dialogue (so only memory can supply them).

Why: a value the model has never seen must be copied, and the language model's prior for how a
familiar piece goes on fights that copy (session 14: "Rotterdam" -> "Romegranate"). These masks
let a stage weigh exactly those targets more (stage 2's `copy_weight`, stage 4's
`recall_weight`) without any labels in the data: they are found by token id alone.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from .batching import TokenBatch

SPECIAL_IDS = 6  # [PAD] [BOS] [EOS] [Q] [A] [MASK]: never copied, never drawn as random tokens


def copied_targets(ids: torch.Tensor, mask: torch.Tensor, config) -> torch.Tensor:
    """[B, T-1]: which next-token targets are answer tokens (after the row's first [A]) whose id
    also occurs in its query (between [Q] and [A]); special tokens never count. Rows without
    [A] (stage 1 text) have none."""
    in_answer, in_query = _answer_and_query(ids, mask, config)
    return (in_answer & in_query)[:, 1:]


def recalled_targets(batches: Sequence[TokenBatch], config) -> list[torch.Tensor]:
    """For each turn t of a dialogue batch (`batches[t]`: one interaction per row), [B, T_t - 1]:
    which next-token targets are answer tokens whose id occurs in an earlier interaction of the
    same row's dialogue (query or answer) but not in turn t's own query; special tokens never
    count. The first turn has none."""
    seen = torch.zeros(len(batches[0].ids), config.vocab_size, dtype=torch.bool, device=batches[0].ids.device)
    recalled = []
    for batch in batches:
        in_answer, in_query = _answer_and_query(batch.ids, batch.mask, config)
        earlier = seen.gather(1, batch.ids)
        recalled.append((in_answer & earlier & ~in_query)[:, 1:])
        real = batch.mask & (batch.ids >= SPECIAL_IDS)
        rows = torch.arange(len(batch.ids), device=batch.ids.device)[:, None].expand_as(batch.ids)
        seen[rows[real], batch.ids[real]] = True
    return recalled


def _answer_and_query(ids: torch.Tensor, mask: torch.Tensor, config) -> tuple[torch.Tensor, torch.Tensor]:
    """[B, T] each: the real, non-special tokens after the row's first [A]; the tokens whose id
    occurs in the row's query (between [Q] and [A])."""
    positions = torch.arange(ids.shape[1], device=ids.device)
    is_answer_marker = ids == config.answer_id
    marker = torch.where(is_answer_marker.any(1), is_answer_marker.int().argmax(1), ids.shape[1])[:, None]
    real = mask & (ids >= SPECIAL_IDS)
    in_query = real & (positions > 0) & (positions < marker)
    in_answer = real & (positions > marker)
    occurs_in_query = ((ids[:, :, None] == ids[:, None, :]) & in_query[:, None, :]).any(-1)
    return in_answer, occurs_in_query
