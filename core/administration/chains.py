"""The two hash chains (audit and access events) and their comparison with the anchor.

Each event's hash covers its content and the hash of the event before it, so a
changed or removed row breaks a link. What links alone cannot show (the newest
events deleted, the table emptied, or a row rewritten with every later hash
recomputed) shows against the anchor: the chain's head (count and hash), kept
and signed outside the database by the kiosk that appended (storage/chain_anchor.py).

Hashing and verification live here, in plain Python, so a check never trusts
code stored in the database it is checking.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from core.records import AnchorReading, AnchorStatus, AuditEntry, ChainedAccessEntry, ChainHead

GENESIS_HASH = "0" * 64
SHOWN_HASH_CHARS = 16
"""How much of a hash a one-line message shows; JSON output has them whole."""


class Chain(StrEnum):
    AUDIT = "audit"
    ACCESS = "access"


def chain_hash(
    prev_hash: str,
    occurred_at: datetime,
    actor: str,
    action: str,
    target: str | None,
    details: Mapping[str, object],
) -> str:
    """An audit event's hash (hex SHA-256)."""
    return _digest(
        {
            "prev": prev_hash,
            "at": _moment(occurred_at),
            "actor": actor,
            "action": action,
            "target": target,
            "details": details,
        }
    )


def access_chain_hash(
    prev_hash: str,
    event_id: uuid.UUID,
    occurred_at: datetime,
    kiosk_id: str,
    outcome: str,
    person_id: uuid.UUID | None,
    similarity: float | None,
    latency_ms: float,
    source: str,
    refusal: str | None = None,
) -> str:
    """An access event's hash (hex SHA-256), over every field but the row id: its
    ``source`` too, so a CLI identification cannot be made a door's decision, and
    the rule that refused (hashed only when set, so events stored before rules
    existed keep their hashes)."""
    fields: dict[str, object] = {
        "prev": prev_hash,
        "event": str(event_id),
        "at": _moment(occurred_at),
        "kiosk": kiosk_id,
        "outcome": outcome,
        "person": str(person_id) if person_id is not None else None,
        # repr-exact: a float8 read back is the float that was hashed.
        "similarity": float(similarity) if similarity is not None else None,
        "latency_ms": float(latency_ms),
        "source": source,
    }
    if refusal is not None:
        fields["refusal"] = refusal
    return _digest(fields)


def _moment(occurred_at: datetime) -> str:
    return occurred_at.astimezone(UTC).isoformat(timespec="microseconds")


def _digest(fields: Mapping[str, object]) -> str:
    payload = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def short(digest: str) -> str:
    return digest[:SHOWN_HASH_CHARS]


@dataclass(frozen=True)
class Link:
    """One stored event as the walk sees it."""

    event_id: int
    prev_hash: str
    hash: str
    recomputed: str
    """The hash computed here from the row's content."""


@dataclass(frozen=True)
class BrokenLink:
    chain: Chain
    event_id: int | None
    """The row where the problem shows; None when rows are missing at the end."""
    problem: str
    against_anchor: bool = False
    """True when only the anchor shows it: every link holds, the head does not."""

    def __str__(self) -> str:
        if self.event_id is None:
            return f"{self.chain} log: {self.problem}"
        return f"{self.chain} event {self.event_id}: {self.problem}"


@dataclass(frozen=True)
class ChainReport:
    chain: Chain
    checked: int
    """Events whose links hold, from the first."""
    broken: BrokenLink | None
    end: ChainHead
    """Where the walk ended: ``checked`` events, the last one's hash."""
    expected: ChainHead | None = None
    """The anchored head, when this machine anchored this chain."""
    found: ChainHead | None = None
    """The head the log holds at the anchored count (or its end, if shorter)."""

    @property
    def after_anchor(self) -> int:
        """Events newer than the anchored head: appended since, or by other kiosks."""
        if self.expected is None or self.broken is not None:
            return 0
        return self.end.count - self.expected.count

    def summary(self) -> str:
        if self.broken is not None:
            return str(self.broken)
        text = (
            f"{self.chain} log intact: {self.checked} event(s), every hash chains to the one before"
        )
        if self.expected is None:
            return f"{text}; no anchor for it here, so deleted newest events would not show"
        return f"{text}; the anchor's {self.expected.count} event(s) match" + (
            f", {self.after_anchor} newer" if self.after_anchor else ""
        )


