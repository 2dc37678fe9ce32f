"""Frozen records the store returns: plain values, safe to pass between threads and processes.

They are copies taken inside a database transaction, so no ORM object (and no lazy load that
would need a live database session) ever escapes the store.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import torch
from sqlalchemy import Row

from storage.models import InteractionRow, InteractionStatus, SessionRow, VersionKind


def _utc(value: datetime) -> datetime:
    """SQLite returns naive datetimes; every timestamp the store writes is UTC."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _utc_or_none(value: datetime | None) -> datetime | None:
    return None if value is None else _utc(value)


@dataclass(frozen=True, slots=True)
class SessionInfo:
    session_id: str
    tenant: str
    agent: str
    fingerprint: str
    head_version: int
    next_turn: int
    """The turn index the next interaction should use (one past the highest logged)."""
    created_at: datetime
    updated_at: datetime
    closed_at: datetime | None
    forked_from_session_id: str | None
    forked_from_version: int | None
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def closed(self) -> bool:
        return self.closed_at is not None

    @classmethod
    def of(cls, row: SessionRow | Row[Any]) -> SessionInfo:
        return cls(
            session_id=row.id,
            tenant=row.tenant,
            agent=row.agent,
            fingerprint=row.fingerprint,
            head_version=row.head_version,
            next_turn=row.next_turn,
            created_at=_utc(row.created_at),
            updated_at=_utc(row.updated_at),
            closed_at=_utc_or_none(row.closed_at),
            forked_from_session_id=row.forked_from_session_id,
            forked_from_version=row.forked_from_version,
            metadata=dict(row.meta or {}),
        )


@dataclass(frozen=True, slots=True)
class SnapshotInfo:
    """One version of a session's STM, without the tensor."""

    session_id: str
    version: int
    parent_version: int | None
    kind: VersionKind
    turn: int | None
    """The interaction whose memory update produced this version (updates only)."""
    created_at: datetime
    shape: tuple[int, ...]
    dtype: str
    nbytes: int
    checksum: str
    fingerprint: str

    @classmethod
    def of(cls, row: Row[Any]) -> SnapshotInfo:
        """From a row of `storage.queries.SNAPSHOT_COLUMNS`."""
        return cls(
            session_id=row.session_id,
            version=row.version,
            parent_version=row.parent_version,
            kind=VersionKind(row.kind),
            turn=row.turn,
            created_at=_utc(row.created_at),
            shape=tuple(row.shape),
            dtype=row.dtype,
            nbytes=row.nbytes,
            checksum=row.checksum,
            fingerprint=row.fingerprint,
        )


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A version with its tensor, shape [layers, slots, dim]."""

    info: SnapshotInfo
    stm: torch.Tensor


@dataclass(frozen=True, slots=True)
class InteractionRecord:
    session_id: str
    turn: int
    query: str
    answer: str
    from_version: int
    applied_version: int | None
    status: InteractionStatus
    error: str | None
    timings: dict[str, float]
    created_at: datetime
    applied_at: datetime | None

    @classmethod
    def of(cls, row: InteractionRow | Row[Any]) -> InteractionRecord:
        """From an ORM row or a row of `storage.queries.INTERACTION_COLUMNS`."""
        return cls(
            session_id=row.session_id,
            turn=row.turn,
            query=row.query,
            answer=row.answer,
            from_version=row.from_version,
            applied_version=row.applied_version,
            status=InteractionStatus(row.status),
            error=row.error,
            timings=dict(row.timings or {}),
            created_at=_utc(row.created_at),
            applied_at=_utc_or_none(row.applied_at),
        )


@dataclass(frozen=True, slots=True)
class CommitResult:
    """The version that holds turn `turn`; `created` is False when the turn was already applied
    (an idempotent retry) and nothing was written."""

    session_id: str
    turn: int
    version: int
    created: bool


@dataclass(frozen=True, slots=True)
class PruneResult:
    versions_deleted: int
    blobs_deleted: int
