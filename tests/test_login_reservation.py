"""Parallel guessing gets no more password checks than sequential guessing: each
attempt is counted before its password is checked, with the throttle rows locked."""

from __future__ import annotations

import multiprocessing
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, text

from core.accounts.login_throttle import (
    KioskFailures,
    LoginAttempt,
    UserFailures,
    kiosk_after_success,
    reserve_attempt,
)
from core.accounts.operators import Authenticator, BcryptVerifier
from core.accounts.passwords import hash_password
from core.errors import AuthenticationFailed, LoginLocked, StoreError
from core.records import Operator, OperatorSummary, Role
from core.settings import SecuritySettings
from storage.audit_log import SqlAuditLog
from storage.database import connect
from storage.operator_store import SqlOperatorStore

POLICY = SecuritySettings()
PASSWORD = "tall-ladder-orange-77"
WRONG = "wrong password, again"
GUESSES = 50
NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
WAIT_S = 60


class CountingVerifier:
    """The real check, counted; wrong guesses can be held inside the check until
    released, so the correct guess arrives while they are all still in flight."""

    def __init__(self, hold_wrong: bool = False) -> None:
        self.checks = 0
        self.checking = threading.Semaphore(0)
        self.release = threading.Event()
        self._hold_wrong = hold_wrong
        self._lock = threading.Lock()
        self._real = BcryptVerifier()

    def verify(self, password: str, stored: str) -> bool:
        with self._lock:
            self.checks += 1
        self.checking.release()
        if self._hold_wrong and password != PASSWORD:
            assert self.release.wait(WAIT_S)
        return self._real.verify(password, stored)


@pytest.fixture
def alice(operator_store: SqlOperatorStore) -> Operator:
    # A cheap hash: what is counted here is checks, not their cost.
    return operator_store.add_first_operator("alice", hash_password(PASSWORD, 4), Role.ADMIN)


def throttle_failures(engine: Engine, username: str) -> int:
    with engine.connect() as connection:
        counted = connection.scalar(
            text("SELECT consecutive_failures FROM login_throttle WHERE username = :u"),
            {"u": username},
        )
    return int(counted or 0)


def test_parallel_wrong_guesses_get_no_more_checks_than_the_limit(
    operator_store: SqlOperatorStore, alice: Operator, db_engine: Engine
) -> None:
    verifier = CountingVerifier(hold_wrong=True)
    door = Authenticator(operator_store, POLICY, "door-1", verifier)

    def guess(_: int) -> str:
        try:
            door.authenticate("alice", WRONG)
        except LoginLocked:
            return "locked"
        except AuthenticationFailed:
            return "wrong"
        return "logged in"

    with ThreadPoolExecutor(GUESSES - 1) as pool:
        wrong = [pool.submit(guess, i) for i in range(GUESSES - 1)]
        try:
            # Every wrong guess has either been refused or is inside its check.
            for _ in range(POLICY.login_max_failures):
                assert verifier.checking.acquire(timeout=WAIT_S)
            refused = wait_for_refusals(wrong, GUESSES - 1 - POLICY.login_max_failures)
            assert {f.result() for f in refused} == {"locked"}
            # The correct password, last, while the wrong guesses are still being checked.
            with pytest.raises(LoginLocked, match="try again after"):
                door.authenticate("alice", PASSWORD)
        finally:
            verifier.release.set()
        outcomes = [f.result(timeout=WAIT_S) for f in wrong]
    assert verifier.checks == POLICY.login_max_failures
    assert outcomes.count("logged in") == 0
    assert throttle_failures(db_engine, "alice") == POLICY.login_max_failures


def wait_for_refusals(guesses: list[Future[str]], expected: int) -> list[Future[str]]:
    """The guesses that ended without a check, once ``expected`` of them have; a
    guess past the limit that reached the check would hang there, and fail this."""
    deadline = time.monotonic() + WAIT_S
    pause = threading.Event()  # never set: a short pause between polls
    while time.monotonic() < deadline:
        refused = [f for f in guesses if f.done()]
        if len(refused) >= expected:
            return refused
        pause.wait(0.01)
    raise AssertionError("more guesses than the limit reached the password check")


def guess_in_a_process(url: str, passwords: list[str], start: Any, outcomes: Any) -> None:
    """One process of its own, guessing from several threads at once."""
    engine = connect(url)
    try:
        verifier = CountingVerifier()
        door = Authenticator(SqlOperatorStore(engine), POLICY, "door-1", verifier)

        def guess(password: str) -> str:
            try:
                door.authenticate("alice", password)
            except LoginLocked:
                return "locked"
            except AuthenticationFailed:
                return "wrong"
            return "logged in"

        start.wait(WAIT_S)
        with ThreadPoolExecutor(len(passwords)) as pool:
            results = list(pool.map(guess, passwords))
        outcomes.put((verifier.checks, results))
    finally:
        engine.dispose()


