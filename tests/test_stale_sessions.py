"""An operator's open session ends when an admin disables, demotes or resets them:
every action is authorized against the account as it is in the action's own
transaction, on the real embedded PostgreSQL."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from pytestqt.qtbot import QtBot
from sqlalchemy import Engine, text

from core.accounts.operators import Authenticator, OperatorService
from core.accounts.passwords import hash_password
from core.administration.audit import AuditService
from core.administration.shared_settings import SettingsService
from core.errors import NotAllowed, SessionExpired
from core.people.people import PeopleService
from core.records import (
    ConsentGrant,
    Enrollment,
    NewTemplate,
    Operator,
    PersonStatus,
    Role,
)
from core.settings import SecuritySettings, Settings
from storage.audit_log import SqlAuditLog
from storage.identity_store import SqlIdentityStore
from storage.operator_store import SqlOperatorStore
from storage.settings_store import SqlSettingsStore
from tests.operator_window import PASSWORDS, logged_in, open_page

POLICY = SecuritySettings()
ALICE_PASSWORD = "tall-ladder-orange-77"
BOB_PASSWORD = "quiet-river-stone-42"
NEW_PASSWORD = "brown-cedar-window-9"
MODEL = "m@1"
# Cheap hashes: these tests are about sessions, not about the cost of bcrypt.
FAST_ROUNDS = 4

Action = Callable[[Operator], object]
Change = Callable[[OperatorService, Operator], None]

CHANGES: dict[str, Change] = {
    "disabled": lambda ops, bob: ops.set_disabled(bob, "alice", disabled=True),
    "demoted": lambda ops, bob: ops.set_role(bob, "alice", Role.ENROLLER),
    "password reset": lambda ops, bob: ops.reset_password(bob, "alice", NEW_PASSWORD),
}


def unit_vector(seed: int) -> np.ndarray:
    vector = np.random.default_rng(seed).standard_normal(512).astype(np.float32)
    return vector / np.linalg.norm(vector)


def enrollment(witness: Operator, name: str, seed: int) -> Enrollment:
    return Enrollment(
        name,
        None,
        ConsentGrant("v1", "ab" * 32, witness),
        (NewTemplate(unit_vector(seed), MODEL, 0.9),),
    )


@pytest.fixture
def authenticator(operator_store: SqlOperatorStore) -> Authenticator:
    return Authenticator(operator_store, POLICY, "door-1")


@pytest.fixture
def bob(operator_store: SqlOperatorStore) -> Operator:
    """The admin who changes alice's account."""
    return operator_store.add_first_operator(
        "bob", hash_password(BOB_PASSWORD, FAST_ROUNDS), Role.ADMIN
    )


@pytest.fixture
def alice_session(
    operator_store: SqlOperatorStore, authenticator: Authenticator, bob: Operator
) -> Operator:
    """Alice, an admin, as her login left her: what a GUI session holds."""
    operator_store.add_operator(
        "alice", hash_password(ALICE_PASSWORD, FAST_ROUNDS), Role.ADMIN, bob
    )
    operator_store.add_operator(
        "carol", hash_password(BOB_PASSWORD, FAST_ROUNDS), Role.ENROLLER, bob
    )
    return authenticator.authenticate("alice", ALICE_PASSWORD)


@pytest.fixture
def actions(
    identity_store: SqlIdentityStore,
    operator_store: SqlOperatorStore,
    audit_log: SqlAuditLog,
    db_engine: Engine,
    bob: Operator,
) -> dict[str, Action]:
    """Every kind of store call an operator makes, each on something that exists."""
    person = identity_store.enroll(enrollment(bob, "Grace Hopper", 1))
    people = PeopleService(identity_store, POLICY)
    operators = OperatorService(operator_store, POLICY)
    audit = AuditService(audit_log)
    settings = SettingsService(SqlSettingsStore(db_engine), Settings())
    return {
        "find people": lambda op: people.find(op, None, 10),
        "show a person": lambda op: people.show(op, person),
        "withdraw consent": lambda op: people.withdraw_consent(op, person),
        "delete a person": lambda op: people.delete(op, person),
        "purge": lambda op: people.purge_expired(op),
        "enroll": lambda op: identity_store.enroll(enrollment(op, "Mallory", 2)),
        "list operators": lambda op: operators.operators(op),
        "add an operator": lambda op: operators.add(op, "mallory", Role.ADMIN, NEW_PASSWORD),
        "change a role": lambda op: operators.set_role(op, "carol", Role.ADMIN),
        "enable or disable": lambda op: operators.set_disabled(op, "carol", disabled=True),
        "reset a password": lambda op: operators.reset_password(op, "carol", NEW_PASSWORD),
        "change own password": lambda op: operators.change_own_password(op, "another-pass-99x"),
        "change settings": lambda op: settings.change(op, {"matching.threshold": 0.9}),
        "read the audit log": lambda op: audit.events(op, 10),
        "read the access log": lambda op: audit.access_events(op, 10),
        "verify the audit log": lambda op: audit.verify(op),
    }


