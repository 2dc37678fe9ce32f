"""Token-level training data: dialogues as token ids, padded batches, deterministic sampling.

A turn is the interaction `[Q] query [A] answer [EOS]` (rxt_core.interaction). Losses on
"answer tokens" score the predictions of the answer and its [EOS], i.e. every target after [A].
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

import torch

from ..config import RxTConfig
from ..data.dialogue import DataError, Dialogue, Fact, Recall
from ..interaction import interaction_ids


class TextTokenizer(Protocol):
    def encode(self, text: str) -> list[int]: ...


@dataclass(frozen=True, slots=True)
class TokenTurn:
    query: list[int]
    answer: list[int]
    recall: Recall | None = None
    query_text: str = ""
    answer_text: str = ""
    stated: tuple[Fact, ...] = ()  # the facts the query states (kind and value)


TokenDialogue = list[TokenTurn]


def tokenize_dialogues(
    dialogues: Iterable[Dialogue], tokenizer: TextTokenizer, config: RxTConfig, source: str = "data"
) -> list[TokenDialogue]:
    """Token ids of every turn; a turn longer than the model's positions is a `DataError` naming
    the source and the dialogue's (1-based) index, like the loaders' `FILE:LINE` errors."""
    out = []
    for n, dialogue in enumerate(dialogues, 1):
        turns = []
        for i, turn in enumerate(dialogue.turns, 1):
            q, a = tokenizer.encode(turn.query), tokenizer.encode(turn.answer)
            if len(q) + len(a) + 3 > config.max_seq_len:
                raise DataError(
                    f"{source}: dialogue {n}, turn {i} is {len(q) + len(a) + 3} tokens as "
                    f"[Q] query [A] answer [EOS]; the model has {config.max_seq_len} positions"
                )
            turns.append(TokenTurn(q, a, turn.recall, turn.query, turn.answer, turn.stated))
        out.append(turns)
    if not out:
        raise DataError(f"{source}: no dialogues")
    return out


@dataclass
class TokenBatch:
    """Right-padded rows [B, T]. `mask`: real tokens. `targets`: which next-token predictions
    count (position i predicts ids[i + 1]; `targets[:, i]` refers to ids[:, i + 1])."""

    ids: torch.Tensor
    mask: torch.Tensor
    targets: torch.Tensor
    present: torch.Tensor  # [B] rows that hold a real turn (False: padding of finished dialogues)

    def to(self, device: torch.device | str) -> TokenBatch:
        return TokenBatch(*(t.to(device) for t in (self.ids, self.mask, self.targets, self.present)))

    @property
    def target_count(self) -> int:
        return int(self.targets.sum())

    @property
    def token_count(self) -> int:
        return int(self.mask.sum())

    def written(self, new_stm: torch.Tensor, stm: torch.Tensor) -> torch.Tensor:
        """The memory after this turn: `new_stm` [B, L, S, D] where a row holds a real turn, `stm`
        where its dialogue has already ended (a finished dialogue's memory must not change)."""
        return torch.where(self.present[:, None, None, None], new_stm, stm)


def pad_rows(rows: Sequence[list[int]], spans: Sequence[tuple[int, int]], pad_id: int) -> TokenBatch:
    """Pad `rows`; `spans[b] = (start, end)`: row b's tokens at start..end-1 are loss targets."""
    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    targets = torch.zeros(len(rows), width, dtype=torch.bool)
    for b, (row, (start, end)) in enumerate(zip(rows, spans, strict=True)):
        ids[b, : len(row)] = torch.tensor(row, dtype=torch.long)
        targets[b, start:end] = True
    lengths = torch.tensor([len(r) for r in rows])
    mask = torch.arange(width).unsqueeze(0) < lengths.unsqueeze(1)
    return TokenBatch(ids, mask, targets[:, 1:], torch.ones(len(rows), dtype=torch.bool))


def interaction_batch(turns: Sequence[TokenTurn | None], config: RxTConfig) -> TokenBatch:
    """One turn per row; None (a dialogue that already ended) becomes an empty, loss-free row."""
    rows, spans = [], []
    for turn in turns:
        if turn is None:
            rows.append([config.query_id, config.answer_id, config.eos_id])
            spans.append((0, 0))
            continue
        row = interaction_ids(turn.query, turn.answer, config)
        rows.append(row)
        spans.append((len(turn.query) + 2, len(row)))  # the answer tokens and [EOS]
    batch = pad_rows(rows, spans, config.pad_id)
    batch.present = torch.tensor([t is not None for t in turns])
    return batch


def turn_batch(dialogues: Sequence[TokenDialogue], t: int, config: RxTConfig) -> TokenBatch:
    """Turn t of every dialogue, one per row; a dialogue with fewer turns gives a loss-free row."""
    return interaction_batch([d[t] if t < len(d) else None for d in dialogues], config)


def lm_batch(rows: Sequence[list[int]], pad_id: int) -> TokenBatch:
    """Plain language modelling: every token after the first is a target."""
    return pad_rows(rows, [(1, len(r)) for r in rows], pad_id)


def dialogue_row(dialogue: TokenDialogue, config: RxTConfig) -> tuple[list[int], list[tuple[int, int]]]:
    """The whole dialogue as one stateless-LM sequence, and the (start, end) of each answer."""
    row: list[int] = []
    spans = []
    for turn in dialogue:
        start = len(row) + len(turn.query) + 2
        row += interaction_ids(turn.query, turn.answer, config)
        spans.append((start, len(row)))
    return row, spans


def history_batch(dialogues: Sequence[TokenDialogue], config: RxTConfig) -> TokenBatch:
    """Stateless-baseline rows: each dialogue in full, every answer (and [EOS]) a target."""
    rows, masks = [], []
    for d in dialogues:
        row, spans = dialogue_row(d, config)
        rows.append(row)
        masks.append(spans)
    batch = pad_rows(rows, [(0, 0)] * len(rows), config.pad_id)
    full = torch.zeros(batch.ids.shape, dtype=torch.bool)
    for b, spans in enumerate(masks):
        for start, end in spans:
            full[b, start:end] = True
    batch.targets = full[:, 1:]
    return batch


def batch_indices(
    step: int,
    size: int,
    n: int,
    seed: int,
    rank: int = 0,
    world: int = 1,
    lengths: Sequence[int] | None = None,
) -> list[int]:
    """The examples of global batch `step`, a pure function of (seed, step), so a resumed run
    sees exactly the batches it would have seen. Each data-parallel rank takes every `world`-th
    example of the global batch.

    Without `lengths`: consecutive slices of seeded per-epoch permutations. With `lengths`
    (turns per dialogue): each epoch's permutation is cut into pools of 16 batches, each pool
    sorted by length and cut into batches, and the batches shuffled — so a batch holds
    dialogues of similar length and little compute goes to padding turns."""
    if lengths is None:
        picked = []
        for k in range(step * size, (step + 1) * size):
            epoch, offset = divmod(k, n)
            picked.append(_permutation(n, seed, epoch)[offset])
        return picked[rank::world]
    per_epoch = max(1, n // size)
    epoch, index = divmod(step, per_epoch)
    return _bucketed(n, size, seed, epoch, tuple(lengths))[index][rank::world]


_PERMS: dict[tuple[int, int, int], list[int]] = {}
_BUCKETS: dict[tuple, list[list[int]]] = {}


def _permutation(n: int, seed: int, epoch: int) -> list[int]:
    key = (n, seed, epoch)
    if key not in _PERMS:
        g = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
        _PERMS[key] = torch.randperm(n, generator=g).tolist()
    return _PERMS[key]


def _bucketed(n: int, size: int, seed: int, epoch: int, lengths: tuple[int, ...]) -> list[list[int]]:
    key = (n, size, seed, epoch, hash(lengths))
    if key not in _BUCKETS:
        perm = _permutation(n, seed, epoch)
        if n >= size:
            perm = perm[: (n // size) * size]
        pool = 16 * size
        batches = []
        for start in range(0, len(perm), pool):
            chunk = sorted(perm[start : start + pool], key=lambda i: lengths[i])
            batches += [chunk[i : i + size] for i in range(0, len(chunk), size)]
        g = torch.Generator().manual_seed(seed * 1_000_003 + epoch + 7)
        order = torch.randperm(len(batches), generator=g).tolist()
        _BUCKETS.clear()  # one epoch at a time is enough
        _BUCKETS[key] = [batches[i] for i in order]
    return _BUCKETS[key]
