"""The SQL store of RxT Serve: sessions, versioned STM snapshots and the interaction log.

The snapshot in SQL is the truth about a session's memory; any STM held in a replica is a cache
keyed by (session_id, version). SQLite at a file path is the embedded default, PostgreSQL is
chosen by URL; the schema is created or upgraded (Alembic) when a store opens.

Open::

    store = SessionStore("var/rxt.db")                                   # SQLite, WAL mode
    store = SessionStore(StoreConfig(url="postgresql+psycopg://rxt@db/rxt", schema="rxt"))
    astore = await AsyncSessionStore.open("var/rxt.db")                  # same API, awaitable

One turn, as the service runs it (an STM is one session's tensor [layers, slots, dim])::

    info = store.create_session(stm0, fingerprint=model_id, tenant="acme", agent="helper")
    snap = store.load_stm(info.session_id, fingerprint=model_id)         # head, verified
    # ... stream the answer generated from snap.stm, then log the turn:
    store.append_interaction(sid, turn, query, answer, from_version=snap.info.version)
    # ... later, off the user's path, the memory update:
    result = store.commit_update(sid, turn, snap.info.version, new_stm, fingerprint=model_id)
    # result.version is the new head; result.created is False on an idempotent retry.

After a crash, `list_pending()` returns the logged turns whose update was never applied;
replaying `commit_update` for each is safe.

API (`SessionStore`; every method also exists as a coroutine on `AsyncSessionStore`):

    create_session(stm, *, fingerprint, session_id=None, tenant="default", agent="", metadata=None)
        -> SessionInfo                                           # version 0
    get_session(session_id) -> SessionInfo
    list_sessions(*, tenant=None, include_closed=True, updated_before=None, limit=1000)
        -> list[SessionInfo]
    load_stm(session_id, version=None, *, fingerprint=None, device="cpu", dtype=None) -> Snapshot
    list_versions(session_id) -> list[SnapshotInfo]
    append_interaction(session_id, turn, query, answer, from_version, *, timings=None)
        -> InteractionRecord                                     # status pending
    commit_update(session_id, turn, expected_head_version, new_stm, *, fingerprint=None,
                  timings=None) -> CommitResult
    mark_failed(session_id, turn, error) -> InteractionRecord
    list_pending(session_id=None, *, limit=10_000) -> list[InteractionRecord]
    list_interactions(session_id) -> list[InteractionRecord]
    fork_session(session_id, version=None, *, new_session_id=None, tenant=None, agent=None,
                 metadata=None) -> SessionInfo                   # new session at version 0
    rollback(session_id, version, *, expected_head_version=None) -> SessionInfo
    close_session(session_id) -> SessionInfo
    delete_session(session_id) -> None
    prune(policy: RetentionPolicy, session_id=None) -> PruneResult

Versions: a session starts at version 0; every change of its head (a committed update or a
rollback) gets a new number, one past the highest it ever had, so a (session, version) pair
always names the same tensor. A rollback to v writes a new head version whose tensor is v's
(`kind="rollback"`, `parent_version=v`) and marks still-pending interactions failed. A fork is a
new session whose version 0 shares the parent's blob (nothing copied). Turn indices are the
caller's per-session event numbers (`SessionInfo.next_turn` is one past the highest logged);
they keep growing across rollbacks.

Errors are `storage.errors.StorageError` subclasses; that module lists the gRPC status each one
maps to. Design and measured latencies: docs/storage.md.
"""

from storage.async_store import AsyncSessionStore
from storage.config import RetentionPolicy, StoreConfig
from storage.errors import (
    AlreadyExistsError,
    CorruptSnapshotError,
    FingerprintMismatchError,
    InvalidArgumentError,
    NotFoundError,
    SessionClosedError,
    StorageError,
    UnavailableError,
    VersionConflictError,
)
from storage.models import InteractionStatus, VersionKind
from storage.records import CommitResult, InteractionRecord, PruneResult, SessionInfo, Snapshot, SnapshotInfo
from storage.store import SessionStore

__all__ = [
    "AlreadyExistsError",
    "AsyncSessionStore",
    "CommitResult",
    "CorruptSnapshotError",
    "FingerprintMismatchError",
    "InteractionRecord",
    "InteractionStatus",
    "InvalidArgumentError",
    "NotFoundError",
    "PruneResult",
    "RetentionPolicy",
    "SessionClosedError",
    "SessionInfo",
    "SessionStore",
    "Snapshot",
    "SnapshotInfo",
    "StorageError",
    "StoreConfig",
    "UnavailableError",
    "VersionConflictError",
    "VersionKind",
]
