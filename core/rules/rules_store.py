"""What the access rules need from persistent storage; storage.rules_store implements it.

Each method is one transaction. Those taking an ``actor`` authorize them against
their account as it is in that transaction (core/store.py says how), and audit
what they change.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Protocol

from core.records import Operator
from core.rules.evaluation import DoorRules
from core.rules.model import Door, DoorMode, Validity
from core.rules.person_validity import ValidityChange
from core.rules.rule_set import RulesChange, RuleSet
from core.store import DenialLog


class RulesSource(Protocol):
    """What the door reads for each recognised person."""

    def door_rules(self, person_id: uuid.UUID, kiosk_id: str) -> DoorRules:
        """The person's validity and their groups that cover ``kiosk_id``, with the
        schedules and the door's holiday calendar, in one read. A door not yet
        stored is read as one in UTC with no calendar. Raises StoreError."""
        ...


class RulesStore(RulesSource, DenialLog, Protocol):
    def ensure_door(self, door: Door) -> Door:
        """Store ``door`` unless its kiosk id is stored already; the stored door
        either way (a kiosk's start never overwrites what an admin set)."""
        ...

    def doors(self, *, actor: Operator) -> list[Door]:
        """Every door, by kiosk id (VIEW_DOORS)."""
        ...

    def update_door(
        self,
        kiosk_id: str,
        *,
        actor: Operator,
        display_name: str | None = None,
        time_zone: str | None = None,
        calendar: str | None = None,
        clear_calendar: bool = False,
        mode: DoorMode | None = None,
    ) -> Door:
        """Change what is given (EDIT_RULES), audited as ``door.changed``. Raises
        NotFound for an unknown door or calendar."""
        ...

    def rule_set(self, *, actor: Operator) -> RuleSet:
        """Every door, schedule, calendar, group and membership (READ_RULES)."""
        ...

    def apply_rule_set(
        self,
        rules: RuleSet,
        *,
        actor: Operator,
        dry_run: bool,
        check_generation: bool = False,
    ) -> RulesChange:
        """Make the stored rules ``rules`` (EDIT_RULES), in one transaction with one
        audit event (``rules.imported``) holding the change's summary; on a dry run
        nothing is stored. A change moves the rules' generation on (the change says to
        which). ``check_generation``: refuse with RulesFileStale, under the lock the
        change is applied under, unless ``rules.generation`` is the stored one (a rules
        file exported since the last change). Raises RuleSetError for a rule set that
        does not hold together (a member who is not an active person), changing
        nothing."""
        ...

    def edit_rule_set(
        self, edit: Callable[[RuleSet], RuleSet], *, actor: Operator, what: str
    ) -> RulesChange:
        """Make the stored rules ``edit(stored rules)`` (EDIT_RULES), reading them under
        the lock an import holds, so that no edit or membership written meanwhile is
        lost; one transaction, one audit event ``rules.edited`` holding ``what`` (a
        few words naming the part, no personal data) and the change's summary.
        Raises what ``edit`` raises (ValueError, RuleSetError) and RuleSetError as
        ``apply_rule_set`` does, changing nothing."""
        ...

    def person_access(
        self, person_id: uuid.UUID, *, actor: Operator
    ) -> tuple[frozenset[str], Validity]:
        """The person's groups and validity (VIEW_PEOPLE). Raises NotFound."""
        ...

    def set_person_access(
        self,
        person_id: uuid.UUID,
        *,
        actor: Operator,
        groups: frozenset[str] | None = None,
        validity: Validity | ValidityChange | None = None,
    ) -> None:
        """Replace the person's groups and/or validity (ASSIGN_ACCESS; an enroller
        only for people whose consent they witnessed, and only adding or removing
        groups open to enrollers; a ValidityChange sets the ends it names and keeps
        the others as stored then), audited as ``person.access_changed`` with group
        names and dates only. Raises NotFound for an unknown person (UnknownGroup for
        a group), NotAllowed, ValueError for a validity that would end before it
        starts (nothing changed)."""
        ...
