"""Operators' door commands: kiosk-admin door stores them, a running kiosk's door
takes them through the database (the real embedded PostgreSQL), and a lockdown
outlives a restart."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from core.access.door_audit import DoorAuditTrail
from core.access.door_commands import DoorCommandKind, DoorCommandPoller, DoorCommandService
from core.access.door_control import STALE_REFUSAL
from core.access.door_controller import CommandResult, DoorController, DoorListener
from core.access.door_events import (
    DoorFaulted,
    RelockCause,
    Relocked,
    UnlockCause,
    Unlocked,
    UnlockRefused,
)
from core.accounts.operators import Authenticator, OperatorService
from core.door_io_settings import DoorIoSettings
from core.errors import InvalidValue, NotAllowed, NotFound
from core.log_records import LogFilter
from core.records import AccessDecision, AccessOutcome, Operator, Role
from core.settings import SecuritySettings
from door_io.simulated import SimulatedDoor
from storage.audit_log import SqlAuditLog
from storage.door_commands import SqlDoorCommands
from storage.event_log import ResilientEventLog
from storage.kiosk_claim import claim_kiosk_id
from storage.kiosk_registry import register_kiosk
from storage.operator_store import SqlOperatorStore
from storage.spool import EventSpool
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

    def __init__(self, store: SqlDoorCommands, listeners: Sequence[DoorListener] = ()) -> None:
        self.hardware = SimulatedDoor()
        self.events = DoorEventRecorder()
        self.controller = DoorController(
            self.hardware, SETTINGS, listeners=[self.events, *listeners]
        )
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


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (("unlock", "--seconds", "0.001"), "an unlock needs --seconds from 1 to 3600"),
        (("unlock", "--seconds", "3601"), "an unlock needs --seconds from 1 to 3600"),
        (("unlock", "--seconds", "inf"), "an unlock needs --seconds from 1 to 3600"),
        (("unlock", "--seconds", "nan"), "give a number of seconds above 0"),
        (("lockdown", "--kiosk", "north door!"), "a kiosk id is 1 to 64 letters"),
        (("release", "--kiosk", "d" * 65), "a kiosk id is 1 to 64 letters"),
        (("lockdown", "--reason", "\x1b[2J"), "the reason may not hold control characters"),
        (("lockdown", "--reason", " \t "), "give a reason of 1 to 200 characters"),
        (("lockdown", "--reason", "x" * 201), "give a reason of 1 to 200 characters"),
    ],
    ids=[
        "too-short",
        "too-long",
        "infinite",
        "not-a-number",
        "bad-kiosk",
        "long-kiosk",
        "control-characters",
        "blank-reason",
        "long-reason",
    ],
)
def test_a_door_command_out_of_bounds_is_one_line_before_any_password(
    store: SqlDoorCommands, admin_cli: Cli, arguments: tuple[str, ...], message: str
) -> None:
    action, *changed = arguments
    given = {"--kiosk": KIOSK, "--reason": "delivery"}
    if action == "unlock":
        given["--seconds"] = "60"
    given.update(zip(changed[::2], changed[1::2], strict=True))
    flags = [part for pair in given.items() for part in pair]
    # No password: a check after the login would fail on the missing password instead.
    result = admin_cli("door", action, *flags, "--operator", "alice", password=None)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert store.take_pending(KIOSK) == [], "nothing was stored"


def test_door_status_of_one_kiosk_and_of_a_bad_or_unknown_id(kiosk: Kiosk, admin_cli: Cli) -> None:
    not_yet = admin_cli("door", "status", "--kiosk", KIOSK, "--operator", "alice")
    assert not_yet.returncode == 5, not_yet.stderr
    assert f"kiosk '{KIOSK}' has not reported a door" in not_yet.stderr
    kiosk.poller.poll_once()
    doors = as_json(admin_cli("door", "status", "--kiosk", KIOSK, "--operator", "alice", "--json"))
    assert [door["kiosk_id"] for door in doors["doors"]] == [KIOSK]
    unknown = admin_cli("door", "status", "--kiosk", "door-south", "--operator", "alice")
    assert unknown.returncode == 5, unknown.stderr
    assert "no kiosk 'door-south' has used this database" in unknown.stderr
    malformed = admin_cli("door", "status", "--kiosk", "door/south", "--operator", "alice")
    assert malformed.returncode == 2, malformed.stderr
    assert "a kiosk id is 1 to 64 letters" in malformed.stderr
    for result in (not_yet, unknown, malformed):
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_an_unlock_asked_of_a_stopped_kiosk_is_set_aside_at_its_start_and_audited(
    db_engine: Engine,
    store: SqlDoorCommands,
    service: DoorCommandService,
    admin: Operator,
    audit_log: SqlAuditLog,
    tmp_path: Path,
) -> None:
    command_id = service.request(
        admin, kiosk_id=KIOSK, kind=DoorCommandKind.UNLOCK, reason="delivery", seconds=3600
    )
    with db_engine.begin() as connection:  # asked ten minutes before the kiosk started
        connection.execute(text("UPDATE door_commands SET requested_at = now() - interval '600 s'"))
    events = ResilientEventLog(db_engine, EventSpool(tmp_path / "spool.jsonl"), KIOSK)
    audit = DoorAuditTrail(KIOSK, events.record_audit, queue_size=8)
    audit.start()
    door = Kiosk(store, [audit])
    try:
        door.poller.poll_once()
        refused = door.events.wait_for(UnlockRefused)
        assert (refused.command_id, refused.operator) == (command_id, "ada")
        assert refused.why.startswith(f"{STALE_REFUSAL}: asked for 600 s before the kiosk")
        assert door.events.of(Unlocked) == []
        assert door.hardware.writes == [False], "only the lock forced at start"
    finally:
        door.stop()
        audit.stop(5)
        events.close()
    (entry,) = audit_log.audit_events(5, LogFilter(action="door.unlock_refused"), actor=admin)
    assert (entry.target, entry.details["command_id"]) == (KIOSK, command_id)
    assert entry.details["why"] == refused.why


def test_a_fresh_unlock_is_carried_out_and_a_lockdown_however_old(
    db_engine: Engine, store: SqlDoorCommands, service: DoorCommandService, admin: Operator
) -> None:
    service.request(admin, kiosk_id=KIOSK, kind=DoorCommandKind.LOCKDOWN, reason="police")
    with db_engine.begin() as connection:  # a state, not a moment: it stands
        connection.execute(text("UPDATE door_commands SET requested_at = now() - interval '1 h'"))
    service.request(admin, kiosk_id=KIOSK, kind=DoorCommandKind.RELEASE, reason="over")
    service.request(
        admin, kiosk_id=KIOSK, kind=DoorCommandKind.UNLOCK, reason="delivery", seconds=60
    )
    door = Kiosk(store)
    try:
        door.poller.poll_once()
        assert door.events.wait_for(Unlocked).cause is UnlockCause.OPERATOR
        assert door.hardware.output is True
    finally:
        door.stop()


def test_a_kiosk_whose_id_was_taken_meanwhile_stands_down_and_leaves_the_door_alone(
    db_engine: Engine, service: DoorCommandService, admin: Operator
) -> None:
    claim = claim_kiosk_id(db_engine, KIOSK, 0)
    door = Kiosk(SqlDoorCommands(db_engine, claim))
    try:
        door.poller.poll_once()  # holds the id: takes commands, reports
        claim.close()  # its database session ended (a server restart, say)...
        # ...and another kiosk took the id, waiting as a starting kiosk does
        # (database.kiosk_claim_wait_s): the server lets the lock go a moment after the
        # session's end, not when close returns.
        with claim_kiosk_id(db_engine, KIOSK, 10):
            service.request(
                admin, kiosk_id=KIOSK, kind=DoorCommandKind.UNLOCK, reason="r", seconds=60
            )
            door.poller.poll_once()
            faulted = door.events.wait_for(DoorFaulted)
            assert faulted.detail.startswith(f"door left alone: kiosk id {KIOSK} is in use")
            writes = len(door.hardware.writes)
            door.hardware.set_lock_output(True)  # the other kiosk's unlock
            assert door.grant() is CommandResult.REFUSED
            door.poller.poll_once()  # nothing more taken: the unlock is the other kiosk's
            door.stop()
            assert door.hardware.writes[writes:] == [True]
            assert door.events.of(Unlocked) == []
            assert [e.cause for e in door.events.of(Relocked)] == [RelockCause.START]
            with db_engine.connect() as connection:
                pending = connection.scalar(
                    text("SELECT count(*) FROM door_commands WHERE taken_at IS NULL")
                )
            assert pending == 1
    finally:
        door.stop()
        claim.close()
