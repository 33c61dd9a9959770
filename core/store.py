"""What the services need from persistent storage; ``storage`` implements it.

Each method is one transaction: it commits whole or not at all. A method an
operator calls on their behalf takes them as ``actor`` (for an enrollment, the
consent's witness) and authorizes them against their account as it is in that
same transaction (``core.accounts.permissions.authorize_current``): raising
SessionExpired if it changed since their login, NotAllowed if they may not.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any, Protocol

from core.faces import Embedding
from core.records import (
    AccessDecision,
    AccessEntry,
    AuditEntry,
    Candidate,
    Deletion,
    Enrollment,
    LogFilter,
    Operator,
    PersonDetail,
    PersonSummary,
)


class AccessEventSink(Protocol):
    def record_access(self, decision: AccessDecision) -> None:
        """Keep the event; raises StoreError only if it could not be kept at all."""
        ...


class IdentityStore(Protocol):
    def enroll(self, enrollment: Enrollment) -> uuid.UUID:
        """Store the person, their consent and every template, with an audit event.

        One enrollment at a time per database: raise NotAllowed, naming the
        person, if a template is already at or above ``duplicate_threshold`` to
        an enrolled person's, counting enrollments that finished a moment ago."""
        ...

    def nearest_people(
        self, embedding: Embedding, model: str, candidates: int, ef_search: int
    ) -> list[Candidate]:
        """Active people among the ``candidates`` nearest templates, best similarity each."""
        ...

    def record_access(self, decision: AccessDecision) -> None: ...

    def people(self, search: str | None, limit: int, *, actor: Operator) -> list[PersonSummary]: ...

    def count_people(self) -> int:
        """Active (enrolled, not deleted) people."""
        ...

    def person(self, person_id: uuid.UUID, *, actor: Operator) -> PersonDetail:
        """Raise NotFound if no such person was ever enrolled."""
        ...

    def delete_person(self, person_id: uuid.UUID, actor: Operator) -> Deletion:
        """Delete every template, withdraw consent, erase the name; audited."""
        ...

    def withdraw_consent(self, person_id: uuid.UUID, actor: Operator) -> Deletion:
        """Delete every template and mark consent withdrawn; audited."""
        ...

    def purge_expired(self, retention: timedelta, actor: Operator) -> list[uuid.UUID]:
        """Delete everyone not recognised or enrolled within ``retention``; audited."""
        ...


class AuditLog(Protocol):
    def audit_events(self, limit: int, only: LogFilter, *, actor: Operator) -> list[AuditEntry]:
        """The newest matching events first."""
        ...

    def audit_chain(self, *, actor: Operator) -> Iterator[AuditEntry]:
        """Every event, oldest first."""
        ...

    def access_events(self, limit: int, only: LogFilter, *, actor: Operator) -> list[AccessEntry]:
        """The newest matching access decisions first."""
        ...


class SettingsStore(Protocol):
    def stored_settings(self, kiosk_id: str) -> dict[str, Any]:
        """Values set for every kiosk, with ``kiosk_id``'s own values over them."""
        ...

    def save_settings(self, changes: dict[str, tuple[str, Any, Any]], actor: Operator) -> None:
        """key -> (scope, old, new), stored and audited in one transaction; scope "*"
        is every kiosk, else a kiosk id."""
        ...
