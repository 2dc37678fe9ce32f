"""`AsyncSessionStore`: the same API as `SessionStore`, awaitable, for an asyncio service.

Every call runs the synchronous store on a dedicated thread pool (as many threads as database
connections), so the event loop never waits on the database, tensor encoding or checksums, and a
burst of storage calls cannot starve the loop's default executor. The database drivers, zlib and
safetensors release the GIL during their heavy work, so the threads do overlap.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import torch

from storage.config import RetentionPolicy, StoreConfig
from storage.records import CommitResult, InteractionRecord, PruneResult, SessionInfo, Snapshot, SnapshotInfo
from storage.store import SessionStore

P = ParamSpec("P")
R = TypeVar("R")


class AsyncSessionStore:
    """Wraps a `SessionStore`; see its methods for the semantics of each call."""

    def __init__(self, store: SessionStore, *, max_workers: int | None = None) -> None:
        self.store = store
        self._executor = ThreadPoolExecutor(
            max_workers=max_workers or store.config.pool_size, thread_name_prefix="rxt-storage"
        )

    @classmethod
    async def open(cls, config: StoreConfig | str | Path) -> AsyncSessionStore:
        """Open (and create or migrate) the database without blocking the loop."""
        store = await asyncio.to_thread(SessionStore, config)
        return cls(store)

    async def aclose(self) -> None:
        await self._run(self.store.close)
        self._executor.shutdown(wait=True)

    async def __aenter__(self) -> AsyncSessionStore:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def _run(self, fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(fn, *args, **kwargs))

    async def create_session(
        self,
        stm: torch.Tensor,
        *,
        fingerprint: str,
        session_id: str | None = None,
        tenant: str = "default",
        agent: str = "",
        metadata: Mapping[str, Any] | None = None,
    ) -> SessionInfo:
        return await self._run(
            self.store.create_session,
            stm,
            fingerprint=fingerprint,
            session_id=session_id,
            tenant=tenant,
            agent=agent,
            metadata=metadata,
        )

    async def get_session(self, session_id: str) -> SessionInfo:
        return await self._run(self.store.get_session, session_id)

    async def list_sessions(
        self,
        *,
        tenant: str | None = None,
        include_closed: bool = True,
        updated_before: datetime | None = None,
        limit: int = 1000,
    ) -> list[SessionInfo]:
        return await self._run(
            self.store.list_sessions,
            tenant=tenant,
            include_closed=include_closed,
            updated_before=updated_before,
            limit=limit,
        )

    async def close_session(self, session_id: str) -> SessionInfo:
        return await self._run(self.store.close_session, session_id)

    async def delete_session(self, session_id: str) -> None:
        await self._run(self.store.delete_session, session_id)

    async def load_stm(
        self,
        session_id: str,
        version: int | None = None,
        *,
        fingerprint: str | None = None,
        device: torch.device | str = "cpu",
        dtype: torch.dtype | None = None,
    ) -> Snapshot:
        return await self._run(
            self.store.load_stm, session_id, version, fingerprint=fingerprint, device=device, dtype=dtype
        )

    async def list_versions(self, session_id: str) -> list[SnapshotInfo]:
        return await self._run(self.store.list_versions, session_id)

    async def fork_session(
        self,
        session_id: str,
        version: int | None = None,
        *,
        new_session_id: str | None = None,
        tenant: str | None = None,
        agent: str | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> SessionInfo:
        return await self._run(
            self.store.fork_session,
            session_id,
            version,
            new_session_id=new_session_id,
            tenant=tenant,
            agent=agent,
            metadata=metadata,
        )

    async def rollback(
        self, session_id: str, version: int, *, expected_head_version: int | None = None
    ) -> SessionInfo:
        return await self._run(
            self.store.rollback, session_id, version, expected_head_version=expected_head_version
        )

    async def append_interaction(
        self,
        session_id: str,
        turn: int,
        query: str,
        answer: str,
        from_version: int,
        *,
        timings: Mapping[str, float] | None = None,
    ) -> InteractionRecord:
        return await self._run(
            self.store.append_interaction, session_id, turn, query, answer, from_version, timings=timings
        )

    async def commit_update(
        self,
        session_id: str,
        turn: int,
        expected_head_version: int,
        new_stm: torch.Tensor,
        *,
        fingerprint: str | None = None,
        timings: Mapping[str, float] | None = None,
    ) -> CommitResult:
        return await self._run(
            self.store.commit_update,
            session_id,
            turn,
            expected_head_version,
            new_stm,
            fingerprint=fingerprint,
            timings=timings,
        )

    async def mark_failed(self, session_id: str, turn: int, error: str) -> InteractionRecord:
        return await self._run(self.store.mark_failed, session_id, turn, error)

    async def list_pending(
        self, session_id: str | None = None, *, limit: int = 10_000
    ) -> list[InteractionRecord]:
        return await self._run(self.store.list_pending, session_id, limit=limit)

    async def list_interactions(self, session_id: str) -> list[InteractionRecord]:
        return await self._run(self.store.list_interactions, session_id)

    async def prune(self, policy: RetentionPolicy, session_id: str | None = None) -> PruneResult:
        return await self._run(self.store.prune, policy, session_id)
