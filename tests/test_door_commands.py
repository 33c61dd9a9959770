"""Operators' door commands: kiosk-admin door stores them, a running kiosk's door
takes them through the database (the real embedded PostgreSQL), and a lockdown
outlives a restart."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import Engine, text

from core.access.door_commands import DoorCommandKind, DoorCommandPoller, DoorCommandService
from core.access.door_controller import CommandResult, DoorController
from core.access.door_events import UnlockCause, Unlocked, UnlockRefused
from core.accounts.operators import Authenticator, OperatorService
from core.door_io_settings import DoorIoSettings
from core.errors import InvalidValue, NotAllowed, NotFound
from core.records import AccessDecision, AccessOutcome, LogFilter, Operator, Role
from core.settings import SecuritySettings
from door_io.simulated import SimulatedDoor
from storage.audit_log import SqlAuditLog
from storage.door_commands import SqlDoorCommands
from storage.kiosk_registry import register_kiosk
from storage.operator_store import SqlOperatorStore
from tests.cli_fixtures import as_json
from tests.door_events_recorder import DoorEventRecorder, wait_until

KIOSK = "door-north"
SETTINGS = DoorIoSettings(
    adapter="simulated", unlock_s=1, poll_interval_s=0.02, operator_poll_s=0.1
)
Cli = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def store(db_engine: Engine) -> SqlDoorCommands:
    register_kiosk(db_engine, KIOSK, "North entrance", "test")
    return SqlDoorCommands(db_engine)


@pytest.fixture
def admin(operator_store: SqlOperatorStore) -> Operator:
    return Authenticator(operator_store, SecuritySettings(), "t").create_first_admin(
        "ada", "tall-ladder-orange-77"
    )


@pytest.fixture
def service(store: SqlDoorCommands) -> DoorCommandService:
    return DoorCommandService(store, SETTINGS)


class Kiosk:
    """A kiosk's door: the controller over a simulated door, and its command poller."""

    def __init__(self, store: SqlDoorCommands) -> None:
        self.hardware = SimulatedDoor()
        self.events = DoorEventRecorder()
        self.controller = DoorController(self.hardware, SETTINGS, listeners=[self.events])
        self.poller = DoorCommandPoller(store, self.controller, SETTINGS, KIOSK)
        self.controller.start()

    def grant(self) -> CommandResult:
        decision = AccessDecision(kiosk_id=KIOSK, outcome=AccessOutcome.GRANTED, latency_ms=1)
        return self.controller.grant(decision).wait(2)

    def stop(self) -> None:
        self.poller.stop(2)
        self.controller.stop()


@pytest.fixture
def kiosk(store: SqlDoorCommands) -> Iterator[Kiosk]:
    door = Kiosk(store)
    yield door
    door.stop()


def test_lockdown_from_the_cli_is_taken_by_the_kiosk_and_refuses_grants(
    kiosk: Kiosk, audit_log: SqlAuditLog, admin_cli: Cli, operator_store: SqlOperatorStore
) -> None:
    sent = admin_cli(
        "door", "lockdown", "--kiosk", KIOSK, "--reason", "police request", "--operator", "alice"
    )
    assert sent.returncode == 0, sent.stderr
    kiosk.poller.poll_once()
    assert kiosk.controller.status.state.lockdown
    assert kiosk.grant() is CommandResult.REFUSED
    assert kiosk.events.wait_for(UnlockRefused).why == "the door is in lockdown"
    assert kiosk.hardware.output is False
    doors = as_json(admin_cli("door", "status", "--operator", "alice", "--json"))["doors"]
    assert [(d["kiosk_id"], d["lockdown"], d["adapter"]) for d in doors] == [
        (KIOSK, True, "simulated")
    ]
    admin = operator_store.find_operator("alice")
    assert admin is not None
    (requested,) = audit_log.audit_events(5, LogFilter(action="door.command"), actor=admin)
    assert (requested.actor, requested.target, requested.details["kind"]) == (
        "alice",
        KIOSK,
        "lockdown",
    )
    released = admin_cli(
        "door", "release", "--kiosk", KIOSK, "--reason", "over", "--operator", "alice"
    )
    assert released.returncode == 0, released.stderr
    kiosk.poller.poll_once()
    assert not kiosk.controller.status.state.lockdown
    assert kiosk.grant() is CommandResult.DONE


