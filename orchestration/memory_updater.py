"""The memory updater: writes finished interactions into memory and commits the new version.

It runs off the user's path (the answer has already streamed) in its own deployment, sized
independently of the decoders, and batches updates of different sessions into one encoder +
memory-attention pass. Per session, order comes from the decoder (turn t+1 is not generated
before turn t's update landed) and from the store: every commit names the version it replaces,
so an update computed from a stale memory is refused, never applied.

Two paths:
- `apply`: the decoder hands over the STM the answer was generated from and the token ids, so
  nothing is read back from the store (the fast path).
- `recover`: replays a session's logged-but-unapplied turns from the store (after a crash, or
  when a turn's update was lost); idempotent, like every commit.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass

import torch

from agents.registry import AgentRegistry
from rxt_core import ReactiveTransformer
from rxt_core.precision import WritePrecision, check_write_precision
from storage import AsyncSessionStore
from storage.errors import NotFoundError, SessionClosedError, VersionConflictError

from .text import Tokenizer
from .wire import TensorsAsNumpy
from .write_gate import write_gate

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class UpdateJob(TensorsAsNumpy):
    session_id: str
    turn: int
    from_version: int
    stm: torch.Tensor  # [1, layers, slots, dim]: the memory the answer was generated from
    query_ids: list[int]
    answer_ids: list[int]


@dataclass(frozen=True)
class UpdateResult(TensorsAsNumpy):
    session_id: str
    turn: int
    version: int | None  # the committed version; None if the update was refused
    stm: torch.Tensor | None  # the new memory when this call wrote it
    error: str | None = None
    seconds: float = 0.0  # compute + commit time


@dataclass(frozen=True)
class InitialMemory(TensorsAsNumpy):
    """STM version 0 of a new session ([layers, slots, dim]) and the model that wrote it."""

    stm: torch.Tensor
    fingerprint: str


class MemoryUpdater:
    def __init__(
        self,
        model: ReactiveTransformer,
        tokenizer: Tokenizer,
        store: AsyncSessionStore,
        agents: AgentRegistry,
        precision: WritePrecision = "auto",
    ):
        self.model, self.tokenizer, self.store, self.agents = model, tokenizer, store, agents
        check_write_precision(precision)
        self.precision = precision
        self.fingerprint = model.fingerprint()
        self._initial: dict[str, torch.Tensor] = {}
        self._compute = asyncio.Lock()  # one forward pass at a time per replica
        self._writes = write_gate(store)

    async def apply(self, jobs: list[UpdateJob]) -> list[UpdateResult]:
        """Update the memories of `jobs` (of different sessions) in one batch, then commit each."""
        start = time.perf_counter()
        stm = torch.cat([job.stm for job in jobs]).to(self.model.device)
        new = await self._update(stm, [j.query_ids for j in jobs], [j.answer_ids for j in jobs])
        return [await self._commit(job, new[i : i + 1], start) for i, job in enumerate(jobs)]

    async def recover(self, session_id: str) -> list[UpdateResult]:
        """Apply every pending turn of a session, in turn order, from what the store logged."""
        results = []
        for record in await self.store.list_pending(session_id):
            start = time.perf_counter()
            try:
                snapshot = await self.store.load_stm(
                    session_id, record.from_version, fingerprint=self.fingerprint
                )
            except NotFoundError as exc:
                await self.store.mark_failed(session_id, record.turn, f"its memory is gone: {exc}")
                continue
            stm = snapshot.stm.unsqueeze(0).to(self.model.device, self.model.embedding.weight.dtype)
            query, answer = self.tokenizer.encode(record.query), self.tokenizer.encode(record.answer)
            new = await self._update(stm, [query], [answer])
            job = UpdateJob(session_id, record.turn, record.from_version, stm, query, answer)
            results.append(await self._commit(job, new, start))
        return results

    async def initial_memory(self, agent_name: str = "") -> InitialMemory:
        """STM version 0 of a new session of this agent: the model's initial memory with the
        agent's setup turns written in."""
        agent = self.agents.get(agent_name)
        if agent.name not in self._initial:
            stm = self.model.init_memory(1)
            for turn in agent.setup:
                q, a = self.tokenizer.encode(turn.query), self.tokenizer.encode(turn.answer)
                stm = await self._update(stm, [q], [a])
            self._initial[agent.name] = stm[0].cpu()
        return InitialMemory(self._initial[agent.name], self.fingerprint)

    async def _update(
        self, stm: torch.Tensor, queries: list[list[int]], answers: list[list[int]]
    ) -> torch.Tensor:
        async with self._compute:
            return await asyncio.to_thread(self.model.update_memory, stm, queries, answers, self.precision)

    async def _commit(self, job: UpdateJob, new: torch.Tensor, start: float) -> UpdateResult:
        sid, turn = job.session_id, job.turn
        try:
            async with self._writes:
                result = await self.store.commit_update(
                    sid, turn, job.from_version, new[0], fingerprint=self.fingerprint
                )
        except (VersionConflictError, SessionClosedError) as exc:
            # The head moved (a rollback) or the session closed while the answer streamed: this
            # turn's memory is superseded. Record it so no one replays it.
            await self.store.mark_failed(sid, turn, str(exc))
            return UpdateResult(sid, turn, None, None, error=str(exc), seconds=time.perf_counter() - start)
        except NotFoundError as exc:  # deleted meanwhile
            return UpdateResult(sid, turn, None, None, error=str(exc), seconds=time.perf_counter() - start)
        stm = new.cpu() if result.created else None
        return UpdateResult(sid, turn, result.version, stm, seconds=time.perf_counter() - start)
