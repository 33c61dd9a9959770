"""Open the store a front end works with: embedded by default, or a server by URL."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError

from core.errors import StoreError
from storage.database import connect, describe_url, ensure_database
from storage.embedded import DATABASE_NAME, EmbeddedServer
from storage.identity_store import SqlIdentityStore
from storage.migrate import upgrade

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class OpenStore:
    identity: SqlIdentityStore
    engine: Engine
    location: str
    """Where the data lives, for people: a folder or a URL without its password."""


@contextmanager
def open_store(data_dir: Path, database_url: str | None) -> Iterator[OpenStore]:
    """Connect, bring the schema up to date, and close everything on exit."""
    server: EmbeddedServer | None = None
    if database_url is None:
        server = EmbeddedServer(data_dir / "postgres")
        url = server.start()
        ensure_database(server.admin_url(), DATABASE_NAME)
        location = f"embedded PostgreSQL in {server.pgdata}"
    else:
        url = database_url
        location = describe_url(database_url)
    engine = connect(url)
    try:
        try:
            upgrade(engine)
        except OperationalError as error:
            raise StoreError(
                f"cannot reach the database at {location}: {str(error.orig).strip()}"
            ) from error
        log.info("store ready: %s", location)
        yield OpenStore(SqlIdentityStore(engine), engine, location)
    finally:
        engine.dispose()
        if server is not None:
            server.close()
