"""Protobuf messages <-> the service's own types, and the checks a request passes at the door.

Keeping this apart from the deployments lets the ingress stay a thin translation layer and
lets these rules be tested without Ray.
"""

from __future__ import annotations

import math
from datetime import datetime

from google.protobuf.timestamp_pb2 import Timestamp

from agents.spec import AgentSpec
from protos.rxt.v1 import reactive_pb2 as pb
from storage.records import InteractionRecord, SessionInfo, SnapshotInfo

from .decoder import TurnEvent, TurnRequest
from .errors import InvalidArgument
from .scheduler import FinishReason

_FINISH = {FinishReason.STOP: pb.FINISH_REASON_STOP, FinishReason.LENGTH: pb.FINISH_REASON_LENGTH}


def turn_request(request: pb.InteractRequest, max_query_chars: int) -> TurnRequest:
    """Validate the shape of an Interact request (the decoder checks what needs the model)."""
    session_id = require_session_id(request.session_id)
    if not request.query.strip():
        raise InvalidArgument("query is empty")
    if len(request.query) > max_query_chars:
        raise InvalidArgument(f"query has {len(request.query)} characters; the limit is {max_query_chars}")

    def optional(name: str):
        return getattr(request, name) if request.HasField(name) else None

    for name in ("temperature", "top_p"):
        value = optional(name)
        if value is not None and not math.isfinite(value):
            raise InvalidArgument(f"{name} must be a finite number, got {value}")
    return TurnRequest(
        session_id=session_id,
        query=request.query,
        max_new_tokens=optional("max_new_tokens"),
        min_new_tokens=optional("min_new_tokens"),
        temperature=optional("temperature"),
        top_k=optional("top_k"),
        top_p=optional("top_p"),
        expected_version=optional("expected_version"),
    )


def require_session_id(session_id: str) -> str:
    if not session_id:
        raise InvalidArgument("session_id is required")
    return session_id


def require_version(version: int) -> int:
    if version < 0:
        raise InvalidArgument(f"version must be >= 0, got {version}")
    return version


def interact_response(event: TurnEvent) -> pb.InteractResponse:
    if not event.done:
        return pb.InteractResponse(text=event.text)
    return pb.InteractResponse(
        text=event.text,
        done=True,
        usage=pb.Usage(query_tokens=event.query_tokens, answer_tokens=event.answer_tokens),
        from_version=event.from_version,
        next_version=event.next_version,
        finish_reason=_FINISH.get(event.finish, pb.FINISH_REASON_UNSPECIFIED),
        memory_wait_ms=event.memory_wait_s * 1e3,
        time_to_first_token_ms=event.ttft_s * 1e3,
    )


def session(info: SessionInfo, update_pending: bool = False) -> pb.Session:
    return pb.Session(
        session_id=info.session_id,
        agent=info.agent,
        version=info.head_version,
        update_pending=update_pending,
        created_at=timestamp(info.created_at),
        updated_at=timestamp(info.updated_at),
        forked_from_session_id=info.forked_from_session_id or "",
        forked_from_version=info.forked_from_version if info.forked_from_version is not None else -1,
        model_fingerprint=info.fingerprint,
    )


def snapshots(
    versions: list[SnapshotInfo], log: list[InteractionRecord], head: int
) -> pb.ListSnapshotsResponse:
    turns = {record.turn: record for record in log}
    out = []
    for v in versions:
        record = turns.get(v.turn) if v.turn is not None else None
        out.append(
            pb.Snapshot(
                version=v.version,
                parent_version=v.parent_version if v.parent_version is not None else -1,
                created_at=timestamp(v.created_at),
                kind=str(v.kind),
                turn=v.turn if v.turn is not None else -1,
                query=record.query if record else "",
                answer=record.answer if record else "",
                is_head=v.version == head,
            )
        )
    return pb.ListSnapshotsResponse(snapshots=out)


def agent(spec: AgentSpec, default: str) -> pb.Agent:
    s = spec.sampling
    return pb.Agent(
        name=spec.name,
        description=spec.description,
        max_new_tokens=s.max_new_tokens,
        temperature=s.temperature,
        top_k=s.top_k,
        top_p=s.top_p,
        is_default=spec.name == default,
    )


def timestamp(value: datetime) -> Timestamp:
    ts = Timestamp()
    ts.FromDatetime(value)
    return ts
