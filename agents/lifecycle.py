"""The session life cycle beyond single calls: idle sessions close after their agent's TTL.

    create -> interact* -> (fork | rollback)* -> closed (idle TTL, or on request) -> deleted

A closed session keeps its snapshots: it can be read, listed and forked, not continued, so a
TTL frees nothing a user might still want but stops abandoned sessions from being written. The
TTL is the agent's `idle_ttl_s`, else the service default; idle means no committed memory
update, rollback or creation for that long (the store's `updated_at`).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from storage import AsyncSessionStore
from storage.errors import NotFoundError

from .registry import AgentRegistry

log = logging.getLogger(__name__)


def idle_ttl(agents: AgentRegistry, agent: str, default_ttl_s: float | None) -> float | None:
    try:
        spec = agents.get(agent)
    except LookupError:
        return default_ttl_s
    return spec.idle_ttl_s if spec.idle_ttl_s is not None else default_ttl_s


async def close_idle_sessions(
    store: AsyncSessionStore,
    agents: AgentRegistry,
    default_ttl_s: float | None,
    now: datetime | None = None,
    batch: int = 1000,
) -> list[str]:
    """Close every open session idle longer than its TTL; returns their ids. Safe to run from
    several replicas at once (closing is idempotent)."""
    ttls = [t for t in (idle_ttl(agents, a.name, default_ttl_s) for a in agents) if t is not None]
    if default_ttl_s is not None:
        ttls.append(default_ttl_s)
    if not ttls:
        return []
    now = now or datetime.now(UTC)
    candidates = await store.list_sessions(
        include_closed=False, updated_before=now - timedelta(seconds=min(ttls)), limit=batch
    )
    closed = []
    for info in candidates:
        ttl = idle_ttl(agents, info.agent, default_ttl_s)
        if ttl is None or info.updated_at > now - timedelta(seconds=ttl):
            continue
        try:
            await store.close_session(info.session_id)
        except NotFoundError:  # deleted meanwhile
            continue
        closed.append(info.session_id)
    if closed:
        log.info("closed %d idle session(s)", len(closed))
    return closed
