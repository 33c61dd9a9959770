"""The door over a faulty link to a real Modbus-TCP module (pymodbus's own server on
127.0.0.1, behind tests.door_modbus_link): answers that come late or garbled after
the module carried a write out, and a module that acknowledges writes it never
carries out. The door records what the output really did, never "did not open"
while it may be open, and relocks until the output reads back locked."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from core.access.door_controller import DoorController
from core.access.door_events import (
    DoorFaultCleared,
    DoorFaulted,
    LockConfirmed,
    Relocked,
    Unlocked,
    UnlockFailed,
    UnlockUnconfirmed,
)
from core.door_io_settings import DoorIoSettings
from core.errors import DoorFault
from core.records import AccessDecision, AccessOutcome
from door_io.modbus import ModbusDoor
from door_io.modbus_module import ModbusModule
from tests.door_events_recorder import DoorEventRecorder, wait_until
from tests.door_modbus_link import LinkFault, ModbusLink

pytestmark = pytest.mark.slow  # a real Modbus-TCP module behind a faulty link, and its time-outs

LOCK_COIL = 3
CONTACT = 4
TIMEOUT_S = 0.3
RETRY_S = 0.1
RETRY_MAX_S = 4.0


@pytest.fixture
def module() -> Iterator[ModbusModule]:
    server = ModbusModule()
    server.start()
    server.set_input(CONTACT, True)  # the door is shut
    yield server
    server.close()


@pytest.fixture
def link(module: ModbusModule) -> Iterator[ModbusLink]:
    relay = ModbusLink(module.port)
    yield relay
    relay.close()


@pytest.fixture
def recorder() -> DoorEventRecorder:
    return DoorEventRecorder()


@pytest.fixture
def door(link: ModbusLink, recorder: DoorEventRecorder) -> Iterator[DoorController]:
    settings = DoorIoSettings.model_validate(
        {
            "adapter": "modbus",
            "modbus_host": "127.0.0.1",
            "modbus_port": link.port,
            "modbus_lock_coil": LOCK_COIL,
            "modbus_contact_input": CONTACT,
            "modbus_timeout_s": TIMEOUT_S,
            "unlock_s": 1,
            "poll_interval_s": 0.02,
            "debounce_s": 0.04,
            "retry_s": RETRY_S,
            "retry_max_s": RETRY_MAX_S,
        }
    )
    controller = DoorController(ModbusDoor(settings), settings, listeners=[recorder])
    controller.start()
    recorder.wait_for(Relocked)
    wait_until(lambda: controller.status.state.door_open is not None)  # the inputs were read
    yield controller
    controller.stop()


def granted() -> AccessDecision:
    return AccessDecision(kiosk_id="door-test", outcome=AccessOutcome.GRANTED, latency_ms=250)


def test_an_unlock_answered_late_that_took_is_recorded_as_open(
    door: DoorController, module: ModbusModule, link: ModbusLink, recorder: DoorEventRecorder
) -> None:
    link.fault, link.delay_s = LinkFault.SLOW, 2 * TIMEOUT_S  # the writes' answers only
    decision = granted()
    door.consume(decision)  # the coil reads back on: the unlock is done, not failed
    assert module.coil(LOCK_COIL)
    assert recorder.wait_for(Unlocked).event_id == decision.event_id
    assert "did not answer within" in recorder.wait_for(DoorFaulted).detail
    assert recorder.of(UnlockFailed) == []
    assert recorder.of(UnlockUnconfirmed) == []
    wait_until(lambda: not module.coil(LOCK_COIL), timeout_s=3)  # relocked after unlock_s


@pytest.mark.parametrize("fault", [LinkFault.GARBLED, LinkFault.SLOW])
def test_an_unlock_whose_outcome_is_unknown_is_unconfirmed_and_relocked_until_confirmed(
    door: DoorController,
    module: ModbusModule,
    link: ModbusLink,
    recorder: DoorEventRecorder,
    fault: LinkFault,
) -> None:
    link.fault, link.writes_only, link.delay_s = fault, False, 2 * TIMEOUT_S
    recorder.wait_for(DoorFaulted)
    # Faulted long enough for the retries to wait their longest (RETRY_MAX_S).
    wait_until(lambda: link.spoiled >= 6, timeout_s=10)
    decision = granted()
    with pytest.raises(DoorFault, match="is not confirmed: unlock not confirmed, the door may"):
        door.consume(decision)
    answered = time.monotonic()
    unconfirmed = recorder.wait_for(UnlockUnconfirmed)
    assert unconfirmed.event_id == decision.event_id
    assert recorder.of(UnlockFailed) == [], "never 'did not open' while it may be open"
    assert recorder.of(Unlocked) == []
    assert (LOCK_COIL, True) in module.coil_writes, "the module did take the unlock"
    wait_until(lambda: not module.coil(LOCK_COIL), timeout_s=RETRY_MAX_S)
    assert time.monotonic() - answered < RETRY_S + 3 * TIMEOUT_S + 0.5, (
        "relocked at once, not after the fault's longest retry wait"
    )
    assert (door.status.fault or "").startswith(("unlock not confirmed", "relock not confirmed")), (
        door.status.fault
    )
    assert recorder.of(LockConfirmed) == [], "not confirmed while no answer can be read"
    link.fault = LinkFault.NONE
    recorder.wait_for(LockConfirmed)
    recorder.wait_for(DoorFaultCleared)
    assert door.status.fault is None
    assert not module.coil(LOCK_COIL)
    door.consume(granted())  # the door works again
    assert module.coil(LOCK_COIL)


def test_a_module_that_acknowledges_an_unlock_it_never_carries_out_is_a_fault(
    door: DoorController, module: ModbusModule, link: ModbusLink, recorder: DoorEventRecorder
) -> None:
    link.fault = LinkFault.ACK_ONLY
    decision = granted()
    with pytest.raises(DoorFault, match="took the lock output on but reads it back off"):
        door.consume(decision)
    failed = recorder.wait_for(UnlockFailed)  # true: the output reads back locked
    assert failed.event_id == decision.event_id
    assert "reads it back off" in recorder.wait_for(DoorFaulted).detail
    assert recorder.of(Unlocked) == []
    assert not module.coil(LOCK_COIL)
    assert (LOCK_COIL, True) not in module.coil_writes


def test_a_relay_that_reads_on_after_the_relock_is_a_fault_retried_until_it_reads_off(
    door: DoorController, module: ModbusModule, link: ModbusLink, recorder: DoorEventRecorder
) -> None:
    link.fault = LinkFault.STUCK_ON  # the relay welded shut: the coil reads on
    faulted = recorder.wait_for(DoorFaulted)
    assert "took the lock output off but reads it back on" in faulted.detail
    writes = len(module.coil_writes)
    wait_until(lambda: len(module.coil_writes) >= writes + 3, timeout_s=1)  # every retry_s
    assert set(module.coil_writes[writes:]) == {(LOCK_COIL, False)}
    link.fault = LinkFault.NONE  # mended
    recorder.wait_for(LockConfirmed)
    recorder.wait_for(DoorFaultCleared)
