"""Records of the audit log and the access log: what is written, what is read back,
and how each chain of entries is anchored."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum

from core.records import AccessOutcome, DecisionSource, Refusal


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
    source: DecisionSource = DecisionSource.DOOR
    refusal: Refusal | None = None


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
    source: str
    """As stored, like ``outcome``: "door" or "cli" (DecisionSource)."""
    refusal: str | None
    """As stored, like ``outcome``."""
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
class AnchoredChain:
    """One hash chain as the anchor outside the database keeps it."""

    committed: ChainHead
    """A head known to be in the log: every later append chains from it."""
    pending: ChainHead | None = None
    """The head the newest appending transaction anchored just before it committed:
    in the log if that transaction committed, nowhere if it rolled back."""
    pending_xact: int | None = None
    """That transaction's PostgreSQL id (xid8): the database's commit log tells
    whether it committed, so its events missing from the log were deleted."""
    ordered_from: int = 0
    """Events numbered above this are checked for time order; an admin's re-anchoring
    moves it past events already looked into."""


@dataclass(frozen=True)
class AnchorReading:
    """What the anchor kept outside the database says about its hash chains."""

    status: AnchorStatus
    chains: dict[str, AnchoredChain]
    """Chain name ("audit", "access") -> what is anchored; empty unless ANCHORED."""
    where: str
    """The anchor file, or why there is none: for messages."""
    problem: str | None = None
    log_heads: dict[str, ChainHead] = field(default_factory=dict)
    """Chain name -> the log's newest event when the anchor was read, both under the
    chains' lock (no append in between); empty when not read so."""
    sole_writer: bool = False
    """Only processes using this anchor append to the database (the embedded one):
    every event must then be anchored, and one that is not was added behind their back."""
    pending_committed: frozenset[str] = frozenset()
    """Chains whose pending head's transaction the database says committed."""

    @property
    def heads(self) -> dict[str, ChainHead]:
        """Chain name -> the head known committed."""
        return {chain: anchored.committed for chain, anchored in self.chains.items()}
