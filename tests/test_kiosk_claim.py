"""One running kiosk per kiosk id: a second one refuses to start, a crashed one
restarts under its id, and door commands go only to the kiosk that holds it (real
processes and sessions on the real embedded PostgreSQL)."""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from config.environment import Location
from core.access.door_commands import DoorCommandKind
from core.accounts.operators import Authenticator
from core.errors import KioskIdInUse
from core.records import Operator
from core.service_settings import DatabaseSettings
from core.settings import SecuritySettings, Settings
from storage.database import connect
from storage.door_commands import SqlDoorCommands
from storage.kiosk_claim import KioskClaim, claim_key, claim_kiosk_id
from storage.kiosk_registry import register_kiosk
from storage.operator_store import SqlOperatorStore
from storage.store import open_store

KIOSK = "door-north"
RACERS = 5
ANSWER_S = 60.0  # the longest a worker may take to answer here


class Racer:
    """A kiosk process (tests.kiosk_claim_worker), ready to take ``kiosk_id``."""

    def __init__(self, url: str, kiosk_id: str, wait_s: float) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.kiosk_claim_worker", url, kiosk_id, str(wait_s)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])},
        )
        assert self.answer() == {"ready": True}

    def answer(self) -> dict[str, object]:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        assert line, f"the kiosk process ended ({self.process.wait(ANSWER_S)})"
        answer: dict[str, object] = json.loads(line)
        return answer

    def go(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write("go\n")
        self.process.stdin.flush()

    def stop(self) -> None:
        if self.process.poll() is None:
            assert self.process.stdin is not None
            self.process.stdin.close()
            self.process.wait(ANSWER_S)


@pytest.fixture
def racers() -> Iterator[list[Racer]]:
    started: list[Racer] = []
    yield started
    for racer in started:
        racer.stop()


@pytest.mark.slow
def test_of_kiosks_starting_together_under_one_id_exactly_one_runs(
    fresh_database: str, racers: list[Racer]
) -> None:
    racers += [Racer(fresh_database, KIOSK, 0.0) for _ in range(RACERS)]
    for racer in racers:  # all connected first: only the claims race
        racer.go()
    answers = [racer.answer() for racer in racers]
    holders = [racer for racer, answer in zip(racers, answers, strict=True) if answer["held"]]
    assert len(holders) == 1, answers
    for answer in answers:
        if not answer["held"]:
            error = str(answer["error"])
            assert f"kiosk id {KIOSK} is in use by another running kiosk" in error
            assert "kiosk.id in kiosk.toml or KIOSK_ID" in error
            assert "\n" not in error

    # The holder dies without a word (kill -9): a kiosk restarted under the id gets it,
    # nobody cleaning up after it.
    holders[0].process.kill()
    holders[0].process.wait(ANSWER_S)
    restarted = Racer(fresh_database, KIOSK, DatabaseSettings().kiosk_claim_wait_s)
    racers.append(restarted)
    restarted.go()
    assert restarted.answer() == {"held": True}
    # Another id is free all along.
    other = Racer(fresh_database, "door-south", 0.0)
    racers.append(other)
    other.go()
    assert other.answer() == {"held": True}


@pytest.fixture
def admin(operator_store: SqlOperatorStore) -> Operator:
    return Authenticator(operator_store, SecuritySettings(), "t").create_first_admin(
        "ada", "tall-ladder-orange-77"
    )


@pytest.fixture
def second_engine(fresh_database: str) -> Iterator[Engine]:
    """Another kiosk's connections to the same database."""
    engine = connect(fresh_database)
    yield engine
    engine.dispose()


def ask_lockdown(engine: Engine, admin: Operator) -> int:
    return SqlDoorCommands(engine).request(
        actor=admin, kiosk_id=KIOSK, kind=DoorCommandKind.LOCKDOWN, reason="drill", seconds=None
    )


@pytest.mark.slow
def test_door_commands_go_only_to_the_kiosk_that_holds_the_id(
    db_engine: Engine, second_engine: Engine, admin: Operator
) -> None:
    register_kiosk(db_engine, KIOSK, "North entrance", "test")
    with ExitStack() as stack:
        first = stack.enter_context(claim_kiosk_id(db_engine, KIOSK, 0.0))
        first_door = SqlDoorCommands(db_engine, first)
        assert [c.id for c in first_door.take_pending(KIOSK)] == []

        # The first kiosk's session ends under it (as when the server restarts) and a
        # second kiosk takes the id meanwhile: the first takes no command any more.
        key = claim_key(KIOSK)
        with second_engine.connect() as connection:
            ended = connection.scalar(
                text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_locks "
                    "WHERE locktype = 'advisory' AND objsubid = 1 "
                    "AND classid = CAST(:high AS oid) AND objid = CAST(:low AS oid)"
                ),
                {"high": (key >> 32) & 0xFFFFFFFF, "low": key & 0xFFFFFFFF},
            )
        assert ended == 1
        second = stack.enter_context(claim_kiosk_id(second_engine, KIOSK, 5.0))
        command = ask_lockdown(db_engine, admin)
        with pytest.raises(KioskIdInUse, match="KIOSK_ID"):
            first_door.take_pending(KIOSK)
        assert [c.id for c in SqlDoorCommands(second_engine, second).take_pending(KIOSK)] == [
            command
        ]

        # The second kiosk stops: the first takes its id back, and the next command.
        second.close()
        later = ask_lockdown(db_engine, admin)
        assert [c.id for c in first_door.take_pending(KIOSK)] == [later]


@pytest.mark.slow
def test_a_second_kiosk_under_a_running_kiosks_id_refuses_to_start(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from kiosk.startup import Startup

    folder = Path(tempfile.mkdtemp(prefix="kiosk-test-claim-"))
    data_dir = folder / "kiosk-data"
    settings = Settings(kiosk_id=KIOSK, database=DatabaseSettings(kiosk_claim_wait_s=0))
    failures: list[str] = []
    try:
        with open_store(data_dir, None) as running, ExitStack() as stack:
            register_kiosk(running.engine, KIOSK, "North entrance", "test")
            held: KioskClaim = stack.enter_context(claim_kiosk_id(running.engine, KIOSK, 0))
            second = ExitStack()
            startup = Startup(Location(data_dir, None), settings, {}, None, second)
            startup.failed.connect(failures.append)
            startup.ready.connect(lambda _services: failures.append("started"))
            with caplog.at_level(logging.ERROR, logger="kiosk.startup"), second:
                startup.run()  # on this thread: it stops before the models
            assert held.kiosk_id == KIOSK
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    assert failures == [
        "another running kiosk has this kiosk's id; details in the kiosk's log and from "
        "kiosk-admin health"
    ]
    logged = [r.getMessage() for r in caplog.records if r.name == "kiosk.startup"]
    assert len(logged) == 1
    assert logged[0].startswith(f"start-up failed: kiosk id {KIOSK} is in use by another")
    assert "'North entrance'" in logged[0]
    assert logged[0].endswith(
        "give this kiosk an id of its own: kiosk.id in kiosk.toml or KIOSK_ID"
    )
