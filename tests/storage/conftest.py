"""Fixtures: every store test runs on SQLite and, when RXT_TEST_DATABASE_URL is set, PostgreSQL.

Each PostgreSQL test gets its own schema (dropped afterwards), so reruns and parallel runs of
the suite against one database never see each other's rows.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
import torch
from sqlalchemy import Engine, create_engine, text

from storage import SessionStore, StoreConfig

PG_URL = os.environ.get("RXT_TEST_DATABASE_URL")
PG_SKIP_REASON = "RXT_TEST_DATABASE_URL is not set: PostgreSQL storage tests skipped"
SHAPE = (2, 8, 16)
FINGERPRINT = "model-a"

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


def make_stm(seed: int, shape: tuple[int, ...] = SHAPE) -> torch.Tensor:
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed))


@pytest.fixture(params=BACKENDS)
def store_config(request: pytest.FixtureRequest, tmp_path) -> Iterator[StoreConfig]:
    """A fresh, empty database on each backend."""
    if request.param == "sqlite":
        yield StoreConfig(url=tmp_path / "rxt.db")
        return
    if not PG_URL:
        pytest.skip(PG_SKIP_REASON)
    schema = f"rxt_test_{uuid.uuid4().hex[:12]}"
    yield StoreConfig(url=PG_URL, schema=schema)
    engine = create_engine(PG_URL)
    with engine.begin() as conn:
        conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    engine.dispose()


@pytest.fixture
def store(store_config: StoreConfig) -> Iterator[SessionStore]:
    with SessionStore(store_config) as s:
        yield s


def raw_engine(config: StoreConfig) -> Engine:
    """An engine on the store's database that bypasses the store (same schema on PostgreSQL)."""
    connect_args = {"options": f"-c search_path={config.schema}"} if config.schema else {}
    return create_engine(config.database_url, connect_args=connect_args)


def execute_sql(config: StoreConfig, statement: str, **params: object) -> list[tuple]:
    """Run raw SQL behind the store's back (to corrupt a blob, inspect the schema, ...)."""
    engine = raw_engine(config)
    try:
        with engine.begin() as conn:
            result = conn.execute(text(statement), params)
            return [tuple(row) for row in result] if result.returns_rows else []
    finally:
        engine.dispose()
