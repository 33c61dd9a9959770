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

import dataclasses
import hashlib
import json
import uuid
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from core.log_records import (
    AnchoredChain,
    AnchorReading,
    AnchorStatus,
    AuditEntry,
    ChainedAccessEntry,
    ChainHead,
)

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
    occurred_at: datetime | None = None
    """When it was recorded by the database's clock; None where times need not rise
    (a spooled door decision keeps the moment it was made)."""


@dataclass(frozen=True)
class BrokenLink:
    chain: Chain
    event_id: int | None
    """The row where the problem shows; None when rows are missing at the end."""
    problem: str
    against_anchor: bool = False
    """True when every link holds and only the anchor, or the events' times, show it:
    an admin may re-anchor once it is dealt with."""

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
    """The anchored head the log was found to hold (or, if it does not, the committed
    one it should), when this machine anchored this chain."""
    found: ChainHead | None = None
    """The head the log holds at the anchored count (or its end, if shorter)."""
    newer: int = 0
    """Events after the anchored head that were not checked against it: appended
    since the check, or by other kiosks."""

    @property
    def after_anchor(self) -> int:
        """Events newer than the anchored head: appended since, or by other kiosks."""
        return 0 if self.expected is None or self.broken is not None else self.newer

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


@dataclass(frozen=True)
class AnchorPoint:
    """What one chain is checked against besides its links."""

    anchored: AnchoredChain
    instant_head: ChainHead | None = None
    """The log's newest event when the anchor was read, under the chains' lock; given
    only for a sole writer, whose log must then end at the anchored head."""
    clock_step_s: float | None = None
    """How far an event's time may go back from the one before it (a clock stepped
    back); None: times are not compared."""
    pending_committed: bool = False
    """The database says the pending head's transaction committed: its events must
    be in the log."""


def verify_chain(entries: Iterable[AuditEntry], anchor: AnchorPoint | None = None) -> ChainReport:
    """Walk the audit events in id order; report the first one that breaks the chain,
    or, with ``anchor``, a head that differs from it or events it does not vouch for."""
    return walk(Chain.AUDIT, _audit_links(entries), anchor)


def verify_access_chain(
    entries: Iterable[ChainedAccessEntry], anchor: AnchorPoint | None = None
) -> ChainReport:
    return walk(Chain.ACCESS, _access_links(entries), anchor)


def walk(chain: Chain, links: Iterable[Link], anchor: AnchorPoint | None) -> ChainReport:
    """Links first (the first broken one ends the walk), then the anchor, then the
    events' time order: the first problem found is the one reported."""
    expected_prev = GENESIS_HASH
    checked = 0
    wanted = _counts_of_interest(anchor)
    seen: dict[int, tuple[int | None, str]] = {0: (None, GENESIS_HASH)}
    out_of_order: BrokenLink | None = None
    previous: datetime | None = None
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
        if checked in wanted:
            seen[checked] = (link.event_id, link.hash)
        if out_of_order is None and anchor is not None:
            out_of_order = _out_of_order(chain, anchor, checked, link, previous)
        previous = link.occurred_at if link.occurred_at is not None else previous
    end = ChainHead(checked, expected_prev)
    if anchor is None:
        return ChainReport(chain, checked, None, end)
    report = _against_anchor(chain, anchor, seen, end)
    if report.broken is None and out_of_order is not None:
        return dataclasses.replace(report, broken=out_of_order)
    return report


def _counts_of_interest(anchor: AnchorPoint | None) -> set[int]:
    if anchor is None:
        return set()
    anchored = anchor.anchored
    heads = [anchored.committed, anchored.pending, anchor.instant_head]
    counts = {head.count for head in heads if head is not None}
    return counts | {count + 1 for count in counts}  # where events not anchored would start


