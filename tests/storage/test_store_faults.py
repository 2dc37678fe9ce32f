"""Bad input and faults: corrupt or foreign snapshots, unknown ids, a crash mid-update."""

from __future__ import annotations

import multiprocessing
import time

import pytest
import torch
from sqlalchemy import text

from storage import (
    CorruptSnapshotError,
    FingerprintMismatchError,
    InteractionStatus,
    InvalidArgumentError,
    NotFoundError,
    SessionStore,
    StoreConfig,
)

from . import _workers
from .conftest import FINGERPRINT, execute_sql, make_stm, raw_engine


def _blob(config: StoreConfig) -> bytes:
    [(data,)] = execute_sql(config, "SELECT data FROM stm_blobs")
    return bytes(data)


def _overwrite_blob(config: StoreConfig, data: bytes, checksum: str | None = None) -> None:
    if checksum is None:
        execute_sql(config, "UPDATE stm_blobs SET data = :data", data=data)
    else:
        execute_sql(
            config, "UPDATE stm_blobs SET data = :data, checksum = :checksum", data=data, checksum=checksum
        )


def test_a_flipped_byte_is_refused_naming_the_snapshot(store_config, store):
    sid = store.create_session(make_stm(0), fingerprint=FINGERPRINT, session_id="s1").session_id
    data = bytearray(_blob(store_config))
    data[-1] ^= 0x01
    _overwrite_blob(store_config, bytes(data))
    with pytest.raises(CorruptSnapshotError, match="session 's1' version 0: checksum mismatch"):
        store.load_stm(sid)


def test_a_truncated_blob_is_refused(store_config, store):
    sid = store.create_session(make_stm(0), fingerprint=FINGERPRINT).session_id
    _overwrite_blob(store_config, _blob(store_config)[:-100])
    with pytest.raises(CorruptSnapshotError, match="truncated or corrupted"):
        store.load_stm(sid)


def test_a_truncated_blob_with_a_matching_checksum_is_still_refused(store_config, store):
    from storage.blobs import checksum

    sid = store.create_session(make_stm(0), fingerprint=FINGERPRINT).session_id
    short = _blob(store_config)[:-100]
    _overwrite_blob(store_config, short, checksum(short))
    with pytest.raises(CorruptSnapshotError, match="not a valid safetensors STM blob"):
        store.load_stm(sid)


def test_a_blob_that_disagrees_with_its_row_is_refused(store_config, store):
    from rxt_core.stm_codec import encode_stm
    from storage.blobs import checksum

    sid = store.create_session(make_stm(0), fingerprint=FINGERPRINT).session_id
    other = encode_stm(make_stm(0, (2, 8, 8)))
    _overwrite_blob(store_config, other, checksum(other))
    with pytest.raises(
        CorruptSnapshotError, match=r"blob holds float32\[2, 8, 8\], but the snapshot row says"
    ):
        store.load_stm(sid)


def test_a_snapshot_of_another_model_is_refused(store):
    sid = store.create_session(make_stm(0), fingerprint="model-a").session_id
    assert store.load_stm(sid, fingerprint="model-a").info.fingerprint == "model-a"
    with pytest.raises(
        FingerprintMismatchError, match="written by model 'model-a', refusing to load it into model 'model-b'"
    ):
        store.load_stm(sid, fingerprint="model-b")
    store.append_interaction(sid, 0, "q", "a", 0)
    with pytest.raises(FingerprintMismatchError, match="refusing an STM computed by model 'model-b'"):
        store.commit_update(sid, 0, 0, make_stm(1), fingerprint="model-b")
    assert store.get_session(sid).head_version == 0
    assert store.list_pending(sid)[0].status is InteractionStatus.PENDING


