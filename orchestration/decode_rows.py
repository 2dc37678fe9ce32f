"""The rows of a continuous batch, kept in storage allocated ahead, so that a turn joining or
leaving the batch copies its own row's decode state and not everyone's.

A `DecodeState` holds one tensor per layer for all rows: the self-attention K/V caches and the
memory cross-attention K/V. Rebuilding those tensors with `torch.cat` on every join and an index
on every leave copied the whole batch each time; with 64 sessions' turns starting and ending every
few steps that was 35% of the scheduler's CPU (session 10, bundled model). Here the tensors have
room for `capacity` rows and the live batch is a view of the first `count`: joining rows are
written after the last one (the storage doubles when full), and a leaving row's place is taken
by the last row. Row order therefore changes on a leave; `keep` says how.
"""

from __future__ import annotations

import torch

from rxt_core.attention import KVCache
from rxt_core.generation import DecodeState


class DecodeRows:
    def __init__(self) -> None:
        self.state: DecodeState | None = None  # views of the first `count` rows of the storage
        self._caches: list[tuple[torch.Tensor, torch.Tensor]] = []  # per layer (K, V), all rows
        self._memory: list[tuple[torch.Tensor, ...]] | None = None

    @property
    def count(self) -> int:
        return 0 if self.state is None else self.state.batch_size

    @property
    def capacity(self) -> int:
        return self._caches[0][0].shape[0] if self._caches else 0

    @torch.inference_mode()
    def append(self, new: DecodeState) -> None:
        """Add `new`'s rows after the current ones."""
        if self.state is None:
            self._caches = [(c.k, c.v) for c in new.caches]
            self._memory = None if new.memory_kv is None else list(new.memory_kv)
            self.state = new
            return
        start, end = self.count, self.count + new.batch_size
        if end > self.capacity:
            self._grow(max(end, 2 * self.capacity))
        for (k, v), cache in zip(self._caches, new.caches, strict=True):
            k[start:end], v[start:end] = cache.k, cache.v
        if self._memory is not None:
            for entry, new_entry in zip(self._memory, new.memory_kv, strict=True):
                for t, new_t in zip(entry, new_entry, strict=True):  # K/V, or the pointer's slots
                    t[start:end] = new_t
        lengths = torch.cat([self.state.lengths, new.lengths])
        self._view(end, lengths, self.state.host_lengths + new.host_lengths)

    @torch.inference_mode()  # the decode state is made of inference tensors
    def keep(self, rows: list[int]) -> list[int]:
        """Keep only `rows`; returns, for each row of the new batch, its index in the old one
        (each removed row's place is taken by the last row still kept)."""
        order = list(range(self.count))
        for removed in sorted(set(order) - set(rows), reverse=True):
            last = len(order) - 1
            if removed != last:  # every row after `removed` is kept: move the last one into it
                for entry in self._tensors():
                    for t in entry:
                        t[removed] = t[last]
                order[removed] = order[last]
            order.pop()
        if not order:
            self.state = None
        elif len(order) < self.count:
            index = torch.tensor(order, device=self.state.lengths.device)
            self._view(len(order), self.state.lengths[index], [self.state.host_lengths[i] for i in order])
        return order

    def _tensors(self) -> list[tuple[torch.Tensor, ...]]:
        return self._caches + (self._memory or [])

    def _grow(self, capacity: int) -> None:
        def grown(t: torch.Tensor) -> torch.Tensor:
            bigger = t.new_empty((capacity, *t.shape[1:]))
            bigger[: self.count] = t[: self.count]
            return bigger

        self._caches = [(grown(k), grown(v)) for k, v in self._caches]
        if self._memory is not None:
            self._memory = [tuple(grown(t) for t in entry) for entry in self._memory]

    def _view(self, count: int, lengths: torch.Tensor, host_lengths: list[int]) -> None:
        self.state = DecodeState(
            caches=[KVCache(k[:count], v[:count]) for k, v in self._caches],
            memory_kv=None if self._memory is None else [tuple(t[:count] for t in e) for e in self._memory],
            lengths=lengths,
            host_lengths=host_lengths,
        )
