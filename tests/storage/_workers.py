"""Functions run in child processes by the storage tests (spawned: they import this module)."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import torch

from storage import SessionStore, StoreConfig, VersionConflictError

BARRIER_TIMEOUT_S = 300


def replica(
    config: StoreConfig, session_ids: tuple[str, str], index: int, barrier: Any, results: Any
) -> None:
    """One service replica of the race test; every phase starts on a barrier shared with the
    parent. 1: open a fresh database (all replicas migrate at once). 2: commit a different turn
    of session A against head 0. 3: commit turn 0 of session B against head 0."""
    torch.set_num_threads(1)
    try:
        barrier.wait(BARRIER_TIMEOUT_S)
        store = SessionStore(config)
        results.put(("opened", index, 0))
        barrier.wait(BARRIER_TIMEOUT_S)
        barrier.wait(BARRIER_TIMEOUT_S)  # the parent has created the sessions and logged turns
        results.put(("A", *_commit(store, session_ids[0], index, seed=index)))
        barrier.wait(BARRIER_TIMEOUT_S)
        results.put(("B", *_commit(store, session_ids[1], 0, seed=index)))
        store.close()
    except Exception as exc:  # reported to the parent, which fails the test with it
        barrier.abort()
        results.put(("error", index, f"{type(exc).__name__}: {exc}"))


def _commit(store: SessionStore, session_id: str, turn: int, seed: int) -> tuple[str, int, int]:
    stm = torch.randn((2, 8, 16), generator=torch.Generator().manual_seed(seed))
    try:
        result = store.commit_update(session_id, turn, 0, stm)
        return ("won" if result.created else "replayed", turn, result.version)
    except VersionConflictError as exc:
        return ("conflict", turn, exc.actual)


def append_then_crash(config: StoreConfig, session_id: str, ready: Path, go: Path) -> None:
    """Log a turn, start its memory update, and get killed while it runs."""
    store = SessionStore(config)
    store.append_interaction(session_id, 0, "q", "a", 0)
    ready.write_text("appended")
    while not go.exists():
        time.sleep(0.01)
    store.commit_update(session_id, 0, 0, torch.ones(2, 8, 16))  # blocks on the parent's lock
    os._exit(0)  # never reached: the parent kills this process first
