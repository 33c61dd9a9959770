"""The kiosk's door hardware: the simulated door driven through the decision relay,
its events in the audit log (the real database), the metrics and the door screen."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QObject, Qt, Signal, Slot
from pytestqt.qtbot import QtBot
from sqlalchemy import Engine

from core.access.consumers import DecisionRelay
from core.access.door_events import DoorEvent, Unlocked
from core.accounts.operators import Authenticator
from core.door_io_settings import DoorIoSettings
from core.log_records import AuditEntry, LogFilter
from core.records import AccessDecision, AccessOutcome, Operator, Role
from core.settings import SecuritySettings, Settings
from door_io.simulated import SimulatedDoor
from kiosk.admin_screen import AdminScreen
from kiosk.door_hardware import DoorHardware, describe
from kiosk.kiosk_screen import (
    DOOR_FAILED_TEXT,
    DOOR_OPEN_TEXT,
    DOOR_REFUSED_TEXT,
    DOOR_UNCONFIRMED_TEXT,
    KioskScreen,
)
from storage.audit_log import SqlAuditLog
from storage.event_log import ResilientEventLog
from storage.operator_store import SqlOperatorStore
from storage.spool import EventSpool
from telemetry.metrics import KioskMetrics
from tests.door_events_recorder import DoorEventRecorder, wait_until

SETTINGS = Settings(
    kiosk_id="door-north",
    door_io=DoorIoSettings(
        adapter="simulated", unlock_s=1, poll_interval_s=0.02, debounce_s=0.02, retry_s=0.1
    ),
)


@pytest.fixture
def events(db_engine: Engine, tmp_path: Path) -> ResilientEventLog:
    return ResilientEventLog(db_engine, EventSpool(tmp_path / "spool.jsonl"), "door-north")


@pytest.fixture
def hardware() -> SimulatedDoor:
    return SimulatedDoor()


@pytest.fixture
def metrics() -> KioskMetrics:
    return KioskMetrics()


@pytest.fixture
def door(
    qtbot: QtBot, hardware: SimulatedDoor, events: ResilientEventLog, metrics: KioskMetrics
) -> Iterator[tuple[DoorHardware, KioskScreen, DecisionRelay]]:
    screen = KioskScreen()
    qtbot.addWidget(screen)
    door = DoorHardware(hardware, SETTINGS, events.record_audit, metrics)
    door.show_on(screen)
    door.start()
    relay = DecisionRelay([("door", door.controller)], queue_size=8)
    yield door, screen, relay
    relay.close()
    door.stop()


@pytest.fixture
def admin(operator_store: SqlOperatorStore) -> Operator:
    return Authenticator(operator_store, SecuritySettings(), "t").create_first_admin(
        "ada", "tall-ladder-orange-77"
    )


@pytest.fixture
def audited(audit_log: SqlAuditLog, admin: Operator) -> Callable[..., list[AuditEntry]]:
    """The audit log's door events as the admin reads them, newest first."""

    def read(action: str = "door.", limit: int = 50) -> list[AuditEntry]:
        return audit_log.audit_events(limit, LogFilter(action=action), actor=admin)

    return read


def actions(audited: Callable[..., list[AuditEntry]]) -> list[str]:
    return [e.action for e in reversed(audited())]


def granted() -> AccessDecision:
    return AccessDecision(kiosk_id="door-north", outcome=AccessOutcome.GRANTED, latency_ms=300)


def test_a_grant_opens_the_door_says_so_and_is_audited(
    qtbot: QtBot,
    door: tuple[DoorHardware, KioskScreen, DecisionRelay],
    hardware: SimulatedDoor,
    audited: Callable[..., list[AuditEntry]],
    metrics: KioskMetrics,
) -> None:
    _hardware_door, screen, relay = door
    decision = granted()
    relay.consume(decision)
    screen.show_decision(decision)  # what recognition shows, whenever it arrives
    qtbot.waitUntil(lambda: DOOR_OPEN_TEXT in screen.banner.text(), timeout=3000)
    assert hardware.output is True
    assert screen.door_state.text().startswith("door unlocked")
    qtbot.waitUntil(lambda: "door.relock" in actions(audited)[1:], timeout=5000)
    unlocks = audited("door.unlock")
    assert [e.details["access_event_id"] for e in unlocks] == [str(decision.event_id)]
    assert unlocks[0].target == "door-north"
    assert actions(audited) == ["door.relock", "door.unlock", "door.relock"]
    counted = metrics.registry.get_sample_value(
        "kiosk_door_unlocks_total", {"cause": "grant", "result": "done"}
    )
    assert counted == 1
    qtbot.waitUntil(lambda: screen.door_state.text() == "door locked", timeout=3000)


