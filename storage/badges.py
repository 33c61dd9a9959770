"""A person's badge number, for the door controller (osdp_reader.grants.BadgeBook)."""

from __future__ import annotations

import uuid

from sqlalchemy import Engine, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import sessionmaker

from core.errors import StoreError
from storage import schema
from storage.answer_deadline import deadline_of


class SqlBadgeBook:
    """Thread-safe: every call opens its own Session from a shared pool."""

    def __init__(self, engine: Engine) -> None:
        self._deadline = deadline_of(engine)
        self._sessions = sessionmaker(engine)

    def badge_number(self, person_id: uuid.UUID) -> str | None:
        """None for a person without one, or no longer enrolled. Raises StoreError
        when the database does not answer within its deadline."""
        # Someone waits at the door: a server that never answers costs at most the deadline.
        try:
            with self._deadline.bounded(), self._sessions() as session:
                return session.scalar(
                    select(schema.Person.external_ref).where(
                        schema.Person.id == person_id, schema.Person.status == "active"
                    )
                )
        except DBAPIError as error:
            raise StoreError(
                f"the badge number cannot be read ({type(error.orig).__name__}); "
                "the database is unreachable"
            ) from error
