"""Appending to the audit and access hash chains, and anchoring what was appended.

One advisory lock serialises every append to either chain, on every kiosk that
shares the database, so each event chains to the one before it. It is one lock
for both chains so that a transaction appending to both (a spool flush) cannot
deadlock with another; and it is taken after every row lock its transaction
takes (callers append last, and a batch locks its people first,
storage/access_chain.py), so that it never waits on a row lock held by a
transaction that itself waits for the chain.
"""

from __future__ import annotations

import logging
import weakref
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, event, func, or_, select
from sqlalchemy.orm import Session

from core.administration.chains import GENESIS_HASH, short
from core.records import ChainHead
from storage.chain_anchor import AnchorState, ChainAnchor, Unanchored

log = logging.getLogger(__name__)

# Any fixed number: the key every kiosk's appends wait on.
EVENT_CHAINS_LOCK = 7_301_520_115
_PENDING = "chain_heads_to_anchor"


def lock_chains(session: Session) -> None:
    """Wait for the chains, until the transaction ends."""
    session.execute(select(func.pg_advisory_xact_lock(EVENT_CHAINS_LOCK)))


@dataclass(frozen=True)
class Position:
    """Where a new event goes: its number in the chain and the hash it follows."""

    seq: int
    prev_hash: str
    checked: AnchorState


def next_position(session: Session, table: Any, chain: str) -> Position:
    """The place at the end of ``chain`` (``table``: AuditEvent or AccessEvent).

    Call with the chain lock held. The first append of a transaction also checks
    that the head anchored here is still in the log: if it is gone or its hash
    changed, the log was cut or rewritten, the append goes ahead (the door never
    waits on this) but the anchor stays where it is, for verify to report.
    """
    anchor = anchor_for(session)
    checked = checked_in_transaction(session, chain)
    anchored: ChainHead | None = None
    if checked is None:
        checked = anchor.state(chain) if anchor is not None else Unanchored.SKIP
        if isinstance(checked, ChainHead) and checked.count > 0:
            anchored = checked
    newest = table.id == select(func.max(table.id)).scalar_subquery()
    condition = or_(newest, table.seq == anchored.count) if anchored is not None else newest
    rows = session.execute(select(table.id, table.seq, table.hash).where(condition)).all()
    head = max(rows, key=lambda row: row.id, default=None)
    if anchored is not None and anchor is not None:
        at_anchor = next((row for row in rows if row.seq == anchored.count), None)
        if at_anchor is None or at_anchor.hash != anchored.hash:
            found = short(at_anchor.hash) if at_anchor is not None else "no event"
            anchor.report_once(
                f"the {chain} log no longer holds the head anchored in {anchor.where} "
                f"(event number {anchored.count}, hash {short(anchored.hash)}; found {found}): "
                "it was cut short or rewritten, and the anchor stays where it is"
            )
            checked = Unanchored.SKIP
    if head is None:
        return Position(1, GENESIS_HASH, checked)
    return Position(head.seq + 1, head.hash, checked)


# --- which engine anchors where, and the heads a transaction appended ---------------------

_ANCHORS: weakref.WeakKeyDictionary[Engine, ChainAnchor] = weakref.WeakKeyDictionary()


def attach_anchor(engine: Engine, anchor: ChainAnchor) -> None:
    """Every transaction on ``engine`` that appends to a chain advances ``anchor``."""
    _ANCHORS[engine] = anchor


def anchor_for(session: Session) -> ChainAnchor | None:
    bind = session.get_bind()
    engine = bind.engine if isinstance(bind, Connection) else bind
    return _ANCHORS.get(engine)


@dataclass(frozen=True)
class _Pending:
    head: ChainHead
    checked: AnchorState


def checked_in_transaction(session: Session, chain: str) -> AnchorState | None:
    """What this transaction's first append to ``chain`` found anchored; None before it."""
    pending: dict[str, _Pending] = session.info.get(_PENDING, {})
    return pending[chain].checked if chain in pending else None


def note_head(session: Session, chain: str, position: Position, digest: str) -> None:
    """Remember the new head of ``chain``, to anchor once the transaction commits."""
    pending: dict[str, _Pending] = session.info.setdefault(_PENDING, {})
    pending[chain] = _Pending(ChainHead(position.seq, digest), position.checked)


# Listened for on every Session, so each store's transactions anchor what they
# append, whoever opened them; only engines with an attached anchor do anything.
@event.listens_for(Session, "after_commit")
def _anchor_after_commit(session: Session) -> None:
    pending: dict[str, _Pending] = session.info.pop(_PENDING, {})
    anchor = anchor_for(session) if pending else None
    if anchor is None:
        return
    for chain, appended in pending.items():
        try:
            anchor.advance(chain, appended.head, appended.checked)
        except Exception as error:  # noqa: BLE001 - committed already; the next append anchors it
            anchor.report_once(f"the audit anchor {anchor.where} could not be advanced: {error}")


@event.listens_for(Session, "after_rollback")
def _forget_after_rollback(session: Session) -> None:
    session.info.pop(_PENDING, None)
