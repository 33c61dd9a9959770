"""Bring the schema up to date, safely when several kiosks start at once."""

from __future__ import annotations

import importlib.resources
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, text

# Any fixed number shared by every kiosk: serialises concurrent upgrades.
_MIGRATION_LOCK_KEY = 7_301_520_114


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    scripts = Path(str(importlib.resources.files("migrations")))
    config.set_main_option("script_location", str(scripts))
    config.attributes["connection"] = connection
    return config


def upgrade(engine: Engine) -> None:
    with engine.connect() as connection:
        # Session-level lock, held across Alembic's own transactions.
        connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": _MIGRATION_LOCK_KEY})
        connection.commit()
        try:
            command.upgrade(alembic_config(connection), "head")
            connection.commit()
        finally:
            connection.execute(
                text("SELECT pg_advisory_unlock(:key)"), {"key": _MIGRATION_LOCK_KEY}
            )
            connection.commit()
    # Connections opened before the vector extension existed could not register
    # its types (storage.database); start the pool afresh.
    engine.dispose()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()
