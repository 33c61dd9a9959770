"""Connections: the SQLAlchemy engine and making sure our database exists."""

from __future__ import annotations

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, OperationalError

from core.errors import ConfigurationError, StoreError

POOL_SIZE = 4
POOL_TIMEOUT_S = 10
CONNECT_TIMEOUT_S = 10


def connect(url: str, password: str | None = None) -> Engine:
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
    return create_engine(
        parsed,
        pool_size=POOL_SIZE,
        pool_timeout=POOL_TIMEOUT_S,
        pool_pre_ping=True,
        connect_args={"connect_timeout": CONNECT_TIMEOUT_S, "application_name": "face-kiosk"},
    )


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