@pytest.mark.slow
@pytest.mark.parametrize("change", list(CHANGES))
def test_a_changed_account_refuses_every_action_of_its_open_session(
    change: str,
    alice_session: Operator,
    bob: Operator,
    actions: dict[str, Action],
    operator_store: SqlOperatorStore,
    identity_store: SqlIdentityStore,
    db_engine: Engine,
) -> None:
    CHANGES[change](OperatorService(operator_store, POLICY), bob)
    refused = []
    for name, action in actions.items():
        with pytest.raises(SessionExpired, match="log in again"):
            action(alice_session)
        refused.append(name)
    assert refused == list(actions)
    # Nothing any of them would have changed was changed.
    (grace,) = identity_store.people(None, 10, actor=bob)
    assert (grace.status, grace.template_count) == (PersonStatus.ACTIVE, 1)
    assert operator_store.find_operator("mallory") is None
    carol = operator_store.find_operator("carol")
    assert carol is not None
    assert (carol.role, carol.disabled) == (Role.ENROLLER, False)
    assert SettingsService(SqlSettingsStore(db_engine), Settings()).effective() == Settings()


def test_a_new_login_carries_the_new_state(
    alice_session: Operator, bob: Operator, authenticator: Authenticator, operator_store
) -> None:
    operators = OperatorService(operator_store, POLICY)
    CHANGES["demoted"](operators, bob)
    with pytest.raises(SessionExpired):
        operators.operators(alice_session)
    again = authenticator.authenticate("alice", ALICE_PASSWORD)
    assert again.role is Role.ENROLLER
    assert again.session_epoch == alice_session.session_epoch + 1
    with pytest.raises(NotAllowed, match="is enroller and may not manage operators"):
        operators.operators(again)


def test_only_the_changed_operators_sessions_end(
    alice_session: Operator, bob: Operator, authenticator: Authenticator, operator_store
) -> None:
    operators = OperatorService(operator_store, POLICY)
    operators.set_role(bob, "carol", Role.AUDITOR)
    operators.set_disabled(bob, "alice", disabled=False)  # already enabled: no change
    assert [o.username for o in operators.operators(alice_session)] == ["alice", "bob", "carol"]
    operators.set_disabled(alice_session, "carol", disabled=True)  # an admin still


def test_an_action_waiting_on_a_disable_is_refused_once_it_commits(
    alice_session: Operator, bob: Operator, identity_store: SqlIdentityStore, db_engine: Engine
) -> None:
    """The check and the action are one step: a delete that started while the
    disable was being written waits for it, then sees it."""
    person = identity_store.enroll(enrollment(bob, "Grace Hopper", 1))
    people = PeopleService(identity_store, POLICY)
    with db_engine.connect() as disabling, ThreadPoolExecutor(1) as pool:
        disabling.execute(
            text(
                "UPDATE operators SET disabled = true, session_epoch = session_epoch + 1 "
                "WHERE username = 'alice'"
            )
        )
        deleting = pool.submit(people.delete, alice_session, person)
        wait_until_blocked_on_a_lock(db_engine, deleting.done)
        disabling.commit()
        with pytest.raises(SessionExpired):
            deleting.result(timeout=30)
    assert identity_store.person(person, actor=bob).summary.status is PersonStatus.ACTIVE


def wait_until_blocked_on_a_lock(engine: Engine, finished: Callable[[], bool]) -> None:
    """Until another connection to this database waits on a row lock."""
    query = text(
        "SELECT count(*) FROM pg_stat_activity "
        "WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )
    deadline = time.monotonic() + 30
    pause = threading.Event()  # never set: a short pause between polls
    while time.monotonic() < deadline:
        assert not finished(), "the action ran without waiting for the disable"
        with engine.connect() as connection:
            if connection.scalar(query):
                return
        pause.wait(0.02)
    raise AssertionError("the action never waited on the operator's row")


@pytest.mark.slow
def test_the_kiosk_returns_to_the_door_when_the_account_changes(
    qtbot: QtBot, open_window, staff: dict[Role, Operator], operator_store: SqlOperatorStore
) -> None:
    window = open_window()
    mode = logged_in(qtbot, window, "erin", PASSWORDS[Role.ENROLLER])
    open_page(mode, "People")
    page = mode.people_page
    qtbot.waitUntil(lambda: page.list.currentWidget() is page.nobody, timeout=10_000)
    OperatorService(operator_store, POLICY).set_disabled(staff[Role.ADMIN], "erin", disabled=True)
    page.search.setText("grace")  # erin's next request
    qtbot.waitUntil(lambda: window.stack.currentWidget() is window.door, timeout=10_000)
    assert mode.session is None
    assert mode.admin is None
    assert "the account was changed since the login" in window.door.status.text()