def test_unlock_for_a_stated_time_from_the_cli(kiosk: Kiosk, admin_cli: Cli) -> None:
    sent = admin_cli(
        "door", "unlock", "--kiosk", KIOSK, "--seconds", "30", "--reason", "delivery",
        "--operator", "alice",
    )  # fmt: skip
    assert sent.returncode == 0, sent.stderr
    kiosk.poller.poll_once()
    unlocked = kiosk.events.wait_for(Unlocked)
    assert (unlocked.cause, unlocked.operator, unlocked.reason) == (
        UnlockCause.OPERATOR,
        "alice",
        "delivery",
    )
    assert unlocked.until_s - unlocked.at_s == pytest.approx(30, abs=2)
    assert kiosk.hardware.output is True


def test_the_running_poller_picks_a_command_up_by_itself(
    kiosk: Kiosk, service: DoorCommandService, admin: Operator
) -> None:
    kiosk.poller.start()
    service.request(admin, kiosk_id=KIOSK, kind=DoorCommandKind.LOCKDOWN, reason="drill")
    wait_until(lambda: kiosk.controller.status.state.lockdown, timeout_s=3)


def test_a_lockdown_outlives_a_restart(
    store: SqlDoorCommands, service: DoorCommandService, admin: Operator
) -> None:
    service.request(admin, kiosk_id=KIOSK, kind=DoorCommandKind.LOCKDOWN, reason="drill")
    first = Kiosk(store)
    first.poller.poll_once()
    assert first.controller.status.state.lockdown
    first.stop()
    again = Kiosk(store)
    try:
        again.poller.poll_once()
        assert again.controller.status.state.lockdown
        assert again.grant() is CommandResult.REFUSED
    finally:
        again.stop()


def test_a_command_is_taken_once(
    store: SqlDoorCommands, service: DoorCommandService, admin: Operator
) -> None:
    service.request(admin, kiosk_id=KIOSK, kind=DoorCommandKind.RELEASE, reason="r")
    assert [c.kind for c in store.take_pending(KIOSK)] == [DoorCommandKind.RELEASE]
    assert store.take_pending(KIOSK) == []


def test_an_unlock_taken_after_its_time_is_not_carried_out(
    db_engine: Engine, store: SqlDoorCommands, service: DoorCommandService, admin: Operator
) -> None:
    service.request(admin, kiosk_id=KIOSK, kind=DoorCommandKind.UNLOCK, reason="r", seconds=5)
    with db_engine.begin() as connection:  # as if the kiosk was off for a minute
        connection.execute(text("UPDATE door_commands SET requested_at = now() - interval '60 s'"))
    door = Kiosk(store)
    try:
        door.poller.poll_once()
        assert door.events.of(Unlocked) == []
        assert door.hardware.output is False
    finally:
        door.stop()


def test_requests_are_checked(
    service: DoorCommandService, admin: Operator, operator_store: SqlOperatorStore
) -> None:
    with pytest.raises(InvalidValue, match="--reason"):
        service.request(admin, kiosk_id=KIOSK, kind=DoorCommandKind.LOCKDOWN, reason="  ")
    with pytest.raises(InvalidValue, match="max_operator_unlock_s"):
        service.request(
            admin, kiosk_id=KIOSK, kind=DoorCommandKind.UNLOCK, reason="r", seconds=99999
        )
    with pytest.raises(NotFound, match="no kiosk 'door-south'"):
        service.request(admin, kiosk_id="door-south", kind=DoorCommandKind.LOCKDOWN, reason="r")
    auditor = OperatorService(operator_store, SecuritySettings()).add(
        admin, "bo", Role.AUDITOR, "brown-cedar-window-9"
    )
    with pytest.raises(NotAllowed, match="may not lock down"):
        service.request(auditor, kiosk_id=KIOSK, kind=DoorCommandKind.LOCKDOWN, reason="r")
    assert service.reports(auditor) == []