def verify_chain(entries: Iterable[AuditEntry], anchor: ChainHead | None = None) -> ChainReport:
    """Walk the audit events in id order; report the first one that breaks the chain,
    or, with ``anchor``, a head that differs from it."""
    return walk(Chain.AUDIT, _audit_links(entries), anchor)


def verify_access_chain(
    entries: Iterable[ChainedAccessEntry], anchor: ChainHead | None = None
) -> ChainReport:
    return walk(Chain.ACCESS, _access_links(entries), anchor)


def walk(chain: Chain, links: Iterable[Link], anchor: ChainHead | None) -> ChainReport:
    expected_prev = GENESIS_HASH
    checked = 0
    at_anchor: tuple[int | None, str] | None = (
        (None, GENESIS_HASH) if anchor is not None and anchor.count == 0 else None
    )
    for link in links:
        problem = None
        if link.prev_hash != expected_prev:
            problem = "does not follow the event before it (an event was removed or reordered)"
        elif link.recomputed != link.hash:
            problem = "its content no longer matches its hash (the row was changed)"
        if problem is not None:
            end = ChainHead(checked, expected_prev)
            return ChainReport(chain, checked, BrokenLink(chain, link.event_id, problem), end)
        expected_prev = link.hash
        checked += 1
        if anchor is not None and checked == anchor.count:
            at_anchor = (link.event_id, link.hash)
    end = ChainHead(checked, expected_prev)
    if anchor is None:
        return ChainReport(chain, checked, None, end)
    if at_anchor is None:
        problem = (
            f"the anchor kept outside the database expects {anchor.count} event(s) ending in "
            f"hash {short(anchor.hash)}, but the log holds only {checked} (ending in "
            f"{short(end.hash)}): its newest events were deleted, or it was emptied"
        )
        broken = BrokenLink(chain, None, problem, against_anchor=True)
        return ChainReport(chain, checked, broken, end, anchor, end)
    event_id, found_hash = at_anchor
    found = ChainHead(anchor.count, found_hash)
    if found_hash != anchor.hash:
        problem = (
            f"event number {anchor.count} has hash {short(found_hash)} but the anchor kept "
            f"outside the database recorded {short(anchor.hash)}: the log was rewritten and "
            "its hashes recomputed"
        )
        broken = BrokenLink(chain, event_id, problem, against_anchor=True)
        return ChainReport(chain, checked, broken, end, anchor, found)
    return ChainReport(chain, checked, None, end, anchor, found)


def _audit_links(entries: Iterable[AuditEntry]) -> Iterator[Link]:
    for e in entries:
        recomputed = chain_hash(e.prev_hash, e.occurred_at, e.actor, e.action, e.target, e.details)
        yield Link(e.id, e.prev_hash, e.hash, recomputed)


def _access_links(entries: Iterable[ChainedAccessEntry]) -> Iterator[Link]:
    for e in entries:
        recomputed = access_chain_hash(
            e.prev_hash,
            e.event_id,
            e.occurred_at,
            e.kiosk_id,
            e.outcome,
            e.person_id,
            e.similarity,
            e.latency_ms,
            e.source,
            e.refusal,
        )
        yield Link(e.id, e.prev_hash, e.hash, recomputed)


@dataclass(frozen=True)
class LogsReport:
    """``kiosk-admin audit verify``: both chains, each against the anchor here."""

    audit: ChainReport
    access: ChainReport
    anchor: AnchorReading

    @property
    def problems(self) -> list[str]:
        found = [str(r.broken) for r in (self.audit, self.access) if r.broken is not None]
        if self.anchor.status is AnchorStatus.UNTRUSTED:
            found.append(f"the anchor cannot be trusted: {self.anchor.problem}")
        return found

    @property
    def intact(self) -> bool:
        return not self.problems

    def summary(self) -> list[str]:
        lines = [self.audit.summary(), self.access.summary()]
        if self.anchor.status is AnchorStatus.UNTRUSTED:
            lines.append(f"the anchor cannot be trusted: {self.anchor.problem}")
        elif self.anchor.status is AnchorStatus.NONE:
            lines.append(f"no anchor: {self.anchor.where}")
        else:
            lines.append(f"anchor: {self.anchor.where}")
        return lines
