"""One store writer at a time per process, on SQLite.

SQLite admits one writer at a time; the others wait in its busy handler, which sleeps between
retries (1, 2, 5, ... up to 100 ms). Under load — many turns logged and many updates committed
at once — those sleeps, not the writes, dominated the memory-update lag (seconds at 64
sessions). Writers of one process therefore queue on an asyncio lock instead, and only the
decoder and updater processes meet in SQLite's lock. PostgreSQL handles concurrent writers
itself: no gate.
"""

from __future__ import annotations

import asyncio
import contextlib

from storage import AsyncSessionStore


def write_gate(store: AsyncSessionStore) -> contextlib.AbstractAsyncContextManager:
    if store.store.config.database_url.startswith("sqlite"):
        return asyncio.Lock()
    return contextlib.nullcontext()