def test_unknown_session_version_or_turn_is_not_found(store):
    sid = store.create_session(make_stm(0), fingerprint=FINGERPRINT, session_id="known").session_id
    cases = [
        (lambda: store.get_session("nope"), "session 'nope' does not exist"),
        (lambda: store.load_stm("nope"), "session 'nope' does not exist"),
        (lambda: store.load_stm(sid, 7), "session 'known' has no version 7"),
        (lambda: store.list_versions("nope"), "session 'nope' does not exist"),
        (lambda: store.fork_session(sid, 3), "session 'known' has no version 3"),
        (lambda: store.rollback(sid, 5), "session 'known' has no version 5"),
        (lambda: store.append_interaction("nope", 0, "q", "a", 0), "session 'nope' does not exist"),
        (lambda: store.commit_update(sid, 4, 0, make_stm(1)), "session 'known' has no logged turn 4"),
        (lambda: store.commit_update("nope", 0, 0, make_stm(1)), "session 'nope' does not exist"),
        (lambda: store.mark_failed(sid, 9, "boom"), "has no logged turn 9"),
        (lambda: store.delete_session("nope"), "session 'nope' does not exist"),
    ]
    for call, message in cases:
        with pytest.raises(NotFoundError, match=message):
            call()


@pytest.mark.parametrize(("turn", "version"), [(-1, 0), (0, -2), (True, 0)])
def test_negative_or_non_integer_turns_and_versions_are_refused(store, turn, version):
    sid = store.create_session(make_stm(0), fingerprint=FINGERPRINT).session_id
    with pytest.raises(InvalidArgumentError, match="non-negative integer"):
        store.append_interaction(sid, turn, "q", "a", version)


def test_mark_failed_records_the_error_but_never_unapplies(store):
    sid = store.create_session(make_stm(0), fingerprint=FINGERPRINT).session_id
    store.append_interaction(sid, 0, "q", "a", 0)
    store.append_interaction(sid, 1, "q", "a", 0)
    store.commit_update(sid, 0, 0, make_stm(1))
    assert store.mark_failed(sid, 0, "late failure").status is InteractionStatus.APPLIED
    failed = store.mark_failed(sid, 1, "encoder crashed")
    assert (failed.status, failed.error) == (InteractionStatus.FAILED, "encoder crashed")
    assert store.list_pending(sid) == []


def test_a_crash_mid_update_leaves_the_turn_pending_and_replayable(store_config, store, tmp_path):
    """A process logs a turn, starts its commit and is killed inside it; nothing is half-written."""
    sid = store.create_session(make_stm(0), fingerprint=FINGERPRINT).session_id
    ready, go = tmp_path / "ready", tmp_path / "go"
    child = multiprocessing.get_context("spawn").Process(
        target=_workers.append_then_crash, args=(store_config, sid, ready, go)
    )
    child.start()
    deadline = time.monotonic() + 120
    while not ready.exists() and child.is_alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert ready.exists(), "the child process never logged its turn"
    with _write_lock(store_config, sid):
        go.write_text("commit now")
        time.sleep(0.5)  # let it get into commit_update, where it waits for our lock
        child.kill()
        child.join()
    with SessionStore(store_config) as recovered:
        [pending] = recovered.list_pending()
        assert (pending.session_id, pending.turn, pending.from_version) == (sid, 0, 0)
        assert recovered.get_session(sid).head_version == 0
        assert [v.version for v in recovered.list_versions(sid)] == [0]
        replay = recovered.commit_update(sid, pending.turn, pending.from_version, make_stm(5))
        assert (replay.version, replay.created) == (1, True)
        assert recovered.list_pending() == []
        assert torch.equal(recovered.load_stm(sid).stm, make_stm(5))


class _write_lock:
    """Hold the database's write lock for this session (SQLite: the file; PostgreSQL: the row)."""

    def __init__(self, config: StoreConfig, session_id: str) -> None:
        self.engine = raw_engine(config)
        self.session_id = session_id

    def __enter__(self) -> None:
        self.conn = self.engine.connect()
        if self.engine.dialect.name == "sqlite":
            self.conn.connection.driver_connection.isolation_level = None
            self.conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            self.conn.begin()
            self.conn.execute(
                text("SELECT 1 FROM sessions WHERE id = :id FOR UPDATE"), {"id": self.session_id}
            )

    def __exit__(self, *exc_info: object) -> None:
        if self.engine.dialect.name == "sqlite":
            self.conn.exec_driver_sql("ROLLBACK")
        else:
            self.conn.rollback()
        self.conn.close()
        self.engine.dispose()
