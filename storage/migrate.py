"""Create or upgrade the store's schema with Alembic, programmatically, when a store opens.

No alembic.ini is needed: the configuration is built here and the migration scripts ship in
`storage/migrations`. Several processes may open one database at the same time: on PostgreSQL
the upgrade holds a transaction-level advisory lock, on SQLite a `BEGIN IMMEDIATE` write lock,
so exactly one of them migrates and the others then find the schema current.

To add a revision after changing `storage/models.py` (autogenerate against a current database):

    python -c "from storage.migrate import revision; revision('sqlite:///rxt.db', 'what changed')"
"""

from __future__ import annotations

import functools
import logging
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, text

from storage.config import StoreConfig
from storage.database import Database

logger = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
_ADVISORY_LOCK_KEY = 0x52585453544F5245  # "RXTSTORE"


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic config for our scripts; `connection` is what `migrations/env.py` runs on."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    return config


def upgrade(db: Database) -> None:
    """Bring the database to the newest revision in one transaction (creating the schema if
    needed). A database already there costs one read and takes no write lock."""
    if current_revision(db) == head_revision():
        return
    with db.engine.connect() as conn:
        conn.execution_options(rxt_write=True)
        with conn.begin():
            if db.dialect == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _ADVISORY_LOCK_KEY})
                if db.config.schema is not None:
                    conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{db.config.schema}"'))
            command.upgrade(alembic_config(conn), "head")
    logger.info("schema of %s upgraded to %s", db.engine.url.render_as_string(), head_revision())


def current_revision(db: Database) -> str | None:
    """The revision the database is at (None for an empty database)."""
    with db.engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


@functools.cache
def head_revision() -> str:
    """The newest revision shipped with this code."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None, f"no migration scripts in {MIGRATIONS_DIR}"
    return head


def revision(url: str, message: str) -> None:
    """Developer helper: autogenerate a new migration script from the models' changes."""
    db = Database(StoreConfig(url=url))
    try:
        with db.engine.connect() as conn:
            command.revision(alembic_config(conn), message=message, autogenerate=True)
    finally:
        db.dispose()
