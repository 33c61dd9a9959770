"""Pure security policies on fake clocks: backoff, cooldown, sessions, the audit chain."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from core.access.recognition_throttle import RecognitionThrottle
from core.accounts.login_throttle import LoginGate, user_lock
from core.accounts.passwords import calibrated_rounds
from core.accounts.sessions import OperatorSession
from core.administration.audit import GENESIS_HASH, chain_hash, verify_chain
from core.errors import LoginLocked, RecognitionPaused, SessionExpired
from core.log_records import AuditEntry
from core.records import Operator, Role
from core.settings import SecuritySettings

POLICY = SecuritySettings()


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_login_lock_starts_at_the_fifth_failure_doubles_and_is_capped() -> None:
    assert [user_lock(n, 0, POLICY) for n in range(1, 5)] == [None] * 4
    locks = [user_lock(5 + i, i, POLICY) for i in range(8)]
    assert [lock.total_seconds() for lock in locks if lock] == [
        30,
        60,
        120,
        240,
        480,
        900,
        900,
        900,
    ]


def test_a_lock_says_when_to_retry() -> None:
    now = datetime(2026, 11, 22, 10, 0, 0, tzinfo=UTC)
    LoginGate(now, now - timedelta(seconds=1), None).check()  # expired: allowed
    with pytest.raises(LoginLocked, match=r"try again after 10:00:30 UTC \(in 30 s\)"):
        LoginGate(now, now + timedelta(seconds=30), None).check()
    with pytest.raises(LoginLocked, match="at this kiosk"):
        LoginGate(now, None, now + timedelta(seconds=300)).check()


def test_recognition_throttle_pauses_after_denials_in_the_window() -> None:
    clock = FakeClock()
    throttle = RecognitionThrottle(POLICY, clock)
    for _ in range(POLICY.recognition_max_denied):
        throttle.check()
        throttle.record(granted=False)
    with pytest.raises(RecognitionPaused) as paused:
        throttle.check()
    assert paused.value.retry_after_s == pytest.approx(POLICY.recognition_cooldown_s)
    clock.now += POLICY.recognition_cooldown_s + 0.1
    throttle.check()  # the cooldown is over


def test_spread_out_denials_and_grants_do_not_pause() -> None:
    clock = FakeClock()
    throttle = RecognitionThrottle(POLICY, clock)
    for _ in range(50):
        throttle.record(granted=False)
        clock.now += POLICY.recognition_window_s / (POLICY.recognition_max_denied - 1) + 0.01
        throttle.check()
    throttle = RecognitionThrottle(POLICY, clock)
    for _ in range(50):
        throttle.record(granted=False)
        throttle.record(granted=False)
        throttle.record(granted=True)
        throttle.check()


def test_recognition_throttle_memory_is_bounded() -> None:
    throttle = RecognitionThrottle(POLICY, FakeClock())
    for _ in range(10_000):
        throttle.record(granted=False)
    assert len(throttle._denied) <= POLICY.recognition_max_denied


def test_operator_session_ends_after_inactivity() -> None:
    clock = FakeClock()
    operator = Operator(1, "alice", Role.ADMIN, False, "x")
    session = OperatorSession(operator, idle_s=120, clock=clock)
    clock.now += 100
    assert session.operator() == operator  # activity renews it
    clock.now += 100
    assert session.operator() == operator
    clock.now += 121
    assert not session.active
    with pytest.raises(SessionExpired):
        session.operator()
    clock.now -= 500  # even a clock going back does not revive it
    with pytest.raises(SessionExpired):
        session.operator()


def test_bcrypt_cost_is_at_least_the_minimum() -> None:
    assert calibrated_rounds(250.0, 12) >= 12
    assert calibrated_rounds(0.001, 12) == 12


def _chain(count: int) -> list[AuditEntry]:
    entries, prev = [], GENESIS_HASH
    start = datetime(2026, 1, 1, tzinfo=UTC)
    for i in range(1, count + 1):
        at = start + timedelta(minutes=i)
        details: dict[str, object] = {"n": i, "list": [1, 2]}
        digest = chain_hash(prev, at, "alice", "person.enroll", f"t{i}", details)
        entries.append(AuditEntry(i, at, "alice", "person.enroll", f"t{i}", details, prev, digest))
        prev = digest
    return entries


def test_an_intact_chain_verifies() -> None:
    report = verify_chain(_chain(5))
    assert report.checked == 5
    assert report.broken is None


def test_a_changed_event_is_the_first_broken_link() -> None:
    entries = _chain(5)
    entries[2] = replace(entries[2], actor="mallory")
    report = verify_chain(entries)
    assert report.checked == 2
    assert report.broken is not None
    assert report.broken.event_id == 3
    assert "changed" in str(report.broken)


def test_a_removed_event_breaks_the_next_link() -> None:
    entries = _chain(5)
    del entries[1]
    report = verify_chain(entries)
    assert report.broken is not None
    assert report.broken.event_id == 3
    assert "removed" in str(report.broken)
