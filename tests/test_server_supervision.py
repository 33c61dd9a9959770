"""When the supervisor retries a dead server, and what it records of an outage."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from core.administration.server_supervision import ServerSupervision, restart_delay
from core.settings import EmbeddedServerSettings

SETTINGS = EmbeddedServerSettings(restart_delay_s=1.0, restart_backoff=2.0, restart_delay_max_s=5.0)
NOON = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def test_the_first_restart_is_at_once_then_the_waits_double_up_to_the_maximum() -> None:
    delays = [restart_delay(failed, SETTINGS) for failed in range(7)]
    assert delays == [0.0, 1.0, 2.0, 4.0, 5.0, 5.0, 5.0]


def test_a_huge_number_of_failures_still_waits_the_maximum() -> None:
    assert restart_delay(10_000, SETTINGS) == SETTINGS.restart_delay_max_s


def test_the_settings_refuse_unbounded_waits() -> None:
    with pytest.raises(ValueError, match="restart_delay_max_s"):
        EmbeddedServerSettings(restart_delay_max_s=0)
    with pytest.raises(ValueError, match="restart_backoff"):
        EmbeddedServerSettings(restart_backoff=0.5)


def test_restarts_are_due_only_after_each_wait() -> None:
    supervision = ServerSupervision(SETTINGS)
    assert not supervision.restart_due(100.0)  # up: nothing to restart
    supervision.seen_down(100.0, NOON)
    assert supervision.restart_due(100.0)
    supervision.restart_failed(100.0, "shared memory still in use")
    assert not supervision.restart_due(100.5)
    assert supervision.restart_due(101.0)
    supervision.restart_failed(101.0, "again")
    assert not supervision.restart_due(102.9)
    assert supervision.restart_due(103.0)


def test_an_outage_ended_by_a_restart_names_its_length_and_attempts() -> None:
    supervision = ServerSupervision(SETTINGS)
    supervision.seen_down(100.0, NOON)
    supervision.seen_down(101.0, NOON + timedelta(seconds=1))  # still the same outage
    supervision.restart_failed(101.0, "shared memory still in use")
    during = supervision.status(103.5)
    assert not during.up
    assert during.down_since == NOON
    assert during.down_s == pytest.approx(3.5)
    assert during.last_error == "shared memory still in use"

    outage = supervision.seen_up(104.0, NOON + timedelta(seconds=4), restarted_here=True)
    assert outage is not None
    assert outage.down_s == pytest.approx(4.0)
    assert outage.restart_attempts == 2
    assert outage.began_at == NOON
    assert outage.audit_details() == {
        "down_since": NOON.isoformat(),
        "back_at": (NOON + timedelta(seconds=4)).isoformat(),
        "down_s": 4.0,
        "restart_attempts": 2,
        "last_error": "shared memory still in use",
    }
    after = supervision.status(200.0)
    assert after.up
    assert after.down_s == 0.0
    assert (after.restarts, after.failed_restarts, after.outages) == (1, 1, 1)
    assert after.last_outage == outage


def test_a_server_back_by_itself_is_an_outage_but_not_a_restart() -> None:
    supervision = ServerSupervision(SETTINGS)
    assert supervision.seen_up(5.0, NOON) is None  # up and up: no outage
    supervision.seen_down(10.0, NOON)
    outage = supervision.seen_up(12.0, NOON + timedelta(seconds=2))
    assert outage is not None
    assert outage.restart_attempts == 0
    status = supervision.status(12.0)
    assert (status.restarts, status.outages) == (0, 1)


def test_a_new_outage_starts_its_waits_afresh() -> None:
    supervision = ServerSupervision(SETTINGS)
    supervision.seen_down(0.0, NOON)
    for moment in (0.0, 1.0, 3.0, 7.0):
        supervision.restart_failed(moment, "down")
    supervision.seen_up(8.0, NOON, restarted_here=True)
    supervision.seen_down(50.0, NOON)
    assert supervision.restart_due(50.0)
