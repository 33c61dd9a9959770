"""Alembic migrations; run through storage.migrate, not the alembic CLI."""
