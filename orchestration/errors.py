"""One place that decides which gRPC status every expected failure gets.

Deployments raise `ServiceError`s (or let `storage` errors through); the ingress turns any of them
into a status code and a message with `status_of`. Anything else is a bug: INTERNAL, logged.
Exceptions that crossed a Ray handle arrive wrapped in a `RayTaskError`; `status_of` unwraps it.
"""

from __future__ import annotations

import grpc

from agents.registry import UnknownAgentError
from orchestration.sessions import SessionBusyError
from storage import errors as store


class ServiceError(Exception):
    code: grpc.StatusCode = grpc.StatusCode.INTERNAL


class InvalidArgument(ServiceError):
    code = grpc.StatusCode.INVALID_ARGUMENT


class NotFound(ServiceError):
    code = grpc.StatusCode.NOT_FOUND


class FailedPrecondition(ServiceError):
    code = grpc.StatusCode.FAILED_PRECONDITION


class Unavailable(ServiceError):
    code = grpc.StatusCode.UNAVAILABLE


_STATUS: list[tuple[type[BaseException], grpc.StatusCode]] = [
    (SessionBusyError, grpc.StatusCode.ABORTED),
    (UnknownAgentError, grpc.StatusCode.NOT_FOUND),
    (store.NotFoundError, grpc.StatusCode.NOT_FOUND),
    (store.AlreadyExistsError, grpc.StatusCode.ALREADY_EXISTS),
    (store.VersionConflictError, grpc.StatusCode.ABORTED),
    (store.SessionClosedError, grpc.StatusCode.FAILED_PRECONDITION),
    (store.FingerprintMismatchError, grpc.StatusCode.FAILED_PRECONDITION),
    (store.CorruptSnapshotError, grpc.StatusCode.DATA_LOSS),
    (store.InvalidArgumentError, grpc.StatusCode.INVALID_ARGUMENT),
    (store.UnavailableError, grpc.StatusCode.UNAVAILABLE),
    (TimeoutError, grpc.StatusCode.UNAVAILABLE),
]


def unwrap(exc: BaseException) -> BaseException:
    """The original exception of one raised in another Ray worker (RayTaskError.cause)."""
    seen = 0
    while seen < 8 and getattr(exc, "cause", None) is not None and isinstance(exc.cause, BaseException):
        exc, seen = exc.cause, seen + 1
    return exc


def status_of(exc: BaseException) -> tuple[grpc.StatusCode, str] | None:
    """The status for an expected failure, or None for a bug."""
    exc = unwrap(exc)
    if isinstance(exc, ServiceError):
        return exc.code, str(exc)
    for kind, code in _STATUS:
        if isinstance(exc, kind):
            return code, str(exc)
    return None
