"""Alembic environment: always given a live connection by storage.migrate."""

from __future__ import annotations

from alembic import context

import storage.area_schema  # its tables join Base.metadata, as the next line's do
import storage.pin_schema  # its table joins Base.metadata
import storage.rules_schema  # noqa: F401 - its tables join Base.metadata
from storage.schema import Base
from storage.vector_index import INDEX_NAME


def include_object(
    item: object, name: str | None, kind: str, reflected: bool, compare_to: object
) -> bool:
    # The HNSW index is over an expression (embedding::halfvec), which the models
    # cannot state; storage/vector_index.py and migration 0004 own it.
    return not (kind == "index" and name == INDEX_NAME)


connection = context.config.attributes.get("connection")
if connection is None:
    raise SystemExit("run migrations through storage.migrate (kiosk-admin does it on start)")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    compare_type=True,
    include_object=include_object,
    transaction_per_migration=True,
)
with context.begin_transaction():
    context.run_migrations()
