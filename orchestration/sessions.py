"""Per-replica session state: a bounded cache of hot STMs, and per-session turn ordering.

Both are caches and hints, never the truth: the store's head version decides which STM a turn
reads (a cached STM is used only if its version *is* the head), and the store's optimistic
commits keep a session's versions consistent even if two replicas serve it.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from dataclasses import dataclass

import torch


@dataclass
class CacheStats:
    hits: int = 0
    misses: int = 0


class StmCache:
    """LRU map session -> (version, STM [1, layers, slots, dim]), at most `capacity` sessions."""

    def __init__(self, capacity: int):
        if capacity < 1:
            raise ValueError(f"capacity must be >= 1, got {capacity}")
        self.capacity = capacity
        self.stats = CacheStats()
        self._entries: OrderedDict[str, tuple[int, torch.Tensor]] = OrderedDict()

    def get(self, session_id: str, version: int) -> torch.Tensor | None:
        """The cached STM if it is exactly `version` (the store's head); else None (a miss)."""
        entry = self._entries.get(session_id)
        if entry is None or entry[0] != version:
            self.stats.misses += 1
            return None
        self._entries.move_to_end(session_id)
        self.stats.hits += 1
        return entry[1]

    def put(self, session_id: str, version: int, stm: torch.Tensor) -> None:
        current = self._entries.get(session_id)
        if current is not None and current[0] > version:
            return  # never replace a newer version with an older one
        self._entries[session_id] = (version, stm)
        self._entries.move_to_end(session_id)
        while len(self._entries) > self.capacity:
            self._entries.popitem(last=False)

    def discard(self, session_id: str) -> None:
        self._entries.pop(session_id, None)

    def __len__(self) -> int:
        return len(self._entries)


class SessionBusyError(Exception):
    """Another turn (or a rollback/delete) of this session is in progress."""


class SessionTurns:
    """One operation per session at a time, and the memory update each turn leaves behind.

    `begin` refuses (never queues) a second concurrent operation on one session: a client that
    sends two turns at once has a bug, and silently ordering them would pick an order for it.
    `pending` is the in-flight memory update of a session's last turn; the next turn awaits it
    (`wait_for_update`), which is how turn t+1 reads STM_t.
    """

    def __init__(self) -> None:
        self._busy: dict[str, object] = {}  # session -> token of the operation holding it
        self._updates: dict[str, asyncio.Future] = {}
        self._applied: dict[str, tuple[int, int]] = {}

    def begin(self, session_id: str, what: str = "turn") -> object:
        """Claim the session; returns the token that `end` needs (ending twice is harmless,
        and a late `end` never releases a later operation's claim)."""
        if session_id in self._busy:
            raise SessionBusyError(
                f"session {session_id!r} already has an operation in progress; "
                f"send the next {what} after the current one has finished"
            )
        token = self._busy[session_id] = object()
        return token

    def end(self, session_id: str, token: object) -> None:
        if self._busy.get(session_id) is token:
            del self._busy[session_id]

    def is_busy(self, session_id: str) -> bool:
        return session_id in self._busy

    def set_update(self, session_id: str, update: asyncio.Future) -> None:
        self._updates[session_id] = update
        update.add_done_callback(lambda done: self._forget(session_id, done))

    def _forget(self, session_id: str, update: asyncio.Future) -> None:
        if self._updates.get(session_id) is update:
            del self._updates[session_id]

    async def wait_for_update(self, session_id: str, timeout_s: float) -> float:
        """Wait until this replica's in-flight update of the session (if any) has landed;
        returns the seconds waited. Raises TimeoutError after `timeout_s`. A failed update is
        not raised here: the caller re-reads the store, which knows what was committed."""
        update = self._updates.get(session_id)
        if update is None or update.done():
            return 0.0
        start = time.perf_counter()
        done, _ = await asyncio.wait({update}, timeout=timeout_s)
        if not done:
            raise TimeoutError(f"the memory update of session {session_id!r} took over {timeout_s:g} s")
        return time.perf_counter() - start

    def applied(self, session_id: str, turn: int, version: int) -> None:
        """Remember that this replica committed `turn` of the session as `version`."""
        self._applied[session_id] = (turn, version)
        if len(self._applied) > 100_000:  # a hint only: forgetting costs one store query
            self._applied.pop(next(iter(self._applied)))

    def last_applied(self, session_id: str) -> tuple[int, int] | None:
        return self._applied.get(session_id)

    def pending_updates(self) -> int:
        return sum(not u.done() for u in self._updates.values())
