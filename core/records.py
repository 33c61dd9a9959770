"""Domain records passed between the services and the store."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum

from core.faces import Embedding


class Role(StrEnum):
    ADMIN = "admin"
    ENROLLER = "enroller"
    AUDITOR = "auditor"


class PersonStatus(StrEnum):
    ACTIVE = "active"
    DELETED = "deleted"


class AccessOutcome(StrEnum):
    GRANTED = "granted"
    UNKNOWN = "unknown"
    NO_FACE = "no_face"
    OFFLINE = "offline"
    """Denied because the gallery could not be searched: the database was unreachable."""
    LIVENESS_FAILED = "liveness_failed"
    """Matched, but the liveness challenge was not met: denied."""


@dataclass(frozen=True)
class Operator:
    id: int
    username: str
    role: Role
    disabled: bool
    password_hash: str = field(repr=False)


@dataclass(frozen=True)
class ConsentGrant:
    version: str
    text_sha256: str
    witnessed_by: Operator


@dataclass(frozen=True)
class NewTemplate:
    embedding: Embedding = field(repr=False)
    model: str
    quality: float


@dataclass(frozen=True)
class Enrollment:
    display_name: str
    external_ref: str | None
    consent: ConsentGrant
    templates: tuple[NewTemplate, ...]


@dataclass(frozen=True)
class Candidate:
    """A person near a query, with the best similarity of any of their templates."""

    person_id: uuid.UUID
    display_name: str
    similarity: float


@dataclass(frozen=True)
class ConsentRecord:
    version: str
    text_sha256: str
    given_at: datetime
    witnessed_by: str
    withdrawn_at: datetime | None


@dataclass(frozen=True)
class PersonSummary:
    id: uuid.UUID
    display_name: str
    external_ref: str | None
    status: PersonStatus
    created_at: datetime
    template_count: int


@dataclass(frozen=True)
class PersonDetail:
    summary: PersonSummary
    deleted_at: datetime | None
    last_recognized_at: datetime | None
    consents: tuple[ConsentRecord, ...]
    template_models: tuple[str, ...]


@dataclass(frozen=True)
class AccessEvent:
    kiosk_id: str
    outcome: AccessOutcome
    person_id: uuid.UUID | None
    similarity: float | None
    latency_ms: float
    event_id: uuid.UUID = field(default_factory=uuid.uuid4)
    """Given here, where the event happens: the same event sent twice is stored once."""
    occurred_at: datetime = field(default_factory=lambda: datetime.now(UTC))


@dataclass(frozen=True)
class KioskAuditEvent:
    """Something a kiosk itself reports to the audit log (it went offline, came back)."""

    kiosk_id: str
    action: str
    details: dict[str, object]
    event_id: uuid.UUID = field(default_factory=uuid.uuid4)
    occurred_at: datetime = field(default_factory=lambda: datetime.now(UTC))


@dataclass(frozen=True)
class AuditEntry:
    id: int
    occurred_at: datetime
    actor: str
    action: str
    target: str | None
    details: dict[str, object]
    prev_hash: str
    hash: str


@dataclass(frozen=True)
class AccessEntry:
    id: int
    occurred_at: datetime
    kiosk_id: str
    outcome: AccessOutcome
    person_id: uuid.UUID | None
    similarity: float | None
    latency_ms: float


@dataclass(frozen=True)
class OperatorSummary:
    username: str
    role: Role
    disabled: bool
    created_at: datetime


@dataclass(frozen=True)
class Deletion:
    person_id: uuid.UUID
    templates_deleted: int
    consents_withdrawn: int


@dataclass(frozen=True)
class LogFilter:
    """Which log entries to read; None matches anything.

    ``actor`` and ``action`` narrow the audit log, ``kiosk_id`` and
    ``outcome`` the access log; both logs honour the time window.
    """

    since: datetime | None = None
    until: datetime | None = None
    actor: str | None = None
    action: str | None = None
    """An action ("person.delete") or the start of one ("operator.")."""
    kiosk_id: str | None = None
    outcome: AccessOutcome | None = None


@dataclass(frozen=True)
class ChainedAccessEntry:
    """An access event with every stored field, as its hash chain covers it."""

    id: int
    event_id: uuid.UUID
    occurred_at: datetime
    kiosk_id: str
    outcome: str
    """As stored: a row changed behind the application's back may hold any text."""
    person_id: uuid.UUID | None
    similarity: float | None
    latency_ms: float
    prev_hash: str
    hash: str


@dataclass(frozen=True)
class ChainHead:
    """Where a hash chain ends: how many events it holds, and the last one's hash."""

    count: int
    hash: str


class AnchorStatus(StrEnum):
    ANCHORED = "anchored"
    """Heads were read from the anchor file and its signature checked."""
    NONE = "none"
    """Nothing is anchored for this database here (yet), or the store keeps no anchor."""
    UNTRUSTED = "untrusted"
    """The anchor is missing although its key exists, unreadable, or its signature fails."""


@dataclass(frozen=True)
class AnchorReading:
    """What the anchor kept outside the database says about its hash chains."""

    status: AnchorStatus
    heads: dict[str, ChainHead]
    """Chain name ("audit", "access") -> the head anchored; empty unless ANCHORED."""
    where: str
    """The anchor file, or why there is none: for messages."""
    problem: str | None = None
