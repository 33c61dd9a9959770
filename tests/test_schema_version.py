"""A rolling upgrade on a shared database: a kiosk whose migrations do not know the
database's schema refuses to start on it, and one already running keeps its door
closed, each saying in one line to upgrade the kiosk (docs/central-server.md)."""

from __future__ import annotations

import subprocess
import uuid
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from core.access.door_access import DoorAccess
from core.errors import SchemaNewer, StoreError
from core.records import Operator, Role
from core.rules.model import Door
from core.rules.public_holidays import PublicHolidays
from kiosk.startup import public_reason
from storage.identity_store import SqlIdentityStore
from storage.migrate import current_revision, head_revision, upgrade
from storage.operator_store import SqlOperatorStore
from storage.rules_store import SqlRulesStore
from storage.store import open_store
from tests.cli_fixtures import run
from tests.test_rules_store import enroll

NEWER = "0099_from_a_newer_release"


def stamp(engine: Engine, revision: str) -> None:
    """What a newer release's migration leaves: its revision in alembic_version."""
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = :r"), {"r": revision})


@pytest.fixture
def admin(operator_store: SqlOperatorStore) -> Operator:
    return operator_store.add_first_operator("alice", "bcrypt-sha256$unused", Role.ADMIN)


def test_a_database_a_newer_release_migrated_is_refused_at_start_and_left_as_it_is(
    db_engine: Engine, fresh_database: str, tmp_path: Path
) -> None:
    stamp(db_engine, NEWER)
    with pytest.raises(SchemaNewer) as refused:
        upgrade(db_engine)
    message = str(refused.value)
    assert "\n" not in message
    assert message.startswith("the database is newer than this kiosk")
    assert NEWER in message
    assert "upgrade the kiosk" in message
    assert current_revision(db_engine) == NEWER  # nothing was run or undone
    # The kiosk opens its store this way at start: it refuses the same, and its door
    # screen, which anyone passing reads, says what to do without the details.
    with pytest.raises(SchemaNewer) as at_start, open_store(tmp_path / "data", fresh_database):
        pass
    assert public_reason(at_start.value).startswith(
        "the database is newer than this kiosk; upgrade the kiosk;"
    )


def test_kiosk_admin_on_a_newer_database_says_to_upgrade_in_one_line(
    db_engine: Engine, fresh_database: str, tmp_path: Path
) -> None:
    stamp(db_engine, NEWER)
    result: subprocess.CompletedProcess[str] = run(
        "--database-url", fresh_database, "doors", "list", "--operator", "alice",
        data_dir=tmp_path,
    )  # fmt: skip
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("kiosk-admin: error: the database is newer than this kiosk"), (
        result.stderr
    )
    assert "upgrade the kiosk" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_running_door_keeps_closed_once_a_newer_release_migrates_the_database(
    db_engine: Engine, identity_store: SqlIdentityStore, admin: Operator
) -> None:
    rules = SqlRulesStore(db_engine)
    rules.ensure_door(Door("front", "Front door", "UTC"))
    person: uuid.UUID = enroll(identity_store, admin, "Ada")  # the default group: every door
    access = DoorAccess(kiosk_id="front", rules=rules, holidays=PublicHolidays())
    assert access.check(person) is None  # granted while the schema is this kiosk's
    assert current_revision(db_engine) == head_revision()

    stamp(db_engine, NEWER)  # another kiosk, of a newer release, migrated the database
    # The door takes a store error as offline: the person is not let in.
    with pytest.raises(StoreError) as closed:
        access.check(person)
    assert isinstance(closed.value, SchemaNewer)
    assert "upgrade the kiosk" in str(closed.value)

    stamp(db_engine, head_revision() or "")  # the database as this kiosk knows it again
    assert access.check(person) is None
