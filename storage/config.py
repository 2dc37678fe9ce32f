"""Small typed options of the store: where the database is, and how snapshots are kept."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from storage.errors import InvalidArgumentError

StorageDtype = Literal["float32", "float16", "bfloat16"]
_SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


@dataclass(frozen=True, slots=True)
class StoreConfig:
    """How to reach the database.

    `url` is a SQLAlchemy URL (`sqlite:///var/rxt.db`, `postgresql+psycopg://user@host/db`) or a
    plain file path, which means SQLite at that path.
    """

    url: str | Path
    schema: str | None = None
    """PostgreSQL only: keep every table in this schema (created if missing). Lets several
    deployments or test runs share one database without colliding."""
    storage_dtype: StorageDtype | None = None
    """Cast snapshots to this dtype before storing; None keeps the tensor's own dtype."""
    sqlite_synchronous: Literal["NORMAL", "FULL"] = "NORMAL"
    """NORMAL survives process crashes; FULL also the last commits before a power loss."""
    sqlite_page_size: int = 16384
    """SQLite page size, used only when the file is created. Large pages make multi-MiB blobs
    cheap (a 3 MiB insert measured here: 64 ms with 4 KiB pages, 18 ms with 16 or 64 KiB);
    small pages make small rows cheap (a nano STM commit: 1.4 ms with 4 KiB, 1.8 ms with 16 KiB,
    2.4 ms with 64 KiB). 16 KiB is the compromise for both model sizes."""
    busy_timeout_s: float = 30.0
    """How long a SQLite writer waits for another writer's lock before failing."""
    pool_size: int = 8
    """Database connections kept open (and threads of `AsyncSessionStore`)."""

    def __post_init__(self) -> None:
        if self.schema is not None and not _SCHEMA_NAME.match(self.schema):
            raise InvalidArgumentError(f"schema name {self.schema!r} must match {_SCHEMA_NAME.pattern}")
        if self.storage_dtype not in (None, "float32", "float16", "bfloat16"):
            raise InvalidArgumentError(
                f"storage_dtype must be float32, float16 or bfloat16, got {self.storage_dtype!r}"
            )
        if self.sqlite_page_size not in {2**k for k in range(9, 17)}:
            raise InvalidArgumentError(
                f"sqlite_page_size must be a power of two in [512, 65536], got {self.sqlite_page_size}"
            )
        if self.pool_size < 1:
            raise InvalidArgumentError(f"pool_size must be >= 1, got {self.pool_size}")

    @property
    def database_url(self) -> str:
        """`url` as a SQLAlchemy URL string (a bare path becomes `sqlite:///<absolute path>`)."""
        text = str(self.url)
        if "://" in text:
            return text
        return f"sqlite:///{Path(text).expanduser().resolve()}"


@dataclass(frozen=True, slots=True)
class RetentionPolicy:
    """Keep the newest `keep_last` versions of a session, plus every version something depends
    on: the head, the start version of a pending interaction, and a version another session was
    forked from."""

    keep_last: int

    def __post_init__(self) -> None:
        if self.keep_last < 1:
            raise InvalidArgumentError(f"keep_last must be >= 1, got {self.keep_last}")