@pytest.mark.slow
def test_guesses_from_many_processes_and_threads_share_one_limit(
    fresh_database: str, alice: Operator, db_engine: Engine, audit_log: SqlAuditLog
) -> None:
    processes, per_process = 5, GUESSES // 5
    context = multiprocessing.get_context("spawn")
    start, results = context.Barrier(processes), context.Queue()
    guessers = [
        context.Process(
            target=guess_in_a_process,
            args=(fresh_database, [WRONG] * per_process, start, results),
        )
        for _ in range(processes)
    ]
    for guesser in guessers:
        guesser.start()
    reports = [results.get(timeout=300) for _ in guessers]
    for guesser in guessers:
        guesser.join(timeout=WAIT_S)
        assert guesser.exitcode == 0
    checks = sum(count for count, _ in reports)
    outcomes = [outcome for _, per in reports for outcome in per]
    assert checks == POLICY.login_max_failures
    assert outcomes.count("locked") == GUESSES - POLICY.login_max_failures + 1
    assert throttle_failures(db_engine, "alice") == checks
    locks = [e for e in audit_log.audit_events(50, actor=alice) if e.action == "login.locked"]
    assert len(locks) == 1
    door = Authenticator(SqlOperatorStore(db_engine), POLICY, "door-1")
    with pytest.raises(LoginLocked, match="try again after"):
        door.authenticate("alice", PASSWORD)


def test_a_check_that_never_finishes_stays_counted(
    operator_store: SqlOperatorStore, alice: Operator, db_engine: Engine
) -> None:
    class DyingVerifier:
        def verify(self, password: str, stored: str) -> bool:
            raise RuntimeError("the process died during the check")

    door = Authenticator(operator_store, POLICY, "door-1", DyingVerifier())
    for _ in range(POLICY.login_max_failures):
        with pytest.raises(RuntimeError):
            door.authenticate("alice", PASSWORD)
    assert throttle_failures(db_engine, "alice") == POLICY.login_max_failures
    with pytest.raises(LoginLocked):
        Authenticator(operator_store, POLICY, "door-1").authenticate("alice", PASSWORD)


class UncountableStore:
    """An operator store whose throttle cannot count, as when the database deadlocks."""

    def __init__(self, real: SqlOperatorStore) -> None:
        self._real = real

    def reserve_login_attempt(
        self, username: str, kiosk_id: str, policy: SecuritySettings
    ) -> LoginAttempt:
        raise StoreError("deadlock detected")

    def find_operator(self, username: str) -> Operator | None:
        return self._real.find_operator(username)

    def record_login_success(self, attempt: LoginAttempt) -> None:
        raise AssertionError("no success without a counted attempt")

    def add_first_operator(self, username: str, password_hash: str, role: Role) -> Operator:
        raise AssertionError("not used")

    def add_operator(
        self, username: str, password_hash: str, role: Role, actor: Operator
    ) -> Operator:
        raise AssertionError("not used")

    def operators(self, *, actor: Operator) -> list[OperatorSummary]:
        raise AssertionError("not used")

    def update_operator(self, username: str, actor: Operator, action: str, **_: Any) -> None:
        raise AssertionError("not used")


def test_an_attempt_that_cannot_be_counted_checks_no_password(
    operator_store: SqlOperatorStore, alice: Operator
) -> None:
    verifier = CountingVerifier()
    door = Authenticator(UncountableStore(operator_store), POLICY, "door-1", verifier)
    with pytest.raises(StoreError, match="deadlock"):
        door.authenticate("alice", PASSWORD)
    assert verifier.checks == 0


def test_a_success_takes_its_count_back_at_the_kiosk(
    operator_store: SqlOperatorStore, alice: Operator
) -> None:
    policy = SecuritySettings(kiosk_login_max_failures=3)
    door = Authenticator(operator_store, policy, "door-7", CountingVerifier())
    for name in ("ghost1", "ghost2"):
        with pytest.raises(AuthenticationFailed):
            door.authenticate(name, WRONG)
    for _ in range(3):  # each success gives its count back: the kiosk never reaches 3
        assert door.authenticate("alice", PASSWORD).username == "alice"
    with pytest.raises(LoginLocked, match="at this kiosk"):
        door.authenticate("ghost3", WRONG)  # the third failure locks it


# ---- the pure rules -------------------------------------------------------------------


def fresh_kiosk() -> KioskFailures:
    return KioskFailures(NOW, 0, None)


def test_reserving_counts_up_front_and_locks_at_the_limit() -> None:
    user = UserFailures(0, 0, None)
    kiosk = fresh_kiosk()
    for n in range(1, POLICY.login_max_failures + 1):
        user, attempt = reserve_attempt("alice", "door", user, kiosk, NOW, POLICY)
        kiosk = attempt.kiosk_after
        assert user.consecutive_failures == n
        assert attempt.locked_user is (n == POLICY.login_max_failures)
    assert user.locked_until == NOW + timedelta(seconds=POLICY.login_base_lock_s)
    with pytest.raises(LoginLocked):  # the attempt after the limit is not reserved
        reserve_attempt("alice", "door", user, kiosk, NOW, POLICY)
    later = NOW + timedelta(seconds=POLICY.login_base_lock_s + 1)
    user, attempt = reserve_attempt("alice", "door", user, kiosk, later, POLICY)
    assert attempt.locked_user  # once the lock ends, one guess, then a longer lock
    assert user.locked_until == later + timedelta(seconds=2 * POLICY.login_base_lock_s)


def test_a_success_gives_back_the_kiosk_count_only_if_nothing_came_since() -> None:
    user = UserFailures(0, 0, None)
    _, mine = reserve_attempt("alice", "door", user, fresh_kiosk(), NOW, POLICY)
    assert kiosk_after_success(mine.kiosk_after, mine) == fresh_kiosk()
    _, theirs = reserve_attempt("bob", "door", user, mine.kiosk_after, NOW, POLICY)
    assert kiosk_after_success(theirs.kiosk_after, mine) == theirs.kiosk_after