def test_a_failed_unlock_tells_the_person_to_call_staff(
    qtbot: QtBot,
    door: tuple[DoorHardware, KioskScreen, DecisionRelay],
    hardware: SimulatedDoor,
    audited: Callable[..., list[AuditEntry]],
    metrics: KioskMetrics,
) -> None:
    _hardware_door, screen, relay = door
    hardware.unplug()
    decision = granted()
    relay.consume(decision)
    screen.show_decision(decision)
    qtbot.waitUntil(lambda: screen.banner.text() == DOOR_FAILED_TEXT, timeout=3000)
    qtbot.waitUntil(lambda: "DOOR FAULT" in screen.door_state.text(), timeout=3000)
    wait_until(lambda: relay.counts["door"].failed == 1)
    qtbot.waitUntil(lambda: "door.unlock_failed" in actions(audited), timeout=5000)
    (failed,) = audited("door.unlock_failed")
    assert failed.details["access_event_id"] == str(decision.event_id)
    assert "door.fault" in actions(audited)
    assert metrics.registry.get_sample_value("kiosk_door_faults_total") == 1
    assert metrics.registry.get_sample_value("kiosk_door_state", {"state": "fault"}) == 1
    hardware.unplug(False)
    qtbot.waitUntil(lambda: "door.fault_cleared" in actions(audited), timeout=5000)


def test_an_unconfirmed_unlock_tells_the_person_to_call_staff_and_is_never_did_not_open(
    qtbot: QtBot,
    door: tuple[DoorHardware, KioskScreen, DecisionRelay],
    hardware: SimulatedDoor,
    audited: Callable[..., list[AuditEntry]],
    metrics: KioskMetrics,
) -> None:
    _hardware_door, screen, relay = door
    hardware.lose_answers()  # the module carries the unlock out; its answer is lost
    decision = granted()
    relay.consume(decision)
    screen.show_decision(decision)
    qtbot.waitUntil(lambda: screen.banner.text() == DOOR_UNCONFIRMED_TEXT, timeout=3000)
    qtbot.waitUntil(lambda: "DOOR FAULT" in screen.door_state.text(), timeout=3000)
    qtbot.waitUntil(lambda: "door.unlock_unconfirmed" in actions(audited), timeout=5000)
    (unconfirmed,) = audited("door.unlock_unconfirmed")
    assert unconfirmed.details["access_event_id"] == str(decision.event_id)
    assert unconfirmed.details["detail"].startswith("unlock not confirmed, the door may be")
    assert audited("door.unlock_failed") == []
    assert True in hardware.writes
    counted = metrics.registry.get_sample_value(
        "kiosk_door_unlocks_total", {"cause": "grant", "result": "unconfirmed"}
    )
    assert counted == 1
    hardware.lose_answers(False)
    qtbot.waitUntil(lambda: "door.lock_confirmed" in actions(audited), timeout=5000)
    assert hardware.output is False
    qtbot.waitUntil(lambda: screen.door_state.text() == "door locked", timeout=3000)


def test_lockdown_refuses_the_grant_on_the_screen_and_in_the_audit(
    qtbot: QtBot,
    door: tuple[DoorHardware, KioskScreen, DecisionRelay],
    hardware: SimulatedDoor,
    audited: Callable[..., list[AuditEntry]],
) -> None:
    hardware_door, screen, relay = door
    hardware_door.controller.lockdown(operator="ada", reason="police request").wait(2)
    qtbot.waitUntil(lambda: "LOCKDOWN" in screen.door_state.text(), timeout=3000)
    decision = granted()
    relay.consume(decision)
    screen.show_decision(decision)
    qtbot.waitUntil(lambda: DOOR_REFUSED_TEXT in screen.banner.text(), timeout=3000)
    assert hardware.output is False
    qtbot.waitUntil(lambda: "door.unlock_refused" in actions(audited), timeout=5000)
    (lockdown,) = audited("door.lockdown")
    assert (lockdown.details["operator"], lockdown.details["reason"]) == ("ada", "police request")


