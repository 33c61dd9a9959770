"""Each kiosk's door report (door_reports): written when the door's state changes and
on a bounded heartbeat, read back with its age (stale ones marked) and the failed
unlocks from the audit log, by kiosk-admin door status (the real database)."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot
from sqlalchemy import Engine, text

from core.access.door_audit import DoorAuditTrail
from core.access.door_commands import DoorCommandPoller, DoorCommandService, DoorReport
from core.access.door_controller import DoorController
from core.access.door_events import UnlockFailed
from core.door_io_settings import DoorIoSettings
from core.errors import DoorFault
from core.records import AccessDecision, AccessOutcome
from core.settings import Settings
from door_io.simulated import SimulatedDoor
from kiosk.door_hardware import DoorHardware
from storage.door_commands import SqlDoorCommands
from storage.event_log import ResilientEventLog
from storage.kiosk_registry import register_kiosk
from storage.operator_store import SqlOperatorStore
from storage.spool import EventSpool
from telemetry.metrics import KioskMetrics
from tests.cli_fixtures import as_json
from tests.door_events_recorder import DoorEventRecorder, wait_until

KIOSK = "door-north"
SETTINGS = DoorIoSettings(
    adapter="simulated", poll_interval_s=0.02, report_heartbeat_s=60, report_stale_s=180
)
Cli = Callable[..., subprocess.CompletedProcess[str]]


class CountedReports:
    """The real store, counting the reports written through it (a DoorCommandStore)."""

    def __init__(self, store: SqlDoorCommands) -> None:
        self._store = store
        self.written: list[DoorReport] = []

    def take_pending(self, kiosk_id: str):  # type: ignore[no-untyped-def]
        return self._store.take_pending(kiosk_id)

    def standing_lockdown(self, kiosk_id: str):  # type: ignore[no-untyped-def]
        return self._store.standing_lockdown(kiosk_id)

    def report(self, report: DoorReport) -> None:
        self._store.report(report)
        self.written.append(report)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def store(db_engine: Engine) -> SqlDoorCommands:
    register_kiosk(db_engine, KIOSK, "North entrance", "test")
    return SqlDoorCommands(db_engine)


@pytest.fixture
def hardware() -> SimulatedDoor:
    return SimulatedDoor()


@pytest.fixture
def events(db_engine: Engine, tmp_path: Path) -> Iterator[ResilientEventLog]:
    log = ResilientEventLog(db_engine, EventSpool(tmp_path / "spool.jsonl"), KIOSK)
    yield log
    log.close()


@pytest.fixture
def door(
    hardware: SimulatedDoor, events: ResilientEventLog
) -> Iterator[tuple[DoorController, DoorAuditTrail, DoorEventRecorder]]:
    """A kiosk's door with its audit trail into the real audit log."""
    recorder = DoorEventRecorder()
    audit = DoorAuditTrail(KIOSK, events.record_audit, queue_size=16)
    controller = DoorController(hardware, SETTINGS, listeners=[audit, recorder])
    audit.start()
    controller.start()
    wait_until(lambda: controller.status.state.door_open is not None)
    yield controller, audit, recorder
    controller.stop()
    audit.stop(5)


def reported_at(engine: Engine) -> object:
    with engine.connect() as connection:
        return connection.scalar(
            text("SELECT reported_at FROM door_reports WHERE kiosk_id = :k"), {"k": KIOSK}
        )


def test_the_report_is_written_on_change_and_on_the_heartbeat_only(
    db_engine: Engine,
    store: SqlDoorCommands,
    door: tuple[DoorController, DoorAuditTrail, DoorEventRecorder],
) -> None:
    controller, _audit, _recorder = door
    reports = CountedReports(store)
    clock = FakeClock()
    poller = DoorCommandPoller(reports, controller, SETTINGS, KIOSK, clock=clock)
    poller.poll_once()
    first = reported_at(db_engine)
    for _ in range(5):  # a few seconds of a quiet door
        clock.now += 1
        poller.poll_once()
    assert len(reports.written) == 1
    assert reported_at(db_engine) == first, "an unchanged door is not written again"
    controller.lockdown(operator="ada", reason="drill").wait(2)
    poller.poll_once()
    assert len(reports.written) == 2, "a change is written at once"
    assert reports.written[-1].lockdown
    clock.now += SETTINGS.report_heartbeat_s - 1
    poller.poll_once()
    assert len(reports.written) == 2
    clock.now += 1
    poller.poll_once()
    assert len(reports.written) == 3, "the heartbeat"
    assert reports.written[-1] == reports.written[-2]


