"""What the services need from persistent storage; ``storage`` implements it.

Each method is one transaction: it commits whole or not at all.
"""

from __future__ import annotations

import uuid
from typing import Protocol

from core.faces import Embedding
from core.records import (
    AccessEvent,
    AuditEntry,
    Candidate,
    Deletion,
    Enrollment,
    Operator,
    PersonDetail,
    PersonSummary,
    Role,
)


class IdentityStore(Protocol):
    def add_first_operator(self, username: str, password_hash: str, role: Role) -> Operator:
        """Create the first operator; raise NotAllowed if any operator exists."""
        ...

    def find_operator(self, username: str) -> Operator | None: ...

    def enroll(self, enrollment: Enrollment) -> uuid.UUID:
        """Store the person, their consent and every template, with an audit event."""
        ...

    def nearest_people(
        self, embedding: Embedding, model: str, candidates: int, ef_search: int
    ) -> list[Candidate]:
        """Active people among the ``candidates`` nearest templates, best similarity each."""
        ...

    def record_access(self, event: AccessEvent) -> None: ...

    def people(self, search: str | None, limit: int) -> list[PersonSummary]: ...

    def count_people(self) -> int:
        """Active (enrolled, not deleted) people."""
        ...

    def person(self, person_id: uuid.UUID) -> PersonDetail:
        """Raise NotFound if no such person was ever enrolled."""
        ...

    def delete_person(self, person_id: uuid.UUID, actor: Operator) -> Deletion:
        """Delete every template, withdraw consent, erase the name; audited."""
        ...

    def audit_events(self, limit: int) -> list[AuditEntry]:
        """The newest events first."""
        ...
