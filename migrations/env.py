"""Alembic environment: always given a live connection by storage.migrate."""

from __future__ import annotations

from alembic import context

from storage.schema import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise SystemExit("run migrations through storage.migrate (kiosk-admin does it on start)")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    compare_type=True,
    transaction_per_migration=True,
)
with context.begin_transaction():
    context.run_migrations()