def test_a_report_older_than_report_stale_s_is_marked_with_its_age(
    db_engine: Engine,
    store: SqlDoorCommands,
    door: tuple[DoorController, DoorAuditTrail, DoorEventRecorder],
    admin_cli: Cli,
) -> None:
    controller, _audit, _recorder = door
    DoorCommandPoller(store, controller, SETTINGS, KIOSK).poll_once()
    (fresh,) = as_json(admin_cli("door", "status", "--operator", "alice", "--json"))["doors"]
    assert fresh["stale"] is False
    assert fresh["age_s"] < SETTINGS.report_stale_s
    with db_engine.begin() as connection:  # as if the kiosk went silent 12 minutes ago
        connection.execute(
            text("UPDATE door_reports SET reported_at = now() - interval '12 minutes'")
        )
    (stale,) = as_json(admin_cli("door", "status", "--operator", "alice", "--json"))["doors"]
    assert stale["stale"] is True
    assert stale["age_s"] == pytest.approx(720, abs=30)
    line = admin_cli("door", "status", "--operator", "alice")
    assert line.returncode == 0, line.stderr
    assert line.stdout.startswith(f"{KIOSK}  STALE (last heard 12 minutes ago); last known: ")


def test_a_failed_unlock_is_on_the_door_report(
    admin_cli: Cli,
    operator_store: SqlOperatorStore,
    store: SqlDoorCommands,
    hardware: SimulatedDoor,
    door: tuple[DoorController, DoorAuditTrail, DoorEventRecorder],
) -> None:
    controller, audit, recorder = door
    admin = operator_store.find_operator("alice")  # made by admin_cli
    assert admin is not None
    DoorCommandPoller(store, controller, SETTINGS, KIOSK).poll_once()
    service = DoorCommandService(store, SETTINGS)
    (before,) = service.reports(admin)
    assert before.failed_unlocks == 0
    hardware.unplug()
    with pytest.raises(DoorFault):
        controller.consume(
            AccessDecision(kiosk_id=KIOSK, outcome=AccessOutcome.GRANTED, latency_ms=1)
        )
    recorder.wait_for(UnlockFailed)
    wait_until(lambda: service.reports(admin)[0].failed_unlocks == 1)  # through the audit
    (after,) = service.reports(admin)
    assert after.last_failed_unlock_at is not None
    assert audit.failed == 0
    line = admin_cli("door", "status", "--operator", "alice")
    assert "UNLOCK FAILED 1x in 24 h, last " in line.stdout, line.stdout
    doors = as_json(admin_cli("door", "status", "--operator", "alice", "--json"))["doors"]
    assert doors[0]["failed_unlocks"] == 1


def door_report(engine: Engine) -> tuple[bool, bool] | None:
    """(unlocked, stopped) of the kiosk's stored report; None before the first."""
    with engine.connect() as connection:
        row = connection.execute(
            text("SELECT unlocked, stopped FROM door_reports WHERE kiosk_id = :k"), {"k": KIOSK}
        ).one_or_none()
    return None if row is None else (bool(row.unlocked), bool(row.stopped))


def test_a_clean_stop_reports_the_door_locked_and_stopped(
    qtbot: QtBot,
    db_engine: Engine,
    store: SqlDoorCommands,
    hardware: SimulatedDoor,
    events: ResilientEventLog,
    admin_cli: Cli,
) -> None:
    settings = Settings(
        kiosk_id=KIOSK, door_io=SETTINGS.model_copy(update={"operator_poll_s": 0.1})
    )
    door = DoorHardware(hardware, settings, events.record_audit, KioskMetrics(), commands=store)
    door.start()
    try:
        door.controller.unlock_for(600, operator="ada", reason="delivery").wait(2)
        wait_until(lambda: door_report(db_engine) == (True, False))  # the poller's report
    finally:
        door.stop()  # a clean exit: what SIGTERM does
    assert hardware.output is False
    assert door_report(db_engine) == (False, True), "the last report: locked, stopped"
    line = admin_cli("door", "status", "--operator", "alice")
    assert line.stdout.startswith(
        f"{KIOSK}  STOPPED (kiosk stopped cleanly); last state: locked"
    ), line.stdout
    (shown,) = as_json(admin_cli("door", "status", "--operator", "alice", "--json"))["doors"]
    assert (shown["stopped"], shown["unlocked"], shown["stale"]) == (True, False, False)
    again = DoorController(SimulatedDoor(), SETTINGS)
    again.start()
    try:
        DoorCommandPoller(store, again, SETTINGS, KIOSK).poll_once()
    finally:
        again.stop()
    assert door_report(db_engine) == (False, False), "running again: no longer stopped"
