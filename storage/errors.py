"""Typed errors of the session store.

Every error the store raises on purpose is a `StorageError`, so the service can map each class
to one gRPC status code (suggested mapping in brackets) and let anything else surface as a bug:

- `NotFoundError`            unknown session, version or turn            [NOT_FOUND]
- `AlreadyExistsError`       session id taken; a turn logged differently [ALREADY_EXISTS]
- `VersionConflictError`     a write named a head that is no longer it   [ABORTED]
- `SessionClosedError`       a write to a closed session                 [FAILED_PRECONDITION]
- `FingerprintMismatchError` a snapshot made by a different model        [FAILED_PRECONDITION]
- `CorruptSnapshotError`     checksum mismatch or an unreadable blob     [DATA_LOSS]
- `InvalidArgumentError`     a malformed id, tensor or option            [INVALID_ARGUMENT]
- `UnavailableError`         database unreachable or lock wait timed out [UNAVAILABLE]
"""

from __future__ import annotations


class StorageError(Exception):
    """Base class of every error the store raises on purpose."""


class NotFoundError(StorageError, LookupError):
    """The session, version or interaction does not exist (or was deleted / pruned)."""


class AlreadyExistsError(StorageError):
    """Creating something whose key is taken, with different content."""


class VersionConflictError(StorageError):
    """Optimistic concurrency: the write named a head version that is no longer the head."""

    def __init__(self, session_id: str, expected: int, actual: int) -> None:
        super().__init__(
            f"session {session_id!r}: write expected head version {expected}, but the head is {actual}"
        )
        self.session_id = session_id
        self.expected = expected
        self.actual = actual


class SessionClosedError(StorageError):
    """The session is closed: it can be read and forked, not written."""


class FingerprintMismatchError(StorageError):
    """The snapshot was made by a different model than the caller's."""


class CorruptSnapshotError(StorageError):
    """The stored bytes fail their checksum or cannot be decoded; the snapshot is refused."""


class InvalidArgumentError(StorageError, ValueError):
    """A malformed argument: bad id, wrong tensor rank or shape, unknown dtype."""


class UnavailableError(StorageError):
    """The database could not be reached, or a lock was not granted in time; retrying may work."""
