"""The stored rules' generation: one more with each committed change to the rules.

A rules file carries the generation it was exported at (core.rules.rules_file); an
import compares it with the stored one under the rules lock, in the transaction that
applies the file, so a file made before a change (people enrolled into groups since,
an edit on the operator screens, a door changed) is refused rather than silently
undoing it. Every writer of rules or memberships calls ``bump`` in its own
transaction, after the rules lock (storage.group_members) where it takes one, so
the row's lock is always taken last of the rules' locks and never waited on while
holding it.
"""

from __future__ import annotations

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from core.errors import RulesFileStale
from storage import rules_schema as rs


def current_generation(session: Session) -> int:
    """The stored rules' generation (0 on a database that never changed them)."""
    return int(session.scalar(select(rs.RulesGeneration.generation)) or 0)


def bump(session: Session) -> int:
    """One more generation, in the caller's transaction (the row stays locked until it
    ends, so two changes count twice, never once); the new generation."""
    found = session.scalar(
        update(rs.RulesGeneration)
        .values(generation=rs.RulesGeneration.generation + 1, changed_at=func.now())
        .returning(rs.RulesGeneration.generation)
    )
    return int(found or 0)


def refuse_stale(session: Session, expected: int, source: str) -> None:
    """RulesFileStale unless the stored generation is ``expected`` (the file's, named
    ``source`` in the message). Call it under the rules lock held alone."""
    stored = current_generation(session)
    if expected == stored:
        return
    if expected < stored:
        raise RulesFileStale(
            f"{source} was exported at rules generation {expected}, but the stored rules "
            f"are at generation {stored}: they changed since (people enrolled into groups, "
            "an edit, a door), and importing the file would undo that; export the rules "
            "afresh (kiosk-admin rules export), make the change there and import that, or "
            "import with --force to replace the stored rules anyway"
        )
    raise RulesFileStale(
        f"{source} says rules generation {expected}, newer than the stored rules' "
        f"{stored}: it comes from another database (or this one was restored from a "
        "backup since); export this database's rules and make the change there, or "
        "import with --force to replace them anyway"
    )
