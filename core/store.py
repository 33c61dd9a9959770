"""What the services need from persistent storage; ``storage`` implements it.

Each method is one transaction: it commits whole or not at all. A method an
operator calls on their behalf takes them as ``actor`` (for an enrollment, the
consent's witness) and authorizes them against their account as it is in that
same transaction (``core.accounts.permissions.authorize_current``): raising
SessionExpired if it changed since their login, NotAllowed if they may not.
Such a refusal is audited in a transaction of its own, once the refused
action's transaction has rolled back.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Iterator, Sequence
from datetime import timedelta
from typing import Any, Protocol

from core.faces import Embedding
from core.log_records import (
    AccessEntry,
    AnchorReading,
    AuditEntry,
    ChainedAccessEntry,
    ChainHead,
    LogFilter,
)
from core.records import (
    AccessDecision,
    Candidate,
    Deletion,
    Enrollment,
    Operator,
    PersonDetail,
    PersonSummary,
    ReenrollmentNeeded,
)


class DenialLog(Protocol):
    def record_denial(
        self, operator: Operator, permission: str, *, session_ended: bool = False
    ) -> None:
        """Audit that ``operator`` was refused ``permission`` ("delete_people"), in a
        transaction of its own (the refusal that follows must not roll it back);
        never raises. ``session_ended``: refused because the account changed
        since the login; ``operator`` is then the account as it is now."""
        ...


class AccessEventSink(Protocol):
    def record_access(self, decision: AccessDecision) -> None:
        """Keep the event; raises StoreError only if it could not be kept at all."""
        ...


class IdentityStore(DenialLog, Protocol):
    def enroll(self, enrollment: Enrollment, *, dry_run: bool = False) -> uuid.UUID:
        """Store the person, their consent and every template, with an audit event.

        One enrollment at a time per database: raise AlreadyEnrolled, naming the
        person (and giving their id), if a template or probe is already at or above
        ``duplicate_threshold`` to an enrolled person's of its model, counting
        enrollments that finished a moment ago (or if the external reference belongs
        to an enrolled person), and ReenrollmentPending if someone is enrolled only
        with a model that neither the templates nor the probes are of. ``dry_run``:
        every check runs, nothing is stored."""
        ...

    def people_with_external_refs(
        self, external_refs: Collection[str], *, actor: Operator
    ) -> dict[str, PersonSummary]:
        """The active people with these external references (badges), by reference."""
        ...

    def similarities_to_person(
        self, person_id: uuid.UUID, embeddings: Sequence[Embedding], model: str
    ) -> list[float]:
        """Each embedding's best similarity to the person's templates, exactly."""
        ...

    def record_refused_enrollment(self, operator: Operator, reason: str, images: int) -> None:
        """Audit a refused enrollment: who, why (a short code) and how many images;
        never a name or anything biometric. Its own transaction; never raises."""
        ...

    def nearest_people(
        self, embedding: Embedding, model: str, candidates: int, ef_search: int
    ) -> list[Candidate]:
        """Active people among the ``candidates`` nearest templates, best similarity each."""
        ...

    def record_access(self, decision: AccessDecision) -> None: ...

    def people(
        self,
        search: str | None,
        limit: int,
        *,
        actor: Operator,
        lacking_model: str | None = None,
    ) -> list[PersonSummary]:
        """Active people by name; ``search`` matches part of a name or external reference
        as people read them (core.enrollment.names.name_key). ``lacking_model``: only
        those with templates, none of that model (they must be re-enrolled)."""
        ...

    def reenrollment_needed(self, model: str) -> ReenrollmentNeeded:
        """How many active people have templates but none of ``model``, and of which
        models theirs are. No names: anyone who may identify may know it."""
        ...

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

    def purge_expired(self, retention: timedelta, actor: Operator, batch: int) -> list[uuid.UUID]:
        """Delete everyone not recognised or enrolled within ``retention``, in
        transactions of at most ``batch`` people; each deletion audited."""
        ...


class AuditLog(DenialLog, Protocol):
    def audit_events(self, limit: int, only: LogFilter, *, actor: Operator) -> list[AuditEntry]:
        """The newest matching events first."""
        ...

    def audit_chain(self, *, actor: Operator) -> Iterator[AuditEntry]:
        """Every event, oldest first."""
        ...

    def access_chain(self, *, actor: Operator) -> Iterator[ChainedAccessEntry]:
        """Every access event with every stored field, oldest first."""
        ...

    def anchored_heads(self) -> AnchorReading:
        """The chain heads kept outside the database, their signature checked."""
        ...

    def replace_anchor(
        self, heads: dict[str, ChainHead], actor: Operator, details: dict[str, object]
    ) -> str:
        """Anchor ``heads`` even if behind the anchor in place, keep the old anchor
        file aside, and audit it as "audit.reanchored" with ``details``, if
        ``actor`` may re-anchor now; returns where the old anchor was kept (or
        that there was none)."""
        ...

    def access_events(self, limit: int, only: LogFilter, *, actor: Operator) -> list[AccessEntry]:
        """The newest matching access decisions first."""
        ...

    def record_verify_failure(self, actor: Operator, problems: list[str]) -> None:
        """Audit a verify that found the logs tampered with (kiosks alert on it)."""
        ...


class SettingsStore(DenialLog, Protocol):
    def stored_settings(self, kiosk_id: str) -> dict[str, Any]:
        """Values set for every kiosk, with ``kiosk_id``'s own values over them."""
        ...

    def save_settings(self, changes: dict[str, tuple[str, Any, Any]], actor: Operator) -> None:
        """key -> (scope, old, new), stored and audited in one transaction; scope "*"
        is every kiosk, else a kiosk id."""
        ...

    def record_local_values(self, kiosk_id: str, values: dict[str, Any]) -> bool:
        """Audit the values ``kiosk_id`` took from outside the database (key -> details),
        unless they are what was last recorded for it (nothing at all: nothing to
        record); the check and the append are one serialised step. Returns whether an
        event was added."""
        ...
