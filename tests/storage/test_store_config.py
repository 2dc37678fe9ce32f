"""StoreConfig: a path means SQLite; malformed options fail when the config is built."""

from __future__ import annotations

from pathlib import Path

import pytest

from storage import InvalidArgumentError, SessionStore, StoreConfig


def test_a_plain_path_means_sqlite_at_that_absolute_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert StoreConfig(url="var/rxt.db").database_url == f"sqlite:///{tmp_path / 'var' / 'rxt.db'}"
    assert StoreConfig(url=Path("/x/y.db")).database_url == "sqlite:////x/y.db"
    url = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
    assert StoreConfig(url=url).database_url == url


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"schema": "Robert'); DROP TABLE sessions;--"}, "schema name"),
        ({"storage_dtype": "int8"}, "storage_dtype"),
        ({"sqlite_page_size": 3000}, "sqlite_page_size"),
        ({"pool_size": 0}, "pool_size"),
    ],
)
def test_malformed_options_are_refused(options, match):
    with pytest.raises(InvalidArgumentError, match=match):
        StoreConfig(url="rxt.db", **options)


def test_an_in_memory_sqlite_database_is_refused():
    with pytest.raises(InvalidArgumentError, match="not an in-memory database"):
        SessionStore("sqlite:///:memory:")
