"""Alerts: N unknown faces or failed liveness checks within M minutes at the door, a door
forced or held open, the database unreachable too long, a failed audit verify; and the
settings that turn integrations on refuse what cannot work."""

from __future__ import annotations

from dataclasses import replace

import pytest
from pydantic import ValidationError

from core.access.door_events import Alarm, AlarmCleared, AlarmRaised
from core.integration_settings import AlertSettings, MqttSettings, WebhookSettings
from core.records import AccessDecision, AccessOutcome, access_decision
from integrations.alerts import AlertWatch
from integrations.events import AlertKind


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def face(outcome: AccessOutcome = AccessOutcome.UNKNOWN) -> object:
    return access_decision(kiosk_id="k", outcome=outcome, latency_ms=10.0)


def test_n_unknown_faces_within_the_window_raise_one_alert_and_the_count_restarts() -> None:
    clock = Clock()
    watch = AlertWatch(AlertSettings(unknown_faces=3, window_min=2), "Front", clock)
    raised = []
    for _ in range(7):
        raised += watch.decision(face())  # type: ignore[arg-type]
        clock.now += 10
    assert [a.kind for a in raised] == [AlertKind.UNKNOWN_FACES, AlertKind.UNKNOWN_FACES]
    assert raised[0].text == "3 unknown faces at Front within 2 min"
    assert watch.shown() == raised
    clock.now += 2 * 60 + 1
    assert watch.shown() == [], "a count's alert is listed for one window"


def test_faces_spread_wider_than_the_window_raise_nothing() -> None:
    clock = Clock()
    watch = AlertWatch(AlertSettings(liveness_failures=2, window_min=1), "Front", clock)
    raised = []
    for _ in range(4):
        raised += watch.decision(face(AccessOutcome.LIVENESS_FAILED))  # type: ignore[arg-type]
        clock.now += 61
    assert raised == []
    assert watch.decision(face(AccessOutcome.GRANTED)) == []  # type: ignore[arg-type]


def test_a_door_alarm_is_listed_while_it_lasts() -> None:
    watch = AlertWatch(AlertSettings(), "Front", Clock())
    (raised,) = watch.door(AlarmRaised(at_s=1.0, alarm=Alarm.HELD_OPEN))
    assert (raised.kind, raised.active) == (AlertKind.HELD_OPEN, True)
    assert watch.shown() == [raised]
    (ended,) = watch.door(AlarmCleared(at_s=2.0, alarm=Alarm.HELD_OPEN))
    assert not ended.active
    assert watch.shown() == []


def test_the_database_offline_longer_than_the_limit_raises_once_and_ends() -> None:
    clock = Clock()
    watch = AlertWatch(AlertSettings(database_offline_s=60), "Front", clock)
    assert watch.database(offline=True) == []
    clock.now += 59
    assert watch.database(offline=True) == []
    clock.now += 2
    (alert,) = watch.database(offline=True)
    assert alert.kind is AlertKind.DATABASE_OFFLINE
    clock.now += 30
    assert watch.database(offline=True) == [], "raised once per outage"
    (back,) = watch.database(offline=False)
    assert not back.active
    assert watch.shown() == []


def test_a_new_failed_verify_raises_and_the_first_reading_is_the_baseline() -> None:
    watch = AlertWatch(AlertSettings(), "Front", Clock())
    assert watch.verify_failures(7) == [], "failures before the kiosk started: not news"
    assert watch.verify_failures(7) == []
    (alert,) = watch.verify_failures(9)
    assert alert.kind is AlertKind.AUDIT_VERIFY_FAILED


def test_a_failed_verify_is_audited_for_the_kiosks_to_see(audit_log: object) -> None:
    from core.records import Operator, Role
    from storage.audit_log import SqlAuditLog

    assert isinstance(audit_log, SqlAuditLog)
    before = audit_log.newest_verify_failure()
    auditor = Operator(1, "audra", Role.AUDITOR, False, "x")
    audit_log.record_verify_failure(auditor, ["audit log: event 3 was changed"])
    assert audit_log.newest_verify_failure() > before


@pytest.mark.parametrize(
    ("section", "values", "problem"),
    [
        (MqttSettings, {"host": "b", "commands": True}, "command_users"),
        (
            MqttSettings,
            {"host": "b", "commands": True, "command_users": ["ha"], "command_operator": "o"},
            "username",
        ),
        (MqttSettings, {"command_users": ["ha/+"]}, "not a broker user name"),
        (MqttSettings, {"topic_prefix": "a/#"}, "pattern"),
        (WebhookSettings, {"url": "http://r.example/x"}, "secret_file"),
        (WebhookSettings, {"url": "ftp://r.example/x", "secret_file": "/s"}, "http"),
        (WebhookSettings, {"events": ["door.*", "people.*"]}, "not an event type"),
    ],
)
def test_settings_that_cannot_work_are_refused(
    section: type, values: dict[str, object], problem: str
) -> None:
    with pytest.raises(ValidationError, match=problem):
        section.model_validate(values)


def test_a_grant_on_the_duress_pin_raises_the_duress_alert_and_a_plain_grant_none() -> None:
    watch = AlertWatch(AlertSettings(), "Front", Clock())
    grant = AccessDecision(kiosk_id="front", outcome=AccessOutcome.GRANTED, latency_ms=1.0)
    assert watch.decision(grant) == []
    (alert,) = watch.decision(replace(grant, duress=True))
    assert alert.kind is AlertKind.DURESS
    assert "Front" in alert.text
