"""The interaction format and input validation shared by generation, memory updates and training.

    decoder prompt:   [Q] query [A]                 (the answer is generated after it)
    full interaction: [Q] query [A] answer [EOS]    (what the encoder reads, what training sees)

Every public entry point validates ids here so bad input fails with a `ValueError` that names
the problem, never with a shape error from deep inside torch.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from .config import RxTConfig

TokenIds = Sequence[int] | torch.Tensor


def as_id_list(ids: TokenIds, what: str, config: RxTConfig, allow_empty: bool = False) -> list[int]:
    """Validate one sequence of token ids and return it as a list of ints."""
    if isinstance(ids, torch.Tensor):
        if ids.dim() == 2 and ids.shape[0] == 1:
            ids = ids[0]
        if ids.dim() != 1:
            raise ValueError(
                f"{what} must be a 1-D sequence of token ids, got a tensor of shape {tuple(ids.shape)}"
            )
        if ids.is_floating_point():
            raise ValueError(f"{what} must hold integer token ids, got dtype {ids.dtype}")
        ids = ids.tolist()
    elif isinstance(ids, str | bytes) or not isinstance(ids, Sequence):
        raise ValueError(f"{what} must be a sequence of token ids, got {type(ids).__name__}")
    ids = list(ids)
    if not ids and not allow_empty:
        raise ValueError(f"{what} is empty")
    for i in ids:
        if not isinstance(i, int) or isinstance(i, bool):
            raise ValueError(f"{what} must hold integer token ids, found {i!r}")
    bad = [i for i in ids if not 0 <= i < config.vocab_size]
    if bad:
        raise ValueError(f"{what} has token ids outside the vocabulary [0, {config.vocab_size}): {bad[:5]}")
    return ids


def as_batch(batch: Sequence[TokenIds] | torch.Tensor, what: str, config: RxTConfig, allow_empty=False):
    """A batch of id sequences (a list of sequences or a 2-D tensor) as lists of ints."""
    if isinstance(batch, torch.Tensor):
        if batch.dim() != 2:
            raise ValueError(f"{what} batch must be 2-D [batch, tokens], got shape {tuple(batch.shape)}")
        batch = list(batch)
    if not isinstance(batch, Sequence) or not batch:
        raise ValueError(f"{what} batch must be a non-empty list of token-id sequences")
    return [as_id_list(ids, f"{what}[{i}]", config, allow_empty) for i, ids in enumerate(batch)]


def prompt_ids(query: list[int], config: RxTConfig) -> list[int]:
    prompt = [config.query_id, *query, config.answer_id]
    if len(prompt) >= config.max_seq_len:
        raise ValueError(
            f"query has {len(query)} tokens; with [Q] and [A] it must leave room to answer "
            f"within the model's {config.max_seq_len} positions (at most {config.max_seq_len - 3} tokens)"
        )
    return prompt


def interaction_ids(query: list[int], answer: list[int], config: RxTConfig) -> list[int]:
    if answer and answer[-1] == config.eos_id:
        answer = answer[:-1]
    ids = [config.query_id, *query, config.answer_id, *answer, config.eos_id]
    if len(ids) > config.max_seq_len:
        raise ValueError(
            f"interaction has {len(ids)} tokens with its markers; the model has {config.max_seq_len} positions"
        )
    return ids


def pad_batch(rows: list[list[int]], pad_id: int, device) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-pad to [B, T]; returns (ids, mask) with mask True on real tokens."""
    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    for i, r in enumerate(rows):
        ids[i, : len(r)] = torch.tensor(r, dtype=torch.long)
    lengths = torch.tensor([len(r) for r in rows])
    mask = torch.arange(width).unsqueeze(0) < lengths.unsqueeze(1)
    return ids.to(device), mask.to(device)


def answer_marker(ids: torch.Tensor, answer_id: int, missing: int) -> torch.Tensor:
    """[B, 1]: the position of each row's first [A] in interactions `ids` [B, T] (what ends the
    query), `missing` in a row without one. Shared by the pointer's query mask and the copy
    targets, so both agree on where a query ends."""
    is_marker = ids == answer_id
    return torch.where(is_marker.any(1), is_marker.int().argmax(1), missing)[:, None]
