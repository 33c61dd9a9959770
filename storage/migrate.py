"""Bring the schema up to date, safely when several kiosks start at once, and refuse a
database whose schema is newer than this installation knows.

Kiosks sharing one database may run different releases during a rolling upgrade
(docs/central-server.md, "Upgrading"): the first process of a newer release to start
migrates the shared schema. A process of an older release then refuses to start on
it (``upgrade`` raises SchemaNewer), and one already running keeps its door closed:
the door's rules read returns the schema's revision with every decision
(storage.rules_store), checked by ``check_revision``.
"""

from __future__ import annotations

import importlib.resources
from functools import cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, text

from core.errors import SchemaNewer

# Any fixed number shared by every kiosk: serialises concurrent upgrades.
_MIGRATION_LOCK_KEY = 7_301_520_114


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    scripts = Path(str(importlib.resources.files("migrations")))
    config.set_main_option("script_location", str(scripts))
    config.attributes["connection"] = connection
    return config


def upgrade(engine: Engine) -> None:
    """Migrate the database to this installation's head. Raises SchemaNewer, changing
    nothing, when the database is at a revision this installation does not know."""
    with engine.connect() as connection:
        # Session-level lock, held across Alembic's own transactions.
        connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": _MIGRATION_LOCK_KEY})
        connection.commit()
        try:
            # Read under the lock: another kiosk's upgrade has finished by now.
            check_revision(MigrationContext.configure(connection).get_current_revision())
            connection.commit()
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


@cache
def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


@cache
def known_revisions() -> frozenset[str]:
    """Every revision this installation's migrations define."""
    scripts = ScriptDirectory.from_config(alembic_config())
    return frozenset(script.revision for script in scripts.walk_revisions())


def check_revision(revision: str | None) -> None:
    """SchemaNewer if ``revision`` (the database's; None: an empty database) is not one
    of this installation's migrations: a newer release migrated the database."""
    if revision is None or revision in known_revisions():
        return
    raise SchemaNewer(
        f"the database is newer than this kiosk: its schema is at revision {revision[:32]!r}, "
        f"which this installation (schema {head_revision()}) does not know; upgrade the "
        "kiosk to the release that migrated the database (docs/central-server.md, "
        "'Upgrading')"
    )
