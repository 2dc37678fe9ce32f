"""SQLAlchemy 2.x ORM models: sessions, STM versions, STM blobs and the interaction log.

Why versions and blobs are two tables: a version is a cheap row (session, number, parent, kind)
that points at a blob (the tensor bytes, shape, dtype, checksum, model fingerprint). Fork and
rollback add a version row that points at an existing blob, so neither copies a tensor, and a
blob may be shared by versions of several sessions. A blob lives while any version points at it
(the foreign key refuses to delete it earlier); the store deletes blobs no version points at.

These classes never leave the store: callers get the frozen records of `storage.records`.
The Alembic migrations in `storage/migrations` create exactly this schema (a test compares them).
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Enum,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

ID_LENGTH = 128

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# SQLite only auto-increments an INTEGER PRIMARY KEY, not a BIGINT one.
AutoId = BigInteger().with_variant(Integer(), "sqlite")


class VersionKind(enum.StrEnum):
    """How a version came to be."""

    CREATE = "create"
    UPDATE = "update"
    FORK = "fork"
    ROLLBACK = "rollback"


class InteractionStatus(enum.StrEnum):
    PENDING = "pending"
    APPLIED = "applied"
    FAILED = "failed"


def _str_enum(cls: type[enum.StrEnum], name: str) -> Enum:
    """A portable enum column: VARCHAR plus a CHECK constraint, values stored as their strings."""
    return Enum(
        cls,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=16,
        values_callable=lambda members: [m.value for m in members],
    )


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class SessionRow(Base):
    __tablename__ = "sessions"

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    tenant: Mapped[str] = mapped_column(String(ID_LENGTH), index=True)
    agent: Mapped[str] = mapped_column(String(ID_LENGTH))
    fingerprint: Mapped[str] = mapped_column(String(ID_LENGTH))
    head_version: Mapped[int] = mapped_column(Integer)
    last_version: Mapped[int] = mapped_column(Integer)
    """The highest version number ever allocated: new versions get last_version + 1, so numbers
    never repeat even after a rollback or pruning."""
    next_turn: Mapped[int] = mapped_column(Integer)
    """One past the highest turn index in the interaction log."""
    forked_from_session_id: Mapped[str | None] = mapped_column(String(ID_LENGTH), index=True)
    """Lineage only, deliberately no foreign key: deleting a parent keeps its forks intact."""
    forked_from_version: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", JSON)


class BlobRow(Base):
    __tablename__ = "stm_blobs"

    id: Mapped[int] = mapped_column(AutoId, primary_key=True, autoincrement=True)
    shape: Mapped[list[int]] = mapped_column(JSON)
    dtype: Mapped[str] = mapped_column(String(16))
    nbytes: Mapped[int] = mapped_column(BigInteger)
    checksum: Mapped[str] = mapped_column(String(80))
    fingerprint: Mapped[str] = mapped_column(String(ID_LENGTH))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    data: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)


class VersionRow(Base):
    __tablename__ = "stm_versions"

    session_id: Mapped[str] = mapped_column(
        String(ID_LENGTH), ForeignKey("sessions.id", ondelete="CASCADE"), primary_key=True
    )
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    parent_version: Mapped[int | None] = mapped_column(Integer)
    """Update: the head it replaced. Rollback: the version whose tensor it restores."""
    kind: Mapped[VersionKind] = mapped_column(_str_enum(VersionKind, "version_kind"))
    turn: Mapped[int | None] = mapped_column(Integer)
    blob_id: Mapped[int] = mapped_column(AutoId, ForeignKey("stm_blobs.id", ondelete="RESTRICT"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class InteractionRow(Base):
    __tablename__ = "interactions"
    __table_args__ = (
        UniqueConstraint("session_id", "turn", name="uq_interactions_session_turn"),
        Index("ix_interactions_status_session", "status", "session_id"),
    )

    id: Mapped[int] = mapped_column(AutoId, primary_key=True, autoincrement=True)
    session_id: Mapped[str] = mapped_column(String(ID_LENGTH), ForeignKey("sessions.id", ondelete="CASCADE"))
    turn: Mapped[int] = mapped_column(Integer)
    query: Mapped[str] = mapped_column(Text)
    answer: Mapped[str] = mapped_column(Text)
    from_version: Mapped[int] = mapped_column(Integer)
    applied_version: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[InteractionStatus] = mapped_column(_str_enum(InteractionStatus, "interaction_status"))
    error: Mapped[str | None] = mapped_column(Text)
    timings: Mapped[dict[str, float]] = mapped_column(JSON)
    """Caller-measured durations in milliseconds, e.g. {"ttft_ms": 21.0, "update_ms": 28.5}."""
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    applied_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
