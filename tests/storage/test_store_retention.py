"""Retention: keep the last K versions plus every version something depends on."""

from __future__ import annotations

import pytest
import torch

from storage import InvalidArgumentError, NotFoundError, RetentionPolicy

from .conftest import FINGERPRINT, execute_sql, make_stm


def _grow(store, session_id: str, turns: range) -> None:
    for turn in turns:
        head = store.get_session(session_id).head_version
        store.append_interaction(session_id, turn, "q", "a", head)
        store.commit_update(session_id, turn, head, make_stm(100 + turn))


def _versions(store, session_id: str) -> list[int]:
    return [v.version for v in store.list_versions(session_id)]


def _blob_count(config) -> int:
    return execute_sql(config, "SELECT count(*) FROM stm_blobs")[0][0]


def test_prune_keeps_the_last_k_versions_and_frees_their_blobs(store_config, store):
    sid = store.create_session(make_stm(0), fingerprint=FINGERPRINT).session_id
    _grow(store, sid, range(5))
    result = store.prune(RetentionPolicy(keep_last=2), sid)
    assert (result.versions_deleted, result.blobs_deleted) == (4, 4)
    assert _versions(store, sid) == [4, 5]
    assert _blob_count(store_config) == 2
    assert torch.equal(store.load_stm(sid).stm, make_stm(104))
    with pytest.raises(NotFoundError, match="has no version 1 \\(never written, or pruned\\)"):
        store.load_stm(sid, 1)
    assert store.prune(RetentionPolicy(keep_last=2), sid).versions_deleted == 0


def test_prune_keeps_the_head_after_a_rollback(store):
    sid = store.create_session(make_stm(0), fingerprint=FINGERPRINT).session_id
    _grow(store, sid, range(3))
    store.rollback(sid, 1)  # head 4 shares version 1's blob
    store.prune(RetentionPolicy(keep_last=1), sid)
    assert _versions(store, sid) == [4]
    assert torch.equal(store.load_stm(sid).stm, make_stm(100))


def test_prune_keeps_the_start_version_of_a_pending_interaction(store):
    sid = store.create_session(make_stm(0), fingerprint=FINGERPRINT).session_id
    _grow(store, sid, range(3))
    store.append_interaction(sid, 3, "q", "a", 1)  # a slow replica generated turn 3 from version 1
    store.prune(RetentionPolicy(keep_last=1), sid)
    assert _versions(store, sid) == [1, 3]


def test_prune_keeps_fork_points_and_forks_keep_their_memory(store_config, store):
    sid = store.create_session(make_stm(0), fingerprint=FINGERPRINT).session_id
    _grow(store, sid, range(4))
    fork = store.fork_session(sid, 2)
    result = store.prune(RetentionPolicy(keep_last=1))  # every session
    assert _versions(store, sid) == [2, 4]
    assert _versions(store, fork.session_id) == [0]
    assert result.versions_deleted == 3
    store.delete_session(sid)
    assert torch.equal(store.load_stm(fork.session_id).stm, make_stm(101))
    assert _blob_count(store_config) == 1


def test_retention_needs_at_least_one_version():
    with pytest.raises(InvalidArgumentError, match="keep_last must be >= 1"):
        RetentionPolicy(keep_last=0)


def test_pruning_an_unknown_session_is_not_found(store):
    with pytest.raises(NotFoundError):
        store.prune(RetentionPolicy(keep_last=3), "nope")
