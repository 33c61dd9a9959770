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
from core.settings import DatabaseSettings, EmbeddedServerSettings, SecuritySettings
from storage.audit_log import SqlAuditLog
from storage.chain_anchor import ANCHOR_FOLDER, ChainAnchor, anchor_database
from storage.database import connect, describe_url, ensure_database
from storage.embedded import DATABASE_NAME, EmbeddedServer
from storage.event_chains import attach_anchor
from storage.identity_store import SqlIdentityStore
from storage.migrate import upgrade
from storage.operator_store import SqlOperatorStore
from storage.rules_store import SqlRulesStore
from storage.secrets import find_database_password
from storage.settings_store import SqlSettingsStore

log = logging.getLogger(__name__)

_AUTH_FAILURES = ("password authentication failed", "no password supplied")


@dataclass(frozen=True)
class OpenStore:
    identity: SqlIdentityStore
    operators: SqlOperatorStore
    audit: SqlAuditLog
    settings: SqlSettingsStore
    rules: SqlRulesStore
    engine: Engine
    location: str
    """Where the data lives, for people: a folder or a URL without its password."""
    anchor: ChainAnchor
    """The audit chains' heads, kept in the data folder (storage/chain_anchor.py)."""
    server: EmbeddedServer | None = None
    """The embedded server this store runs on; None for an external database."""


@contextmanager
def open_store(
    data_dir: Path,
    database_url: str | None,
    env_password: str | None = None,
    server_settings: EmbeddedServerSettings | None = None,
    *,
    anchor_lock_s: float = SecuritySettings().audit_anchor_lock_s,
    query_deadline_s: float = DatabaseSettings().query_deadline_s,
) -> Iterator[OpenStore]:
    """Connect, bring the schema up to date, and close everything on exit.

    ``env_password`` is KIOSK_DATABASE_PASSWORD as the front end read it; an
    external server's password otherwise comes from the OS keyring.
    ``server_settings`` bound the embedded server's start and stop. Every append
    to the audit and access chains is anchored in ``data_dir``/audit, waiting at
    most ``anchor_lock_s`` for its lock. The door's calls give the database at most
    ``query_deadline_s`` to answer (storage.answer_deadline).
    """
    server: EmbeddedServer | None = None
    password_note = ""
    if database_url is None:
        server = EmbeddedServer(data_dir / "postgres", server_settings)
        url = server.start()
        ensure_database(server.admin_url(), DATABASE_NAME)
        location = f"embedded PostgreSQL in {server.pgdata}"
        engine = connect(url, query_deadline_s=query_deadline_s)
    else:
        location = describe_url(database_url)
        password = find_database_password(database_url, env_password)
        password_note = f"password from {password.source}"
        engine = connect(database_url, password.value, query_deadline_s=query_deadline_s)
    try:
        try:
            upgrade(engine)
        except OperationalError as error:
            reason = str(error.orig).strip().splitlines()[0] if error.orig else str(error)
            hint = f" ({password_note})" if any(a in reason for a in _AUTH_FAILURES) else ""
            raise StoreError(f"cannot reach the database at {location}: {reason}{hint}") from error
        log.info("store ready: %s", location)
        # The embedded server is reached only through this data folder: its processes are
        # the only writers, so an event their anchor does not vouch for was forged.
        anchor = ChainAnchor(
            data_dir / ANCHOR_FOLDER,
            anchor_database(database_url),
            anchor_lock_s,
            sole_writer=database_url is None,
        )
        attach_anchor(engine, anchor)
        yield OpenStore(
            SqlIdentityStore(engine),
            SqlOperatorStore(engine),
            SqlAuditLog(engine, anchor),
            SqlSettingsStore(engine),
            SqlRulesStore(engine),
            engine,
            location,
            anchor,
            server,
        )
    finally:
        engine.dispose()
        if server is not None:
            server.close()
