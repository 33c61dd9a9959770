"""Applying a rules file to the stored rules, and saying what it changed."""

from __future__ import annotations

from core.errors import RulesFileStale
from core.records import Operator
from core.rules.rule_set import RulesChange, RuleSetError
from core.rules.rules_file import RulesFile
from core.rules.rules_store import RulesStore

_KINDS = ("door", "schedule", "calendar", "group", "area")


def apply_rules_file(
    store: RulesStore,
    rules_file: RulesFile,
    *,
    actor: Operator,
    dry_run: bool,
    force: bool = False,
) -> RulesChange:
    """Make the stored rules the file's (EDIT_RULES), in one transaction with one
    audit event ``rules.imported``; on a dry run, only say what would change.
    Unless ``force``, a file whose generation is not the stored rules' is refused
    (RulesFileStale naming the file): it was exported before they last changed, and
    would undo what changed since (people enrolled into groups since, an edit).
    Raises RulesFileInvalid naming the file's line for a fault only the database
    shows (a door no kiosk has, a member who is not enrolled), with nothing
    changed; NotAllowed, SessionExpired, StoreError as the store does."""
    try:
        return store.apply_rule_set(
            rules_file.rules, actor=actor, dry_run=dry_run, check_generation=not force
        )
    except RuleSetError as error:
        raise rules_file.located(error) from None
    except RulesFileStale as error:
        raise RulesFileStale(str(error).replace("the rules file", rules_file.source, 1)) from None


def change_text(change: RulesChange, *, dry_run: bool) -> str:
    """The change in one line: "rules imported: added 1 group; changed 2 doors;
    3 membership(s) added, 1 removed", or on a dry run what importing would do."""
    verbs = ("add", "change", "remove") if dry_run else ("added", "changed", "removed")
    parts = []
    for verb, counts in zip(verbs, (change.added, change.changed, change.removed), strict=True):
        named = [_count(counts[k], k) for k in _KINDS if counts.get(k)]
        named += [_count(n, k) for k, n in sorted(counts.items()) if k not in _KINDS and n]
        if named:
            parts.append(f"{verb} {', '.join(named)}")
    added, removed = change.members_added, change.members_removed
    if added or removed:
        parts.append(
            f"add {added} and remove {removed} membership(s)"
            if dry_run
            else f"{added} membership(s) added, {removed} removed"
        )
    if dry_run:
        return "dry run, nothing stored; importing the file would " + (
            "; ".join(parts) or "change nothing"
        )
    if not change.changes:
        return "rules imported: nothing changed"
    return (
        "rules imported: "
        + "; ".join(parts)
        + f"; the rules are now generation {change.generation}: export them again before "
        "the next change (the file imported is now behind)"
    )


def _count(n: int, kind: str) -> str:
    return f"{n} {kind}" + ("" if n == 1 else "s")
