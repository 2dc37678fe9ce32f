"""Concurrent writers, as threads of one service and as separate processes (replicas).

N writers commit against the same expected head at the same moment: exactly one wins, every
other one gets a VersionConflictError, and the database holds exactly one new version. When the
N writers commit the *same* turn, the retries are idempotent: one version, N equal answers.
"""

from __future__ import annotations

import multiprocessing
import queue
import threading

import pytest

from storage import InteractionStatus, SessionStore, VersionConflictError

from . import _workers
from .conftest import FINGERPRINT, execute_sql, make_stm

WRITERS = 6
PROCESSES = 3


def _session_with_pending_turns(store: SessionStore, turns: int) -> str:
    sid = store.create_session(make_stm(0), fingerprint=FINGERPRINT).session_id
    for turn in range(turns):
        store.append_interaction(sid, turn, f"q{turn}", f"a{turn}", 0)
    return sid


def _run_threads(store: SessionStore, sid: str, turns: list[int]) -> list[tuple[str, int, int]]:
    barrier = threading.Barrier(len(turns))
    outcomes: list[tuple[str, int, int]] = []
    lock = threading.Lock()

    def commit(turn: int, seed: int) -> None:
        stm = make_stm(seed)
        barrier.wait()
        try:
            result = store.commit_update(sid, turn, 0, stm)
            outcome = ("won" if result.created else "replayed", turn, result.version)
        except VersionConflictError as exc:
            outcome = ("conflict", turn, exc.actual)
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=commit, args=(turn, 10 + i)) for i, turn in enumerate(turns)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert len(outcomes) == len(turns), "a writer thread did not finish"
    return outcomes


def _assert_one_winner(store: SessionStore, sid: str, outcomes: list[tuple[str, int, int]]) -> None:
    winners = [o for o in outcomes if o[0] == "won"]
    assert len(winners) == 1, outcomes
    assert sorted(o[0] for o in outcomes) == ["conflict"] * (len(outcomes) - 1) + ["won"]
    assert {o[2] for o in outcomes} == {1}  # losers are told the head is now 1
    [(_, winning_turn, _)] = winners
    assert [v.version for v in store.list_versions(sid)] == [0, 1]
    assert store.list_versions(sid)[1].turn == winning_turn
    log = {i.turn: i for i in store.list_interactions(sid)}
    assert log[winning_turn].status is InteractionStatus.APPLIED
    assert all(i.status is InteractionStatus.PENDING for t, i in log.items() if t != winning_turn)


def _assert_idempotent(store: SessionStore, sid: str, outcomes: list[tuple[str, int, int]]) -> None:
    assert sorted(o[0] for o in outcomes) == ["replayed"] * (len(outcomes) - 1) + ["won"], outcomes
    assert {o[2] for o in outcomes} == {1}
    assert [v.version for v in store.list_versions(sid)] == [0, 1]


def test_threads_racing_on_one_head_have_exactly_one_winner(store):
    sid = _session_with_pending_turns(store, WRITERS)
    _assert_one_winner(store, sid, _run_threads(store, sid, list(range(WRITERS))))


def test_threads_committing_the_same_turn_make_one_version(store):
    sid = _session_with_pending_turns(store, 1)
    _assert_idempotent(store, sid, _run_threads(store, sid, [0] * WRITERS))


def test_threads_on_different_sessions_do_not_conflict(store):
    sids = [_session_with_pending_turns(store, 1) for _ in range(WRITERS)]
    barrier = threading.Barrier(WRITERS)
    versions: list[int] = []

    def commit(sid: str) -> None:
        barrier.wait()
        versions.append(store.commit_update(sid, 0, 0, make_stm(3)).version)

    threads = [threading.Thread(target=commit, args=(sid,)) for sid in sids]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert versions == [1] * WRITERS
    assert all(store.get_session(sid).head_version == 1 for sid in sids)


@pytest.mark.slow
def test_replica_processes_migrate_once_then_race_with_exactly_one_winner(store_config):
    """Separate processes: they open one fresh database together (one of them migrates it),
    then race commits on one head (one winner), then commit the same turn (one version)."""
    ctx = multiprocessing.get_context("spawn")
    ids = ("race-a", "race-b")
    barrier, results = ctx.Barrier(PROCESSES + 1), ctx.Queue()
    procs = [
        ctx.Process(target=_workers.replica, args=(store_config, ids, i, barrier, results))
        for i in range(PROCESSES)
    ]
    for p in procs:
        p.start()
    try:
        barrier.wait(_workers.BARRIER_TIMEOUT_S)  # all up
        barrier.wait(_workers.BARRIER_TIMEOUT_S)  # all opened the database
        opened = [results.get(timeout=60) for _ in procs]
        assert sorted(opened) == [("opened", i, 0) for i in range(PROCESSES)], opened
        with SessionStore(store_config) as store:
            for sid, turns in zip(ids, (PROCESSES, 1), strict=True):
                store.create_session(make_stm(0), fingerprint=FINGERPRINT, session_id=sid)
                for turn in range(turns):
                    store.append_interaction(sid, turn, f"q{turn}", f"a{turn}", 0)
            barrier.wait(_workers.BARRIER_TIMEOUT_S)  # race on session A
            barrier.wait(_workers.BARRIER_TIMEOUT_S)  # race on session B
            outcomes = [results.get(timeout=_workers.BARRIER_TIMEOUT_S) for _ in range(2 * PROCESSES)]
            assert not [o for o in outcomes if o[0] == "error"], outcomes
            _assert_one_winner(store, ids[0], [o[1:] for o in outcomes if o[0] == "A"])
            _assert_idempotent(store, ids[1], [o[1:] for o in outcomes if o[0] == "B"])
        assert execute_sql(store_config, "SELECT count(*) FROM alembic_version") == [(1,)]
    except (threading.BrokenBarrierError, queue.Empty):
        errors = []
        while not results.empty():
            errors.append(results.get())
        pytest.fail(f"a replica process failed or hung: {errors}")
    finally:
        for p in procs:
            p.join(timeout=60)
            if p.is_alive():
                p.kill()
