"""Connections: the SQLAlchemy engine and making sure our database exists."""

from __future__ import annotations

from typing import Any

import psycopg
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, OperationalError

from core.errors import ConfigurationError, StoreError
from core.service_settings import DatabaseSettings
from storage.answer_deadline import AnswerDeadline

POOL_SIZE = 4
# A bounded pool: a central server must be able to count on each kiosk's share.
MAX_OVERFLOW = 2
POOL_TIMEOUT_S = 10
CONNECT_TIMEOUT_S = 10
# A server that starts dropping packets under an open connection: libpq gives up on
# unacknowledged data after TCP_USER_TIMEOUT_MS, and keepalives find a dead peer on
# an idle one within KEEPALIVES_IDLE_S + KEEPALIVES_COUNT * KEEPALIVES_INTERVAL_S.
# Without them a pooled connection waits for the kernel's default, many minutes.
TCP_USER_TIMEOUT_MS = 10_000
KEEPALIVES_IDLE_S = 5
KEEPALIVES_INTERVAL_S = 2
KEEPALIVES_COUNT = 3
# Every connection of ours, whatever its pool (libpq ignores the TCP ones on a socket).
CONNECTION_ARGS: dict[str, Any] = {
    "connect_timeout": CONNECT_TIMEOUT_S,
    "application_name": "face-kiosk",
    "tcp_user_timeout": TCP_USER_TIMEOUT_MS,
    "keepalives": 1,
    "keepalives_idle": KEEPALIVES_IDLE_S,
    "keepalives_interval": KEEPALIVES_INTERVAL_S,
    "keepalives_count": KEEPALIVES_COUNT,
}


def connect(
    url: str,
    password: str | None = None,
    *,
    query_deadline_s: float = DatabaseSettings().query_deadline_s,
) -> Engine:
    """An engine on ``url``, its connections watched by an AnswerDeadline of
    ``query_deadline_s`` (storage.answer_deadline), which also tests a pooled
    connection at checkout as pool_pre_ping would. Raises ConfigurationError for a
    URL that is not PostgreSQL's."""
    try:
        parsed = make_url(url)
    except ArgumentError as error:
        raise ConfigurationError(
            "database URL is not valid; expected postgresql://user@host:port/database"
        ) from error
    if parsed.get_backend_name() != "postgresql":
        raise ConfigurationError(
            f"database URL names {parsed.get_backend_name()}; only PostgreSQL is supported"
        )
    parsed = parsed.set(drivername="postgresql+psycopg")
    if password is not None:
        parsed = parsed.set(password=password)
    engine = create_engine(
        parsed,
        pool_size=POOL_SIZE,
        max_overflow=MAX_OVERFLOW,
        pool_timeout=POOL_TIMEOUT_S,
        connect_args=CONNECTION_ARGS,
    )
    event.listen(engine, "connect", register_vector_types)
    AnswerDeadline(query_deadline_s).guard(engine, ping=True)
    return engine


def register_vector_types(connection: Any, _record: Any) -> None:
    """Let psycopg send numpy embeddings as binary pgvector values: the search's
    hand-written SQL binds them directly, without a text round trip."""
    from pgvector.psycopg import register_vector

    try:
        register_vector(connection)
    except psycopg.ProgrammingError:
        # The extension is created by the first migration; upgrade() drops these
        # connections afterwards, so later ones register the type.
        connection.rollback()


def ensure_database(admin_url: str, name: str) -> None:
    """Create database ``name`` on the server at ``admin_url`` if it is missing."""
    engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            exists = connection.scalar(
                text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}
            )
            if not exists:
                connection.execute(text(f'CREATE DATABASE "{name}"'))
    except OperationalError as error:
        raise StoreError(f"cannot reach the database server: {error.orig}") from error
    finally:
        engine.dispose()


def describe_url(url: str) -> str:
    """The URL with any password hidden, safe for messages and logs."""
    return make_url(url).render_as_string(hide_password=True)
