"""Sessions, snapshots and the interaction log: the behaviour the service builds on."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import torch

from storage import (
    AlreadyExistsError,
    InteractionStatus,
    InvalidArgumentError,
    NotFoundError,
    SessionClosedError,
    SessionStore,
    StoreConfig,
    VersionConflictError,
    VersionKind,
)

from .conftest import FINGERPRINT, make_stm


def _turn(store: SessionStore, session_id: str, turn: int, stm: torch.Tensor) -> int:
    """One full turn as the service runs it: load head, log the turn, commit the update."""
    head = store.load_stm(session_id).info.version
    store.append_interaction(session_id, turn, f"q{turn}", f"a{turn}", head)
    return store.commit_update(session_id, turn, head, stm).version


def test_create_then_load_returns_the_initial_memory_at_version_0(store):
    stm = make_stm(0)
    info = store.create_session(
        stm, fingerprint=FINGERPRINT, tenant="acme", agent="helper", metadata={"k": 1}
    )
    assert (info.head_version, info.tenant, info.agent, info.metadata) == (0, "acme", "helper", {"k": 1})
    assert info.created_at.tzinfo is UTC
    snapshot = store.load_stm(info.session_id)
    assert snapshot.info.version == 0
    assert snapshot.info.kind is VersionKind.CREATE
    assert snapshot.info.shape == tuple(stm.shape)
    assert torch.equal(snapshot.stm, stm)


def test_sessions_survive_reopening_the_database(store_config):
    stm = make_stm(1)
    with SessionStore(store_config) as first:
        sid = first.create_session(stm, fingerprint=FINGERPRINT).session_id
        _turn(first, sid, 0, stm * 2)
    with SessionStore(store_config) as second:
        assert second.get_session(sid).head_version == 1
        assert torch.equal(second.load_stm(sid).stm, stm * 2)
        assert torch.equal(second.load_stm(sid, 0).stm, stm)


def test_commit_makes_a_new_version_and_keeps_the_old_one(store):
    sid = store.create_session(make_stm(0), fingerprint=FINGERPRINT).session_id
    versions = [_turn(store, sid, turn, make_stm(10 + turn)) for turn in range(3)]
    assert versions == [1, 2, 3]
    history = store.list_versions(sid)
    assert [(v.version, v.parent_version, v.kind, v.turn) for v in history] == [
        (0, None, VersionKind.CREATE, None),
        (1, 0, VersionKind.UPDATE, 0),
        (2, 1, VersionKind.UPDATE, 1),
        (3, 2, VersionKind.UPDATE, 2),
    ]
    assert torch.equal(store.load_stm(sid, 2).stm, make_stm(11))
    assert torch.equal(store.load_stm(sid).stm, make_stm(12))


def test_commit_marks_the_interaction_applied_with_its_version_and_timings(store):
    sid = store.create_session(make_stm(0), fingerprint=FINGERPRINT).session_id
    pending = store.append_interaction(sid, 0, "hello", "hi there", 0, timings={"ttft_ms": 21.0})
    assert pending.status is InteractionStatus.PENDING
    assert store.get_session(sid).next_turn == 1
    store.commit_update(sid, 0, 0, make_stm(1), timings={"update_ms": 28.5})
    [logged] = store.list_interactions(sid)
    assert (logged.query, logged.answer, logged.from_version) == ("hello", "hi there", 0)
    assert (logged.status, logged.applied_version) == (InteractionStatus.APPLIED, 1)
    assert logged.timings == {"ttft_ms": 21.0, "update_ms": 28.5}
    assert logged.applied_at is not None
    assert store.list_pending() == []


def test_committing_the_same_turn_twice_yields_one_version(store):
    sid = store.create_session(make_stm(0), fingerprint=FINGERPRINT).session_id
    store.append_interaction(sid, 0, "q", "a", 0)
    first = store.commit_update(sid, 0, 0, make_stm(1))
    again = store.commit_update(sid, 0, 0, make_stm(2))
    assert (first.version, first.created) == (1, True)
    assert (again.version, again.created) == (1, False)
    assert [v.version for v in store.list_versions(sid)] == [0, 1]
    assert torch.equal(store.load_stm(sid).stm, make_stm(1))


def test_a_stale_commit_is_refused_and_never_overwrites(store):
    sid = store.create_session(make_stm(0), fingerprint=FINGERPRINT).session_id
    store.append_interaction(sid, 0, "q0", "a0", 0)
    store.append_interaction(sid, 1, "q1", "a1", 0)
    store.commit_update(sid, 0, 0, make_stm(1))
    with pytest.raises(VersionConflictError, match="expected head version 0, but the head is 1") as caught:
        store.commit_update(sid, 1, 0, make_stm(2))
    assert (caught.value.expected, caught.value.actual) == (0, 1)
    assert torch.equal(store.load_stm(sid).stm, make_stm(1))
    assert [p.turn for p in store.list_pending(sid)] == [1]


def test_append_is_idempotent_for_identical_content_and_refuses_different_content(store):
    sid = store.create_session(make_stm(0), fingerprint=FINGERPRINT).session_id
    first = store.append_interaction(sid, 0, "q", "a", 0)
    assert store.append_interaction(sid, 0, "q", "a", 0) == first
    with pytest.raises(AlreadyExistsError, match="turn 0 is already logged with different content"):
        store.append_interaction(sid, 0, "q", "another answer", 0)


def test_fork_starts_a_new_session_from_any_version_without_copying(store_config, store):
    sid = store.create_session(make_stm(0), fingerprint=FINGERPRINT, tenant="t1", agent="a1").session_id
    _turn(store, sid, 0, make_stm(1))
    _turn(store, sid, 1, make_stm(2))
    fork = store.fork_session(sid, 1, new_session_id="fork-1")
    assert (fork.session_id, fork.head_version, fork.tenant, fork.agent) == ("fork-1", 0, "t1", "a1")
    assert (fork.forked_from_session_id, fork.forked_from_version) == (sid, 1)
    assert torch.equal(store.load_stm("fork-1").stm, make_stm(1))
    assert store.list_versions("fork-1")[0].kind is VersionKind.FORK
    # The fork's version 0 shares the parent's blob: 3 blobs for the parent, none added.
    assert execute_count(store_config, "stm_blobs") == 3
    # The fork evolves independently of its parent.
    _turn(store, "fork-1", 0, make_stm(7))
    assert torch.equal(store.load_stm(sid).stm, make_stm(2))
    assert torch.equal(store.load_stm("fork-1").stm, make_stm(7))


def test_fork_defaults_to_the_head(store):
    sid = store.create_session(make_stm(0), fingerprint=FINGERPRINT).session_id
    _turn(store, sid, 0, make_stm(1))
    fork = store.fork_session(sid)
    assert fork.forked_from_version == 1
    assert torch.equal(store.load_stm(fork.session_id).stm, make_stm(1))


def test_rollback_writes_a_new_head_holding_the_old_memory_and_keeps_history(store):
    sid = store.create_session(make_stm(0), fingerprint=FINGERPRINT).session_id
    for turn in range(3):
        _turn(store, sid, turn, make_stm(turn + 1))
    info = store.rollback(sid, 1)
    assert info.head_version == 4
    head = store.load_stm(sid)
    assert (head.info.version, head.info.kind, head.info.parent_version) == (4, VersionKind.ROLLBACK, 1)
    assert torch.equal(head.stm, make_stm(1))
    assert [v.version for v in store.list_versions(sid)] == [0, 1, 2, 3, 4]
    # Turns continue from the rolled-back memory, with fresh version numbers.
    assert _turn(store, sid, 3, make_stm(9)) == 5
    assert store.list_versions(sid)[-1].parent_version == 4


def test_rollback_fails_pending_interactions_and_respects_expected_head(store):
    sid = store.create_session(make_stm(0), fingerprint=FINGERPRINT).session_id
    _turn(store, sid, 0, make_stm(1))
    store.append_interaction(sid, 1, "q", "a", 1)
    with pytest.raises(VersionConflictError):
        store.rollback(sid, 0, expected_head_version=0)
    store.rollback(sid, 0, expected_head_version=1)
    assert store.list_pending(sid) == []
    [_, superseded] = store.list_interactions(sid)
    assert superseded.status is InteractionStatus.FAILED
    assert "rolled back to version 0" in superseded.error
    with pytest.raises(VersionConflictError):
        store.commit_update(sid, 1, 1, make_stm(5))


def test_rollback_to_the_head_changes_nothing(store):
    sid = store.create_session(make_stm(0), fingerprint=FINGERPRINT).session_id
    assert store.rollback(sid, 0).head_version == 0
    assert len(store.list_versions(sid)) == 1


def test_closed_sessions_can_be_read_and_forked_but_not_written(store):
    sid = store.create_session(make_stm(0), fingerprint=FINGERPRINT).session_id
    store.append_interaction(sid, 0, "q", "a", 0)
    closed = store.close_session(sid)
    assert closed.closed and store.close_session(sid).closed_at == closed.closed_at
    assert torch.equal(store.load_stm(sid).stm, make_stm(0))
    with pytest.raises(SessionClosedError, match="is closed"):
        store.commit_update(sid, 0, 0, make_stm(1))
    with pytest.raises(SessionClosedError):
        store.append_interaction(sid, 1, "q", "a", 0)
    with pytest.raises(SessionClosedError):
        store.rollback(sid, 0)
    assert store.fork_session(sid).head_version == 0


def test_delete_removes_the_session_but_not_its_forks(store_config, store):
    sid = store.create_session(make_stm(0), fingerprint=FINGERPRINT).session_id
    _turn(store, sid, 0, make_stm(1))
    fork = store.fork_session(sid, 1)
    store.delete_session(sid)
    with pytest.raises(NotFoundError):
        store.get_session(sid)
    with pytest.raises(NotFoundError):
        store.list_interactions(sid)
    assert torch.equal(store.load_stm(fork.session_id).stm, make_stm(1))
    assert execute_count(store_config, "stm_blobs") == 1  # only the blob the fork still uses
    store.delete_session(fork.session_id)
    assert execute_count(store_config, "stm_blobs") == 0


def test_list_sessions_filters_by_tenant_state_and_idle_time(store):
    a = store.create_session(make_stm(0), fingerprint=FINGERPRINT, tenant="acme").session_id
    b = store.create_session(make_stm(0), fingerprint=FINGERPRINT, tenant="acme").session_id
    store.create_session(make_stm(0), fingerprint=FINGERPRINT, tenant="other")
    store.close_session(b)
    assert {s.session_id for s in store.list_sessions(tenant="acme")} == {a, b}
    assert [s.session_id for s in store.list_sessions(tenant="acme", include_closed=False)] == [a]
    future = datetime.now(UTC) + timedelta(hours=1)
    assert len(store.list_sessions(updated_before=future)) == 3
    assert store.list_sessions(updated_before=datetime.now(UTC) - timedelta(hours=1)) == []


def test_duplicate_session_id_is_refused(store):
    store.create_session(make_stm(0), fingerprint=FINGERPRINT, session_id="s-1")
    with pytest.raises(AlreadyExistsError, match="'s-1' already exists"):
        store.create_session(make_stm(1), fingerprint=FINGERPRINT, session_id="s-1")
    with pytest.raises(AlreadyExistsError):
        store.fork_session("s-1", new_session_id="s-1")


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"session_id": "has space"}, "session id"),
        ({"session_id": "x" * 129}, "session id"),
        ({"fingerprint": ""}, "fingerprint"),
        ({"stm": torch.zeros(1, 2, 8, 16)}, r"\[layers, slots, dim\]"),
        ({"stm": torch.zeros(2, 8, 16, dtype=torch.int64)}, "cannot store an STM"),
        ({"metadata": {"when": object()}}, "metadata must be JSON-serialisable"),
    ],
)
def test_bad_arguments_are_refused_with_a_clear_error(store, kwargs, match):
    args = {"stm": make_stm(0), "fingerprint": FINGERPRINT} | kwargs
    with pytest.raises(InvalidArgumentError, match=match):
        store.create_session(args.pop("stm"), **args)


def test_commit_refuses_an_stm_of_another_shape(store):
    sid = store.create_session(make_stm(0), fingerprint=FINGERPRINT).session_id
    store.append_interaction(sid, 0, "q", "a", 0)
    with pytest.raises(InvalidArgumentError, match=r"shape \[2, 8, 16\], refusing one of shape \[2, 8, 32\]"):
        store.commit_update(sid, 0, 0, make_stm(1, (2, 8, 32)))
    assert store.get_session(sid).head_version == 0


def test_half_precision_storage_loads_back_as_the_model_dtype(tmp_path):
    with SessionStore(StoreConfig(url=tmp_path / "half.db", storage_dtype="float16")) as store:
        stm = make_stm(0)
        sid = store.create_session(stm, fingerprint=FINGERPRINT).session_id
        snapshot = store.load_stm(sid, dtype=torch.float32)
        assert snapshot.info.dtype == "float16"
        assert snapshot.stm.dtype == torch.float32
        assert torch.allclose(snapshot.stm, stm, rtol=1e-3, atol=1e-3)


def execute_count(config: StoreConfig, table: str) -> int:
    from .conftest import execute_sql

    return execute_sql(config, f"SELECT count(*) FROM {table}")[0][0]
