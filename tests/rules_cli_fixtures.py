"""The operator, rules store and enrolled person the rules and doors CLI tests share
(test_rules_cli, test_rules_files_cli, test_doors_cli, test_rules_check_steps)."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Callable

import pytest
from sqlalchemy import Engine

from core.records import Operator
from storage.identity_store import SqlIdentityStore
from storage.operator_store import SqlOperatorStore
from storage.rules_store import SqlRulesStore
from tests.test_rules_cli import enroll, office_rules

Cli = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def alice(admin_cli: Cli, operator_store: SqlOperatorStore) -> Operator:
    """The admin admin_cli made, as the stores know her."""
    found = operator_store.find_operator("alice")
    assert found is not None
    return found


@pytest.fixture
def rules(db_engine: Engine) -> SqlRulesStore:
    return SqlRulesStore(db_engine)


@pytest.fixture
def ada(identity_store: SqlIdentityStore, alice: Operator, rules: SqlRulesStore) -> uuid.UUID:
    """Ada, in group staff: front door, weekdays 08:00-18:00 Berlin time (office_rules).
    A test file may define its own ``ada`` with other rules."""
    person = enroll(identity_store, alice, "Ada")
    rules.apply_rule_set(office_rules(frozenset({person})), actor=alice, dry_run=False)
    return person
