"""The Alembic migrations build exactly the schema the ORM models describe, on both backends."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from storage import SessionStore
from storage.database import Database
from storage.migrate import alembic_config, current_revision, head_revision
from storage.models import Base

from .conftest import FINGERPRINT, make_stm, raw_engine


def test_migrated_schema_matches_the_models(store_config, store):
    engine = raw_engine(store_config)
    try:
        with engine.connect() as conn:
            differences = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    finally:
        engine.dispose()
    assert differences == []


def test_a_fresh_database_is_created_at_the_newest_revision(store_config):
    db = Database(store_config)
    try:
        assert current_revision(db) is None
        with SessionStore(store_config):
            pass
        assert current_revision(db) == head_revision()
        tables = set(inspect(db.engine).get_table_names())
        assert {"sessions", "stm_blobs", "stm_versions", "interactions", "alembic_version"} <= tables
    finally:
        db.dispose()


def test_downgrade_then_upgrade_round_trips(store_config, store):
    store.create_session(make_stm(0), fingerprint=FINGERPRINT)
    store.close()
    db = Database(store_config)
    try:
        with db.engine.begin() as conn:
            command.downgrade(alembic_config(conn), "base")
        assert current_revision(db) is None
        assert "sessions" not in inspect(db.engine).get_table_names()
    finally:
        db.dispose()
    with SessionStore(store_config) as reopened:
        assert reopened.list_sessions() == []
