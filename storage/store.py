"""`SessionStore`: sessions, versioned STM snapshots and the interaction log, in SQL.

The rules it enforces (see `storage/__init__.py` for the whole API and docs/storage.md for why):
- Every session starts at version 0. Each write of the head makes a new version numbered one
  past the highest the session ever had, so a (session, version) pair names one tensor forever.
- A write names the head it replaces; if that is no longer the head it is refused with
  `VersionConflictError`, never applied on top of the wrong memory.
- The memory update of turn t is committed at most once: a repeated `commit_update` for an
  applied turn returns the version it made and writes nothing.
- Fork and rollback add a version row pointing at an existing blob: no tensor is copied.

Encoding and checksumming a tensor happen before the write transaction starts, so the database
lock is held only for the inserts. The per-turn calls (`load_stm`, `append_interaction`,
`commit_update`) run the precompiled statements of `storage.queries`, one round trip to decide
and the writes; the rarer calls use the ORM. All methods are thread-safe; open one store per
process.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn

import torch
from sqlalchemy import Connection, delete, exists, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from storage import queries as q
from storage.blobs import EncodedStm, decode, encode
from storage.config import RetentionPolicy, StoreConfig
from storage.database import Database
from storage.errors import (
    AlreadyExistsError,
    FingerprintMismatchError,
    InvalidArgumentError,
    NotFoundError,
    SessionClosedError,
    VersionConflictError,
)
from storage.migrate import upgrade
from storage.models import (
    ID_LENGTH,
    BlobRow,
    InteractionRow,
    InteractionStatus,
    SessionRow,
    VersionKind,
    VersionRow,
)
from storage.records import CommitResult, InteractionRecord, PruneResult, SessionInfo, Snapshot, SnapshotInfo

logger = logging.getLogger(__name__)

_SESSION_ID = re.compile(rf"^[A-Za-z0-9][A-Za-z0-9._:@-]{{0,{ID_LENGTH - 1}}}$")
_DELETE_CHUNK = 500


def _now() -> datetime:
    return datetime.now(UTC)


class SessionStore:
    """The synchronous store. `AsyncSessionStore` wraps it for asyncio callers."""

    def __init__(self, config: StoreConfig | str | Path) -> None:
        self.config = config if isinstance(config, StoreConfig) else StoreConfig(url=config)
        self._db = Database(self.config)
        upgrade(self._db)

    def close(self) -> None:
        """Close every pooled connection."""
        self._db.dispose()

    def __enter__(self) -> SessionStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # ------------------------------------------------------------------ sessions

    def create_session(
        self,
        stm: torch.Tensor,
        *,
        fingerprint: str,
        session_id: str | None = None,
        tenant: str = "default",
        agent: str = "",
        metadata: Mapping[str, Any] | None = None,
    ) -> SessionInfo:
        """Create a session whose version 0 holds `stm` ([layers, slots, dim])."""
        session_id = _check_session_id(session_id or uuid.uuid4().hex)
        _check_name("fingerprint", fingerprint, allow_empty=False)
        _check_name("tenant", tenant, allow_empty=False)
        _check_name("agent", agent)
        metadata = _json_dict("metadata", metadata)
        encoded = encode(stm, self.config.storage_dtype)
        try:
            with self._db.orm(write=True) as s:
                if s.get(SessionRow, session_id) is not None:
                    raise AlreadyExistsError(f"session {session_id!r} already exists")
                now = _now()
                row = SessionRow(
                    id=session_id,
                    tenant=tenant,
                    agent=agent,
                    fingerprint=fingerprint,
                    head_version=0,
                    last_version=0,
                    next_turn=0,
                    created_at=now,
                    updated_at=now,
                    meta=metadata,
                )
                s.add(row)
                blob_id = _insert_blob(s.connection(), encoded, fingerprint, now)
                s.add(
                    VersionRow(
                        session_id=session_id,
                        version=0,
                        kind=VersionKind.CREATE,
                        blob_id=blob_id,
                        created_at=now,
                    )
                )
                s.flush()
                info = SessionInfo.of(row)
        except IntegrityError as exc:  # a concurrent creator won the race for this id
            raise AlreadyExistsError(f"session {session_id!r} already exists") from exc
        logger.debug("created session %s (fingerprint %s)", session_id, fingerprint)
        return info

    def get_session(self, session_id: str) -> SessionInfo:
        with self._db.transaction(write=False) as conn:
            row = conn.execute(q.SESSION_INFO, {"sid": session_id}).one_or_none()
        if row is None:
            raise _no_session(session_id)
        return SessionInfo.of(row)

    def list_sessions(
        self,
        *,
        tenant: str | None = None,
        include_closed: bool = True,
        updated_before: datetime | None = None,
        limit: int = 1000,
    ) -> list[SessionInfo]:
        """Sessions, oldest activity first; `updated_before` finds idle ones (for a TTL)."""
        query = select(SessionRow).order_by(SessionRow.updated_at, SessionRow.id).limit(limit)
        if tenant is not None:
            query = query.where(SessionRow.tenant == tenant)
        if not include_closed:
            query = query.where(SessionRow.closed_at.is_(None))
        if updated_before is not None:
            query = query.where(SessionRow.updated_at < updated_before)
        with self._db.orm(write=False) as s:
            return [SessionInfo.of(row) for row in s.scalars(query)]

    def close_session(self, session_id: str) -> SessionInfo:
        """Refuse further writes; reads and forks still work. Closing twice is harmless."""
        with self._db.orm(write=True) as s:
            row = _session(s, session_id, for_update=True)
            if row.closed_at is None:
                row.closed_at = row.updated_at = _now()
            return SessionInfo.of(row)

    def delete_session(self, session_id: str) -> None:
        """Delete a session, its versions and its log. Forks of it keep their own snapshots."""
        with self._db.orm(write=True) as s:
            _session(s, session_id, for_update=True)
            blob_ids = set(s.scalars(select(VersionRow.blob_id).where(VersionRow.session_id == session_id)))
            s.execute(delete(InteractionRow).where(InteractionRow.session_id == session_id))
            s.execute(delete(VersionRow).where(VersionRow.session_id == session_id))
            s.execute(delete(SessionRow).where(SessionRow.id == session_id))
            blobs = _delete_unreferenced_blobs(s, blob_ids)
        logger.info("deleted session %s (%d blobs freed)", session_id, blobs)

    # ------------------------------------------------------------------ snapshots

    def load_stm(
        self,
        session_id: str,
        version: int | None = None,
        *,
        fingerprint: str | None = None,
        device: torch.device | str = "cpu",
        dtype: torch.dtype | None = None,
    ) -> Snapshot:
        """The head (or `version`) of a session, checksum-verified.

        `fingerprint`: the caller's model; a snapshot made by another model is refused.
        `dtype`: cast the stored tensor (e.g. fp16 storage back to the model's fp32).
        """
        with self._db.transaction(write=False) as conn:
            if version is None:
                row = conn.execute(q.HEAD_SNAPSHOT, {"sid": session_id}).one_or_none()
            else:
                row = conn.execute(q.VERSION_SNAPSHOT, {"sid": session_id, "version": version}).one_or_none()
            if row is None:
                _raise_missing_version(conn, session_id, version)
            info = SnapshotInfo.of(row)
            if fingerprint is not None and fingerprint != info.fingerprint:
                raise FingerprintMismatchError(
                    f"session {session_id!r} version {info.version} was written by model "
                    f"{info.fingerprint!r}, refusing to load it into model {fingerprint!r}"
                )
            data = self._db.read_blob(conn, row.blob_id)
        stm = decode(
            data,
            shape=info.shape,
            dtype=info.dtype,
            expected_checksum=info.checksum,
            label=f"session {session_id!r} version {info.version}",
            device=device,
        )
        return Snapshot(info=info, stm=stm if dtype is None else stm.to(dtype))

    def list_versions(self, session_id: str) -> list[SnapshotInfo]:
        """Every version still stored, oldest first."""
        query = (
            select(*q.SNAPSHOT_COLUMNS)
            .join(BlobRow, VersionRow.blob_id == BlobRow.id)
            .where(VersionRow.session_id == session_id)
            .order_by(VersionRow.version)
        )
        with self._db.orm(write=False) as s:
            _session(s, session_id)
            return [SnapshotInfo.of(row) for row in s.execute(query)]

    def fork_session(
        self,
        session_id: str,
        version: int | None = None,
        *,
        new_session_id: str | None = None,
        tenant: str | None = None,
        agent: str | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> SessionInfo:
        """A new session whose version 0 is `session_id`'s `version` (default: its head).

        Nothing is copied: the fork's version 0 points at the parent's blob. Tenant, agent and
        metadata default to the parent's.
        """
        new_id = _check_session_id(new_session_id or uuid.uuid4().hex)
        metadata = None if metadata is None else _json_dict("metadata", metadata)
        try:
            with self._db.orm(write=True) as s:
                parent = _session(s, session_id, for_update=True)  # not pruned or deleted meanwhile
                source = _version(s, session_id, parent.head_version if version is None else version)
                if s.get(SessionRow, new_id) is not None:
                    raise AlreadyExistsError(f"session {new_id!r} already exists")
                now = _now()
                row = SessionRow(
                    id=new_id,
                    tenant=tenant if tenant is not None else parent.tenant,
                    agent=agent if agent is not None else parent.agent,
                    fingerprint=parent.fingerprint,
                    head_version=0,
                    last_version=0,
                    next_turn=0,
                    forked_from_session_id=session_id,
                    forked_from_version=source.version,
                    created_at=now,
                    updated_at=now,
                    meta=dict(metadata if metadata is not None else parent.meta or {}),
                )
                s.add(row)
                s.flush()
                s.add(
                    VersionRow(
                        session_id=new_id,
                        version=0,
                        kind=VersionKind.FORK,
                        blob_id=source.blob_id,
                        created_at=now,
                    )
                )
                s.flush()
                info = SessionInfo.of(row)
        except IntegrityError as exc:
            raise AlreadyExistsError(f"session {new_id!r} already exists") from exc
        logger.debug("forked %s@%d into %s", session_id, info.forked_from_version, new_id)
        return info

    def rollback(
        self, session_id: str, version: int, *, expected_head_version: int | None = None
    ) -> SessionInfo:
        """Make `version`'s tensor the head again, as a new version (history is kept).

        The new head is numbered past every earlier version and its `parent_version` is
        `version`. Rolling back to the current head changes nothing. Interactions still pending
        were generated from memory that is no longer the head: they are marked failed.
        """
        with self._db.orm(write=True) as s:
            row = _session(s, session_id, for_update=True)
            _check_open(row)
            if expected_head_version is not None and row.head_version != expected_head_version:
                raise VersionConflictError(session_id, expected_head_version, row.head_version)
            target = _version(s, session_id, version)
            if version != row.head_version:
                now = _now()
                new_version = row.last_version + 1
                s.add(
                    VersionRow(
                        session_id=session_id,
                        version=new_version,
                        parent_version=version,
                        kind=VersionKind.ROLLBACK,
                        blob_id=target.blob_id,
                        created_at=now,
                    )
                )
                row.head_version = row.last_version = new_version
                row.updated_at = now
                s.execute(
                    update(InteractionRow)
                    .where(
                        InteractionRow.session_id == session_id,
                        InteractionRow.status == InteractionStatus.PENDING,
                    )
                    .values(
                        status=InteractionStatus.FAILED, error=f"superseded: rolled back to version {version}"
                    )
                )
            s.flush()
            info = SessionInfo.of(row)
        logger.debug("rolled back %s to %d (head now %d)", session_id, version, info.head_version)
        return info

    # ------------------------------------------------------------------ interaction log

    def append_interaction(
        self,
        session_id: str,
        turn: int,
        query: str,
        answer: str,
        from_version: int,
        *,
        timings: Mapping[str, float] | None = None,
    ) -> InteractionRecord:
        """Log turn `turn` as pending (its memory update not yet applied).

        Idempotent: appending the same (session, turn) again with the same query, answer and
        from_version returns the logged record; different content raises AlreadyExistsError.
        """
        _check_non_negative("turn", turn)
        _check_non_negative("from_version", from_version)
        record = InteractionRecord(
            session_id=session_id,
            turn=turn,
            query=query,
            answer=answer,
            from_version=from_version,
            applied_version=None,
            status=InteractionStatus.PENDING,
            error=None,
            timings=_json_dict("timings", timings),
            created_at=_now(),
            applied_at=None,
        )
        try:
            return self._append_once(record)
        except IntegrityError:  # a concurrent append of the same turn won; compare with it
            return self._append_once(record)

    def _append_once(self, record: InteractionRecord) -> InteractionRecord:
        sid, turn = record.session_id, record.turn
        with self._db.transaction(write=True) as conn:
            context = conn.execute(q.APPEND_CONTEXT, {"sid": sid, "turn": turn}).one_or_none()
            if context is None:
                raise _no_session(sid)
            if context.interaction_id is not None:
                existing = InteractionRecord.of(context)
                if (existing.query, existing.answer, existing.from_version) != (
                    record.query,
                    record.answer,
                    record.from_version,
                ):
                    raise AlreadyExistsError(
                        f"session {sid!r} turn {turn} is already logged with different content"
                    )
                return existing
            if context.session_closed_at is not None:
                raise SessionClosedError(f"session {sid!r} is closed: it can be read or forked, not written")
            conn.execute(q.INSERT_INTERACTION, [_interaction_values(record)])
            conn.execute(q.ADVANCE_NEXT_TURN, {"sid": sid, "after": turn + 1})
        return record

    def commit_update(
        self,
        session_id: str,
        turn: int,
        expected_head_version: int,
        new_stm: torch.Tensor,
        *,
        fingerprint: str | None = None,
        timings: Mapping[str, float] | None = None,
    ) -> CommitResult:
        """Apply turn `turn`'s memory update: write `new_stm` as the new head, atomically with
        marking the logged interaction applied.

        Refused with VersionConflictError unless `expected_head_version` is still the head (the
        STM the update started from). If the turn is already applied, returns that version with
        `created=False` and writes nothing. `fingerprint`: the model that computed `new_stm`.
        """
        _check_non_negative("turn", turn)
        _check_non_negative("expected_head_version", expected_head_version)
        timings = _json_dict("timings", timings)
        encoded = encode(new_stm, self.config.storage_dtype)
        params = {"sid": session_id, "turn": turn, "expected": expected_head_version}
        with self._db.transaction(write=True) as conn:
            context = conn.execute(q.COMMIT_CONTEXT, params).one_or_none()
            if context is None:
                raise _no_session(session_id)
            if context.interaction_id is None:
                raise NotFoundError(
                    f"session {session_id!r} has no logged turn {turn}; append_interaction it first"
                )
            if context.status == InteractionStatus.APPLIED:
                return CommitResult(session_id, turn, context.applied_version, created=False)
            if context.closed_at is not None:
                raise SessionClosedError(
                    f"session {session_id!r} is closed: it can be read or forked, not written"
                )
            if fingerprint is not None and fingerprint != context.fingerprint:
                raise FingerprintMismatchError(
                    f"session {session_id!r} belongs to model {context.fingerprint!r}; "
                    f"refusing an STM computed by model {fingerprint!r}"
                )
            if context.head_shape is not None and tuple(context.head_shape) != encoded.shape:
                raise InvalidArgumentError(
                    f"session {session_id!r} holds STMs of shape {list(context.head_shape)}, "
                    f"refusing one of shape {list(encoded.shape)}"
                )
            now = _now()
            version = conn.execute(q.BUMP_HEAD, params | {"now": now}).scalar_one_or_none()
            if version is None:
                return _lost_race(conn, session_id, turn, expected_head_version)
            blob_id = _insert_blob(conn, encoded, context.fingerprint, now)
            conn.execute(
                q.INSERT_VERSION,
                [
                    {
                        "session_id": session_id,
                        "version": version,
                        "parent_version": expected_head_version,
                        "kind": VersionKind.UPDATE,
                        "turn": turn,
                        "blob_id": blob_id,
                        "created_at": now,
                    }
                ],
            )
            new_timings = {**(context.timings or {}), **timings}
            conn.execute(
                q.MARK_APPLIED,
                {"iid": context.interaction_id, "version": version, "now": now, "new_timings": new_timings},
            )
        return CommitResult(session_id, turn, version, created=True)

    def mark_failed(self, session_id: str, turn: int, error: str) -> InteractionRecord:
        """Record that turn `turn`'s memory update failed. An applied turn stays applied, and a
        later successful `commit_update` of a failed turn still applies it."""
        with self._db.orm(write=True) as s:
            row = _interaction(s, session_id, turn)
            if row.status != InteractionStatus.APPLIED:
                row.status = InteractionStatus.FAILED
                row.error = error
            return InteractionRecord.of(row)

    def list_pending(self, session_id: str | None = None, *, limit: int = 10_000) -> list[InteractionRecord]:
        """Interactions whose memory update has not been applied: replay them after a crash."""
        query = (
            select(InteractionRow)
            .where(InteractionRow.status == InteractionStatus.PENDING)
            .order_by(InteractionRow.session_id, InteractionRow.turn)
            .limit(limit)
        )
        if session_id is not None:
            query = query.where(InteractionRow.session_id == session_id)
        with self._db.orm(write=False) as s:
            return [InteractionRecord.of(row) for row in s.scalars(query)]

    def list_interactions(self, session_id: str) -> list[InteractionRecord]:
        """A session's whole log, by turn."""
        with self._db.orm(write=False) as s:
            _session(s, session_id)
            rows = s.scalars(
                select(InteractionRow)
                .where(InteractionRow.session_id == session_id)
                .order_by(InteractionRow.turn)
            )
            return [InteractionRecord.of(row) for row in rows]

    # ------------------------------------------------------------------ retention

    def prune(self, policy: RetentionPolicy, session_id: str | None = None) -> PruneResult:
        """Apply `policy` to one session, or to every session (one short transaction each)."""
        if session_id is not None:
            return self._prune_one(policy, session_id, missing_ok=False)
        with self._db.orm(write=False) as s:
            ids = list(s.scalars(select(SessionRow.id).order_by(SessionRow.id)))
        versions = blobs = 0
        for sid in ids:
            result = self._prune_one(policy, sid, missing_ok=True)
            versions += result.versions_deleted
            blobs += result.blobs_deleted
        return PruneResult(versions_deleted=versions, blobs_deleted=blobs)

    def _prune_one(self, policy: RetentionPolicy, session_id: str, *, missing_ok: bool) -> PruneResult:
        with self._db.orm(write=True) as s:
            row = s.get(SessionRow, session_id, with_for_update=True)
            if row is None:
                if missing_ok:
                    return PruneResult(0, 0)
                raise _no_session(session_id)
            versions = s.execute(
                select(VersionRow.version, VersionRow.blob_id)
                .where(VersionRow.session_id == session_id)
                .order_by(VersionRow.version.desc())
            ).all()
            keep = {v for v, _ in versions[: policy.keep_last]} | {row.head_version}
            keep |= set(
                s.scalars(
                    select(InteractionRow.from_version).where(
                        InteractionRow.session_id == session_id,
                        InteractionRow.status == InteractionStatus.PENDING,
                    )
                )
            )
            keep |= set(
                s.scalars(
                    select(SessionRow.forked_from_version).where(
                        SessionRow.forked_from_session_id == session_id
                    )
                )
            )
            doomed = [(v, b) for v, b in versions if v not in keep]
            for chunk in _chunks([v for v, _ in doomed]):
                s.execute(
                    delete(VersionRow).where(
                        VersionRow.session_id == session_id, VersionRow.version.in_(chunk)
                    )
                )
            blobs = _delete_unreferenced_blobs(s, {b for _, b in doomed})
        return PruneResult(versions_deleted=len(doomed), blobs_deleted=blobs)


def _insert_blob(conn: Connection, encoded: EncodedStm, fingerprint: str, now: datetime) -> int:
    values = {
        "shape": list(encoded.shape),
        "dtype": encoded.dtype,
        "nbytes": len(encoded.data),
        "checksum": encoded.checksum,
        "fingerprint": fingerprint,
        "created_at": now,
        "data": encoded.data,
    }
    return conn.execute(q.INSERT_BLOB, [values]).scalar_one()


def _interaction_values(record: InteractionRecord) -> dict[str, Any]:
    return {
        "session_id": record.session_id,
        "turn": record.turn,
        "query": record.query,
        "answer": record.answer,
        "from_version": record.from_version,
        "status": record.status,
        "timings": record.timings,
        "created_at": record.created_at,
    }


def _session(s: Session, session_id: str, *, for_update: bool = False) -> SessionRow:
    row = s.get(SessionRow, session_id, with_for_update=for_update)
    if row is None:
        raise _no_session(session_id)
    return row


def _no_session(session_id: str) -> NotFoundError:
    return NotFoundError(f"session {session_id!r} does not exist")


def _version(s: Session, session_id: str, version: int) -> VersionRow:
    row = s.get(VersionRow, (session_id, version))
    if row is None:
        _session(s, session_id)
        raise NotFoundError(f"session {session_id!r} has no version {version} (never written, or pruned)")
    return row


def _interaction(s: Session, session_id: str, turn: int) -> InteractionRow:
    row = s.scalars(
        select(InteractionRow).where(InteractionRow.session_id == session_id, InteractionRow.turn == turn)
    ).one_or_none()
    if row is None:
        _session(s, session_id)
        raise NotFoundError(f"session {session_id!r} has no logged turn {turn}; append_interaction it first")
    return row


def _raise_missing_version(conn: Connection, session_id: str, version: int | None) -> NoReturn:
    if conn.execute(q.SESSION_EXISTS, {"sid": session_id}).first() is None:
        raise _no_session(session_id)
    raise NotFoundError(f"session {session_id!r} has no version {version} (never written, or pruned)")


def _lost_race(conn: Connection, session_id: str, turn: int, expected: int) -> CommitResult:
    """The conditional head update matched nothing: explain why, in a fresh statement."""
    head, closed_at, applied = conn.execute(q.RACE_OUTCOME, {"sid": session_id, "turn": turn}).one()
    if closed_at is not None:
        raise SessionClosedError(f"session {session_id!r} is closed")
    if applied is not None:  # a concurrent commit of this same turn won (PostgreSQL)
        return CommitResult(session_id, turn, applied, created=False)
    logger.debug(
        "commit of %s turn %d refused: expected head %d, head is %d", session_id, turn, expected, head
    )
    raise VersionConflictError(session_id, expected, head)


def _delete_unreferenced_blobs(s: Session, blob_ids: Iterable[int]) -> int:
    deleted = 0
    referenced = exists().where(VersionRow.blob_id == BlobRow.id)
    for chunk in _chunks(sorted(blob_ids)):
        result = s.execute(
            delete(BlobRow)
            .where(BlobRow.id.in_(chunk), ~referenced)
            .execution_options(synchronize_session=False)
        )
        deleted += result.rowcount
    return deleted


def _chunks(items: list[int]) -> Iterable[list[int]]:
    for start in range(0, len(items), _DELETE_CHUNK):
        yield items[start : start + _DELETE_CHUNK]


def _check_open(row: SessionRow) -> None:
    if row.closed_at is not None:
        raise SessionClosedError(f"session {row.id!r} is closed: it can be read or forked, not written")


def _check_session_id(session_id: str) -> str:
    if not isinstance(session_id, str) or not _SESSION_ID.match(session_id):
        raise InvalidArgumentError(
            f"session id {session_id!r} must be 1-{ID_LENGTH} characters of letters, digits and ._:@- "
            "starting with a letter or digit"
        )
    return session_id


def _check_name(name: str, value: str, *, allow_empty: bool = True) -> None:
    if not isinstance(value, str) or len(value) > ID_LENGTH or (not value and not allow_empty):
        raise InvalidArgumentError(
            f"{name} must be a {'' if allow_empty else 'non-empty '}string of at most {ID_LENGTH} characters"
        )


def _json_dict(name: str, value: Mapping[str, Any] | None) -> dict[str, Any]:
    """A JSON-serialisable copy, or a clear error now rather than a driver error at commit."""
    copy = dict(value or {})
    try:
        json.dumps(copy)
    except (TypeError, ValueError) as exc:
        raise InvalidArgumentError(f"{name} must be JSON-serialisable: {exc}") from exc
    return copy


def _check_non_negative(name: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidArgumentError(f"{name} must be a non-negative integer, got {value!r}")