class Recognition(QObject):
    """Stands in for the recognition worker: its decisions reach the screen as a
    queued signal from a thread of its own, as outcome_ready does."""

    decided = Signal(object)  # AccessDecision


class Delivered(QObject):
    """Counts, on the GUI thread, what reached it: queued after the screen's own slots
    for the same signals, so the screen has had each one first."""

    def __init__(self) -> None:
        super().__init__()
        self.decisions = 0
        self.unlocks = 0

    @Slot(object)
    def decision(self, _decision: AccessDecision) -> None:
        self.decisions += 1

    @Slot(object)
    def door_event(self, event: DoorEvent) -> None:
        self.unlocks += isinstance(event, Unlocked)


def test_repeated_grants_from_two_threads_end_on_the_last_one_s_door_open(
    qtbot: QtBot, door: tuple[DoorHardware, KioskScreen, DecisionRelay]
) -> None:
    hardware_door, screen, relay = door
    recognition = Recognition()
    recognition.decided.connect(screen.show_decision)
    delivered = Delivered()
    recognition.decided.connect(delivered.decision)
    hardware_door.door_event.connect(delivered.door_event)
    people = [
        AccessDecision(
            kiosk_id="door-north",
            outcome=AccessOutcome.GRANTED,
            latency_ms=300,
            display_name=f"Person {i}",
        )
        for i in range(8)
    ]

    door_events = DoorEventRecorder()  # on the door's thread, as each event is sent
    hardware_door.door_event.connect(door_events, Qt.ConnectionType.DirectConnection)

    def opened_for(decision: AccessDecision) -> Callable[[Unlocked], bool]:
        return lambda event: event.event_id == decision.event_id

    def recognise() -> None:
        for i, decision in enumerate(people):
            if i % 2 == 0:  # the decision reaches the screen first...
                recognition.decided.emit(decision)
                relay.consume(decision)
            else:  # ...or the door's result does
                relay.consume(decision)
                door_events.wait_for(Unlocked, opened_for(decision))
                recognition.decided.emit(decision)

    recognising = threading.Thread(target=recognise)
    recognising.start()
    qtbot.waitUntil(lambda: delivered.decisions == delivered.unlocks == len(people), timeout=5000)
    recognising.join()
    assert screen.banner.text() == f"Person 7\n{DOOR_OPEN_TEXT}"


def test_forced_open_is_shown_and_audited(
    qtbot: QtBot,
    door: tuple[DoorHardware, KioskScreen, DecisionRelay],
    hardware: SimulatedDoor,
    audited: Callable[..., list[AuditEntry]],
    metrics: KioskMetrics,
) -> None:
    hardware_door, screen, _relay = door
    operators = AdminScreen(Operator(1, "ada", Role.ADMIN, False, "-"), [])
    qtbot.addWidget(operators)
    hardware_door.state_described.connect(operators.show_door_state)
    wait_until(lambda: hardware_door.status.state.door_open is False)
    hardware.move_door(is_open=True)
    qtbot.waitUntil(lambda: "FORCED OPEN" in screen.door_state.text(), timeout=3000)
    qtbot.waitUntil(lambda: "FORCED OPEN" in operators.door_state.text(), timeout=3000)
    qtbot.waitUntil(lambda: "door.alarm" in actions(audited), timeout=5000)
    (alarm,) = audited("door.alarm")
    assert alarm.details["alarm"] == "forced_open"
    assert metrics.registry.get_sample_value("kiosk_door_alarms_total", {"alarm": "forced_open"})


def test_the_state_line_in_words() -> None:
    door = DoorHardware(SimulatedDoor(), SETTINGS, lambda _event: None, KioskMetrics())
    assert describe(door.status) == "door locked"


def test_door_audit_events_may_wait_in_the_spool() -> None:
    from core.access.door_events import RelockCause, Relocked
    from core.log_records import KioskAuditEvent
    from storage.spool_bounds import SpoolError, validate

    event = Relocked(at_s=0, cause=RelockCause.START)
    assert event.action is not None
    validate(KioskAuditEvent("door-north", event.action, event.details()))  # no SpoolError
    with pytest.raises(SpoolError, match="not one a kiosk reports"):
        validate(KioskAuditEvent("door-north", "operator.create", {}))