def _out_of_order(
    chain: Chain, anchor: AnchorPoint, number: int, link: Link, previous: datetime | None
) -> BrokenLink | None:
    step = anchor.clock_step_s
    if step is None or previous is None or link.occurred_at is None:
        return None
    if number <= anchor.anchored.ordered_from:
        return None
    back_s = (previous - link.occurred_at).total_seconds()
    if back_s <= step:
        return None
    return BrokenLink(
        chain,
        link.event_id,
        f"is dated {_moment(link.occurred_at)}, {back_s:.0f} s before the event it "
        f"follows, though the database dates each event as it is added: a row written "
        f"in afterwards with a time of its choosing, or the database server's clock "
        f"stepped back more than {step:g} s (security.audit_clock_step_s)",
        against_anchor=True,
    )


def _against_anchor(
    chain: Chain, anchor: AnchorPoint, seen: dict[int, tuple[int | None, str]], end: ChainHead
) -> ChainReport:
    committed, pending = anchor.anchored.committed, anchor.anchored.pending
    checked = end.count

    def held(head: ChainHead | None) -> bool:
        return head is not None and head.count in seen and seen[head.count][1] == head.hash

    if pending is not None and (held(pending) or anchor.pending_committed):
        base = pending
    elif held(committed):
        base = committed
    else:
        # Neither is in the log: the newest transaction the anchor saw almost always
        # committed, so its head is the one named; the other is said too.
        base = pending or committed
    assert base is not None
    other = (
        f" (or {committed.count}, ending in {short(committed.hash)}, if its last "
        "transaction did not commit)"
        if pending is not None
        and base is pending
        and not held(pending)
        and not anchor.pending_committed
        else ""
    )
    if base.count not in seen:
        problem = (
            f"the anchor kept outside the database expects {base.count} event(s) ending in "
            f"hash {short(base.hash)}{other}, but the log holds only {checked} (ending in "
            f"{short(end.hash)}): its newest events were deleted, or it was emptied"
        )
        broken = BrokenLink(chain, None, problem, against_anchor=True)
        return ChainReport(chain, checked, broken, end, base, end)
    event_id, found_hash = seen[base.count]
    found = ChainHead(base.count, found_hash)
    if found_hash != base.hash:
        problem = (
            f"event number {base.count} has hash {short(found_hash)} but the anchor kept "
            f"outside the database recorded {short(base.hash)}{other}: the log was "
            "rewritten and its hashes recomputed"
        )
        broken = BrokenLink(chain, event_id, problem, against_anchor=True)
        return ChainReport(chain, checked, broken, end, base, found)
    instant = anchor.instant_head
    if instant is None:
        return ChainReport(chain, checked, None, end, base, found, newer=checked - base.count)
    if instant.count not in seen or seen[instant.count][1] != instant.hash:
        problem = (
            f"the log ended at event number {instant.count} (hash {short(instant.hash)}) when "
            "its anchor was read, and no longer holds that event: it was cut or rewritten "
            "during the check"
        )
        broken = BrokenLink(chain, seen.get(instant.count, (None, ""))[0], problem, True)
        return ChainReport(chain, checked, broken, end, base, found)
    if instant.count > base.count:
        first_id = seen.get(base.count + 1, (None, ""))[0]
        problem = (
            f"is the first of {instant.count - base.count} event(s) after the head "
            f"anchored outside the database (event number {base.count}, hash "
            f"{short(base.hash)}), which no process of this kiosk's data folder anchored: "
            "added behind the kiosk's back (forged at the end of the log), or written while "
            "the anchor could not be (the kiosk's log says so)"
        )
        broken = BrokenLink(chain, first_id, problem, against_anchor=True)
        return ChainReport(chain, checked, broken, end, base, found)
    return ChainReport(chain, checked, None, end, base, found, newer=checked - instant.count)


def _audit_links(entries: Iterable[AuditEntry]) -> Iterator[Link]:
    for e in entries:
        recomputed = chain_hash(e.prev_hash, e.occurred_at, e.actor, e.action, e.target, e.details)
        # The database's clock dates audit events as they are added, under the chains' lock.
        yield Link(e.id, e.prev_hash, e.hash, recomputed, e.occurred_at)


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
