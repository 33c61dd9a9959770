"""What leaves the kiosk: each decision, door event, alert and health report as one
typed event with plain JSON data, and what a destination's privacy setting leaves of it.

Never in an event: a template, an image, a file name or a path. A person's id and
display name only in ``person`` (a grant's), which a destination drops unless its
``person_details`` setting allows it. The door hardware's own words (a fault's
detail) name where it is, a device path or an address: they stay on the kiosk (its
audit log, Door page and log), and what leaves names the door by its kiosk id and
the adapter by its kind only.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from core.access.door_events import Alarm, DoorClosed, DoorEvent, DoorOpened
from core.access.door_status import DoorStatus
from core.records import AccessDecision


class AlertKind(StrEnum):
    UNKNOWN_FACES = "unknown_faces"
    LIVENESS_FAILURES = "liveness_failures"
    FORCED_OPEN = "forced_open"
    HELD_OPEN = "held_open"
    DATABASE_OFFLINE = "database_offline"
    AUDIT_VERIFY_FAILED = "audit_verify_failed"
    DURESS = "duress"
    """A duress PIN at the door (issue 25's PIN mode): a silent alarm, never on the
    door's own screen."""
    PIN_WAIT = "pin_wait"
    """Wrong PINs for one person made their PIN entry wait (core.people.pin_throttle):
    someone may be guessing with their photo."""


@dataclass(frozen=True, kw_only=True)
class Alert:
    kind: AlertKind
    text: str
    """One plain line for a person: what happened and where."""
    active: bool = True
    """False when the condition has ended (the door closed, the database is back)."""
    details: dict[str, object] = field(default_factory=dict)
    occurred_at: datetime = field(default_factory=lambda: datetime.now(UTC))


@dataclass(frozen=True, kw_only=True)
class OutboundEvent:
    """One event as every destination may see it, before its privacy filter."""

    type: str
    """"access.granted", "door.alarm", "alert.held_open", "kiosk.health"..."""
    kiosk_id: str
    data: dict[str, Any]
    person: dict[str, str] | None = None
    """{"id", "name"} of a granted person; dropped unless the destination allows it."""
    event_id: uuid.UUID = field(default_factory=uuid.uuid4)
    occurred_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def group(self) -> str:
        return self.type.partition(".")[0]

    @property
    def name(self) -> str:
        return self.type.partition(".")[2]

    def body(self, with_person: bool) -> dict[str, Any]:
        """The JSON object sent: the envelope, the data, and the person if allowed."""
        body: dict[str, Any] = {
            "event_id": str(self.event_id),
            "type": self.type,
            "kiosk_id": self.kiosk_id,
            "occurred_at": self.occurred_at.isoformat(),
            **self.data,
        }
        if with_person and self.person is not None:
            body["person"] = dict(self.person)
        return body


def decision_event(decision: AccessDecision) -> OutboundEvent:
    """``event_type`` is what Home Assistant's event entity reads."""
    outcome = decision.outcome.value
    person = None
    if decision.granted and decision.person_id is not None:
        person = {"id": str(decision.person_id), "name": decision.display_name or ""}
    data: dict[str, Any] = {
        "event_type": outcome,
        "outcome": outcome,
        "reason": decision.reason,
        "refusal": decision.refusal.value if decision.refusal is not None else None,
        "similarity": None if decision.similarity is None else round(decision.similarity, 4),
        "latency_ms": round(decision.latency_ms, 1),
        "source": decision.source.value,
    }
    if is_duress(decision):
        data["duress"] = True
    return OutboundEvent(
        type=f"access.{outcome}",
        kiosk_id=decision.kiosk_id,
        data=data,
        person=person,
        event_id=decision.event_id,
        occurred_at=decision.occurred_at,
    )


def is_duress(decision: AccessDecision) -> bool:
    """A grant on the duress PIN (issue 12): it raises the silent alarm."""
    return decision.duress


def door_event_type(event: DoorEvent) -> str:
    if isinstance(event, DoorOpened):
        return "door.opened"
    if isinstance(event, DoorClosed):
        return "door.closed"
    action = event.action or f"door.{type(event).__name__.lower()}"
    return action if action.startswith("door.") else f"door.{action}"


def door_event(event: DoorEvent, kiosk_id: str, status: DoorStatus | None) -> OutboundEvent:
    """The event's audit details (no biometric data, no names but operators'), and
    the door's state just after it."""
    data: dict[str, Any] = {"event_type": door_event_type(event).partition(".")[2]}
    data.update(event.details())
    if _HARDWARE_DETAIL in data:  # DoorFaulted, UnlockFailed, UnlockUnconfirmed
        data[_HARDWARE_DETAIL] = door_fault_text(kiosk_id)
    if status is not None:
        data["state"] = door_state(status, kiosk_id)
    return OutboundEvent(
        type=door_event_type(event), kiosk_id=kiosk_id, data=data, occurred_at=event.occurred_at
    )


# The key of a door event's details that holds the hardware's own words.
_HARDWARE_DETAIL = "detail"


def door_fault_text(kiosk_id: str) -> str:
    """A door fault as it leaves the kiosk: where the door is, not where its hardware is."""
    return f"door hardware fault at {kiosk_id}; the kiosk's Door page and log say why"


def door_state(status: DoorStatus, kiosk_id: str) -> dict[str, Any]:
    """The door's state, with ON/OFF and LOCKED/UNLOCKED values that Home Assistant's
    entities read as they are (integrations.ha_discovery); the door named by
    ``kiosk_id``, its adapter by its kind ("serial"), never by its device or address."""
    state = status.state
    alarms = sorted(alarm.value for alarm in state.alarms)
    return {
        "lock": "UNLOCKED" if state.unlocked else "LOCKED",
        # Empty without a door contact: Home Assistant ignores it, the state stays unknown.
        "contact": "" if state.door_open is None else _on(state.door_open),
        "lockdown": _on(state.lockdown),
        "forced_open": _on(Alarm.FORCED_OPEN.value in alarms),
        "held_open": _on(Alarm.HELD_OPEN.value in alarms),
        "fault": _on(status.fault is not None),
        "fault_detail": None if status.fault is None else door_fault_text(kiosk_id),
        "alarms": alarms,
        "adapter": status.kind,
        "door": kiosk_id,
    }


def alert_event(alert: Alert, kiosk_id: str) -> OutboundEvent:
    return OutboundEvent(
        type=f"alert.{alert.kind.value}",
        kiosk_id=kiosk_id,
        data={
            "event_type": alert.kind.value,
            "active": alert.active,
            "text": alert.text,
            **alert.details,
        },
        occurred_at=alert.occurred_at,
    )


def health_event(kiosk_id: str, health: dict[str, Any]) -> OutboundEvent:
    return OutboundEvent(type="kiosk.health", kiosk_id=kiosk_id, data=dict(health))


def matches(event_type: str, chosen: tuple[str, ...]) -> bool:
    """Whether ``event_type`` is one of ``chosen`` (names, or groups as "door.*")."""
    group = event_type.partition(".")[0]
    return any(name == event_type or name == f"{group}.*" for name in chosen)


def _on(value: bool) -> str:
    return "ON" if value else "OFF"


def with_id(event: OutboundEvent, event_id: uuid.UUID) -> OutboundEvent:
    return replace(event, event_id=event_id)
