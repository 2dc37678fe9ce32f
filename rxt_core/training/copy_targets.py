"""Which answer tokens repeat something the model was told: from its own query, or from an
earlier turn of the dialogue (so only memory can supply them).

Why: a value the model has never seen must be copied, and the language model's prior for how a
familiar piece goes on fights that copy (session 14: "Rotterdam" -> "Romegranate"). These masks
let a stage weigh exactly those targets more (stage 2's `copy_weight`, stage 4's
`recall_weight`) without any labels in the data: they are found by token id alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from ..interaction import answer_marker
from .batching import TokenBatch

SPECIAL_IDS = 6  # [PAD] [BOS] [EOS] [Q] [A] [MASK]: never copied, never drawn as random tokens
MAX_MENTIONS = 2  # earlier turns holding a recalled id: a value stated (and perhaps recalled once)


def copied_tokens(ids: torch.Tensor, mask: torch.Tensor, config) -> torch.Tensor:
    """[B, T]: which tokens of `ids` are answer tokens (after the row's first [A]) whose id also
    occurs in its query (between [Q] and [A]); special tokens never count. Rows without [A]
    (stage 1 text) have none."""
    in_answer, in_query = _answer_and_query(ids, mask, config)
    return in_answer & in_query


def copied_targets(ids: torch.Tensor, mask: torch.Tensor, config) -> torch.Tensor:
    """[B, T-1]: `copied_tokens` as next-token targets (position t predicts token t + 1)."""
    return copied_tokens(ids, mask, config)[:, 1:]


@dataclass
class RecallSources:
    """One turn's recalled targets, [B, T_t - 1] each: `targets` as `recalled_targets` gives
    them; `source`, the latest earlier turn whose interaction holds the target's id (-1: none);
    `mentions`, how many earlier turns hold it (a value stated once vs a word of every turn)."""

    targets: torch.Tensor
    source: torch.Tensor
    mentions: torch.Tensor


def recall_sources(batches: Sequence[TokenBatch], config) -> list[RecallSources]:
    """For each turn t of a dialogue batch (`batches[t]`: one interaction per row) the answer
    tokens whose id occurs in an earlier interaction of the same row's dialogue (query or answer)
    but not in turn t's own query, and where they came from; special tokens never count. The
    first turn has none."""
    rows_ids = (len(batches[0].ids), config.vocab_size)
    device = batches[0].ids.device
    last = torch.full(rows_ids, -1, dtype=torch.long, device=device)
    mentions = torch.zeros(rows_ids, dtype=torch.long, device=device)
    out = []
    for t, batch in enumerate(batches):
        in_answer, in_query = _answer_and_query(batch.ids, batch.mask, config)
        seen = mentions.gather(1, batch.ids)
        targets = (in_answer & (seen > 0) & ~in_query)[:, 1:]
        out.append(RecallSources(targets, last.gather(1, batch.ids)[:, 1:], seen[:, 1:]))
        real = batch.mask & (batch.ids >= SPECIAL_IDS)
        rows = torch.arange(len(batch.ids), device=device)[:, None].expand_as(batch.ids)
        here = torch.zeros(rows_ids, dtype=torch.bool, device=device)
        here[rows[real], batch.ids[real]] = True
        mentions += here
        last[here] = t
    return out


def stated_values(sources: RecallSources) -> RecallSources:
    """Only the recalled targets whose id at most MAX_MENTIONS earlier turns hold: a value stated
    (and perhaps recalled once), not a word of every turn. What read and keep supervision train on."""
    return RecallSources(
        sources.targets & (sources.mentions <= MAX_MENTIONS), sources.source, sources.mentions
    )


def recalled_targets(batches: Sequence[TokenBatch], config) -> list[torch.Tensor]:
    """For each turn t of a dialogue batch, [B, T_t - 1]: which next-token targets are answer
    tokens whose id occurs in an earlier interaction of the same row's dialogue (query or answer)
    but not in turn t's own query; special tokens never count. The first turn has none."""
    return [r.targets for r in recall_sources(batches, config)]


def _answer_and_query(ids: torch.Tensor, mask: torch.Tensor, config) -> tuple[torch.Tensor, torch.Tensor]:
    """[B, T] each: the real, non-special tokens after the row's first [A]; the tokens whose id
    occurs in the row's query (between [Q] and [A])."""
    positions = torch.arange(ids.shape[1], device=ids.device)
    marker = answer_marker(ids, config.answer_id, missing=ids.shape[1])
    real = mask & (ids >= SPECIAL_IDS)
    in_query = real & (positions > 0) & (positions < marker)
    in_answer = real & (positions > marker)
    occurs_in_query = ((ids[:, :, None] == ids[:, None, :]) & in_query[:, None, :]).any(-1)
    return in_answer, occurs_in_query
