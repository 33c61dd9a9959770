"""The operator, rules store and enrolled person the rules and doors CLI tests share
(test_rules_cli, test_rules_files_cli, test_doors_cli, test_rules_check_steps), and
how they enroll someone and write the office's rules."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Callable
from datetime import date
from typing import TYPE_CHECKING

import numpy as np
import pytest

from core.records import ConsentGrant, Enrollment, NewTemplate, Operator
from core.rules.model import (
    ALWAYS,
    AccessGroup,
    Door,
    HolidayCalendar,
    Schedule,
    TimeRange,
    Weekday,
)
from core.rules.rule_set import RuleSet

if TYPE_CHECKING:  # the stores are imported by the fixtures that use them
    from sqlalchemy import Engine

    from storage.identity_store import SqlIdentityStore
    from storage.operator_store import SqlOperatorStore
    from storage.rules_store import SqlRulesStore

Cli = Callable[..., subprocess.CompletedProcess[str]]
MODEL = "test-model@000000000000"
RNG = np.random.default_rng(25)
OFFICE = Schedule("office hours", {d: (TimeRange.parse("08:00-18:00"),) for d in list(Weekday)[:5]})


def enroll(store: SqlIdentityStore, witness: Operator, name: str) -> uuid.UUID:
    vector = RNG.standard_normal(512)
    template = NewTemplate((vector / np.linalg.norm(vector)).astype(np.float32), MODEL, 0.9)
    return store.enroll(Enrollment(name, None, ConsentGrant("v1", "ab" * 32, witness), (template,)))


def office_rules(members: frozenset[uuid.UUID]) -> RuleSet:
    return RuleSet(
        doors=(
            Door("front", "Front door", "Europe/Berlin", "bavaria"),
            Door("lab", "Lab", "America/New_York"),
        ),
        schedules=(ALWAYS, OFFICE),
        calendars=(HolidayCalendar("bavaria", "DE", "BY", frozenset({date(2026, 12, 28)})),),
        groups=(
            AccessGroup("everyone", "always", frozenset({"lab"}), default=True),
            AccessGroup("staff", "office hours", frozenset({"front"})),
        ),
        members={"everyone": frozenset(), "staff": members},
    )


@pytest.fixture
def alice(admin_cli: Cli, operator_store: SqlOperatorStore) -> Operator:
    """The admin admin_cli made, as the stores know her."""
    found = operator_store.find_operator("alice")
    assert found is not None
    return found


@pytest.fixture
def rules(db_engine: Engine) -> SqlRulesStore:
    from storage.rules_store import SqlRulesStore

    return SqlRulesStore(db_engine)


@pytest.fixture
def ada(identity_store: SqlIdentityStore, alice: Operator, rules: SqlRulesStore) -> uuid.UUID:
    """Ada, in group staff: front door, weekdays 08:00-18:00 Berlin time (office_rules).
    A test file may define its own ``ada`` with other rules."""
    person = enroll(identity_store, alice, "Ada")
    rules.apply_rule_set(office_rules(frozenset({person})), actor=alice, dry_run=False)
    return person
