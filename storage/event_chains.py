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

from sqlalchemy import Connection, Engine, event, func, or_, select, text
from sqlalchemy.orm import Session

from core.administration.chains import GENESIS_HASH, short
from core.log_records import AnchoredChain, ChainHead
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
    """What the transaction's first append found anchored."""
    base: ChainHead
    """The log's head the anchor vouches for, before this transaction's events."""
    xact: int
    """This transaction's PostgreSQL id (xid8), anchored with its pending head."""


def next_position(session: Session, table: Any, chain: str) -> Position:
    """The place at the end of ``chain`` (``table``: AuditEvent or AccessEvent).

    Call with the chain lock held. The first append of a transaction also checks
    the anchor against the log: its pending head is in the log if the transaction
    that anchored it committed (the database's commit log says whether it did),
    else its committed head must be; and for a sole writer nothing may follow that
    head. If the log was cut, rewritten or added to behind the anchor's back, the
    append goes ahead (the door never waits on this) but the anchor stays where it
    is, for verify to report.
    """
    anchor = anchor_for(session)
    earlier = _pending(session).get(chain)  # this transaction appended to it already
    if earlier is not None:
        checked: AnchorState = earlier.checked
    else:
        checked = anchor.state(chain) if anchor is not None else Unanchored.SKIP
    counts = _anchored_counts(checked) if earlier is None else []
    newest = table.id == select(func.max(table.id)).scalar_subquery()
    condition = or_(newest, table.seq.in_(counts)) if counts else newest
    rows = session.execute(select(table.id, table.seq, table.hash).where(condition)).all()
    last = max(rows, key=lambda row: row.id, default=None)
    head = ChainHead(last.seq, last.hash) if last is not None else ChainHead(0, GENESIS_HASH)
    if earlier is not None:
        return Position(head.count + 1, head.hash, earlier.checked, earlier.base, earlier.xact)
    xact = current_transaction(session) if anchor is not None else 0
    committed = isinstance(checked, AnchoredChain) and transaction_committed(
        session, checked.pending_xact
    )
    checked, base = _checked_against_log(anchor, chain, checked, rows, head, committed)
    return Position(head.count + 1, head.hash, checked, base, xact)


def current_transaction(session: Session) -> int:
    """This transaction's id (xid8), assigned now if it had none."""
    return int(session.scalar(text("SELECT pg_current_xact_id()::text")) or 0)


def transaction_committed(session: Session, xact: int | None) -> bool:
    """Whether the database's commit log says transaction ``xact`` committed; False
    for one it rolled back, one too old to be known, or none."""
    if not xact:
        return False
    status = session.scalar(text("SELECT pg_xact_status(CAST(:x AS xid8))"), {"x": str(xact)})
    return status == "committed"


def _anchored_counts(checked: AnchorState | None) -> list[int]:
    if not isinstance(checked, AnchoredChain):
        return []
    heads = [checked.committed, checked.pending]
    return [head.count for head in heads if head is not None and head.count > 0]


def _checked_against_log(
    anchor: ChainAnchor | None,
    chain: str,
    checked: AnchorState,
    rows: Any,
    head: ChainHead,
    pending_committed: bool,
) -> tuple[AnchorState, ChainHead]:
    """(what to compare the anchor with when writing it, the head it vouches for)."""
    if anchor is None or not isinstance(checked, AnchoredChain):
        return checked, head  # nothing anchored yet: the log as it is
    in_log = {row.seq: row.hash for row in rows}

    def holds(anchored: ChainHead | None) -> bool:
        if anchored is None:
            return False
        found = in_log.get(anchored.count) if anchored.count else GENESIS_HASH
        return found == anchored.hash

    pending = checked.pending
    # A pending head whose transaction committed must be in the log, like a committed one.
    base = pending if pending is not None and (pending_committed or holds(pending)) else None
    base = base or checked.committed
    if not holds(base):
        found = in_log.get(base.count)
        anchor.report_once(
            f"the {chain} log no longer holds the head anchored in {anchor.where} "
            f"(event number {base.count}, hash {short(base.hash)}; found "
            f"{short(found) if found else 'no event'}): it was cut short or rewritten, and "
            "the anchor stays where it is"
        )
        return Unanchored.SKIP, base
    if anchor.sole_writer and head != base:
        anchor.report_once(
            f"the {chain} log holds {head.count - base.count} event(s) after the head "
            f"anchored in {anchor.where} (event number {base.count}) that no process of "
            "this data folder anchored: added behind the kiosk's back, or while the anchor "
            "could not be written; the anchor stays where it is"
        )
        return Unanchored.SKIP, base
    return checked, head


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
    base: ChainHead
    xact: int


def _pending(session: Session) -> dict[str, _Pending]:
    pending: dict[str, _Pending] = session.info.get(_PENDING, {})
    return pending


def note_head(session: Session, chain: str, position: Position, digest: str) -> None:
    """Remember the new head of ``chain``, to anchor just before the transaction commits."""
    pending: dict[str, _Pending] = session.info.setdefault(_PENDING, {})
    pending[chain] = _Pending(
        ChainHead(position.seq, digest), position.checked, position.base, position.xact
    )


# Listened for on every Session, so each store's transactions anchor what they
# append, whoever opened them; only engines with an attached anchor do anything.
@event.listens_for(Session, "before_commit")
def _anchor_before_commit(session: Session) -> None:
    """Still under the chains' lock: no other append can come between this and the
    commit. One write per transaction: whether it then committed, the database's
    commit log tells the next append and verify."""
    pending = _pending(session)
    anchor = anchor_for(session) if pending else None
    if anchor is None:
        return
    for chain, appended in pending.items():
        try:
            anchor.write_ahead(chain, appended.checked, appended.base, appended.head, appended.xact)
        except Exception as error:  # noqa: BLE001 - the append is not refused for the anchor
            anchor.report_once(f"the audit anchor {anchor.where} could not be written: {error}")


@event.listens_for(Session, "after_commit")
def _forget_after_commit(session: Session) -> None:
    session.info.pop(_PENDING, None)


@event.listens_for(Session, "after_rollback")
def _forget_after_rollback(session: Session) -> None:
    session.info.pop(_PENDING, None)
