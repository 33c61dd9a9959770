"""kiosk-admin people pin, as a person runs it: a subprocess on the real database,
the PIN on standard input (no terminal), never echoed, logged or audited."""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import Engine, text

from core.records import ConsentGrant, Enrollment, NewTemplate
from storage.database import connect
from storage.identity_store import SqlIdentityStore
from storage.operator_store import SqlOperatorStore
from tests.cli_fixtures import KIOSK_ADMIN, PASSWORD

PIN = "24681357"
DURESS = "97531864"


@pytest.fixture
def database(admin_cli, fresh_database: str) -> Iterator[Engine]:  # type: ignore[no-untyped-def]
    """The database ``admin_cli`` runs on, alice its admin (made by kiosk-admin init)."""
    engine = connect(fresh_database)
    yield engine
    engine.dispose()


@pytest.fixture
def person(database: Engine) -> uuid.UUID:
    alice = SqlOperatorStore(database).find_operator("alice")
    assert alice is not None
    vector = np.random.default_rng(3).standard_normal(512)
    template = NewTemplate((vector / np.linalg.norm(vector)).astype(np.float32), "test-model", 0.9)
    return SqlIdentityStore(database).enroll(
        Enrollment("Ada", None, ConsentGrant("v1", "ab" * 32, alice), (template,))
    )


@pytest.fixture
def pin_cli(fresh_database: str, tmp_path: Path, admin_cli):  # type: ignore[no-untyped-def]
    """kiosk-admin with ``stdin`` as its standard input (a pipe, not a terminal)."""

    def run(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("KIOSK_")}
        env["KIOSK_DATA_DIR"] = str(tmp_path)
        env["KIOSK_PASSWORD"] = PASSWORD
        return subprocess.run(
            [KIOSK_ADMIN, "--database-url", fresh_database, *args],
            env=env,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    return run


def hashes(database: Engine, person: uuid.UUID) -> tuple[str | None, str | None]:
    with database.connect() as connection:
        row = connection.execute(
            text("SELECT pin_hash, duress_hash FROM person_pins WHERE person_id = :p"),
            {"p": person},
        ).one()
    return row[0], row[1]


def test_a_pin_is_set_from_standard_input_hashed_and_audited_without_it(
    pin_cli, database: Engine, person: uuid.UUID
) -> None:
    result = pin_cli(
        "people", "pin", str(person), "--operator", "alice", "--json", stdin=PIN + "\n"
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "person_id": str(person),
        "kind": "pin",
        "set": True,
        "duress_cleared": False,
    }
    assert PIN not in result.stdout + result.stderr
    pin_hash, duress_hash = hashes(database, person)
    assert pin_hash is not None
    assert pin_hash.startswith("bcrypt-sha256$")
    assert duress_hash is None
    with database.connect() as connection:
        audited = connection.execute(
            text("SELECT actor, target, details FROM audit_events WHERE action = 'person.pin_set'")
        ).all()
        every_detail = connection.scalars(text("SELECT details::text FROM audit_events")).all()
    assert [(a, t, d["kind"]) for a, t, d in audited] == [("alice", str(person), "pin")]
    assert not any(PIN in details for details in every_detail)

    duress = pin_cli("people", "pin", str(person), "--duress", "--operator", "alice", stdin=DURESS)
    assert duress.returncode == 0, duress.stderr
    assert duress.stdout.strip() == f"duress PIN set for {person}"
    assert hashes(database, person)[1] is not None


def test_a_duress_pin_equal_to_the_pin_or_a_bad_pin_is_refused_without_echo(
    pin_cli, database: Engine, person: uuid.UUID
) -> None:
    assert pin_cli("people", "pin", str(person), "--operator", "alice", stdin=PIN).returncode == 0
    same = pin_cli("people", "pin", str(person), "--duress", "--operator", "alice", stdin=PIN)
    assert same.returncode == 2
    assert "must differ" in same.stderr
    assert PIN not in same.stdout + same.stderr
    # Told, the clash opens nothing: the PIN it matched is gone (docs/door-pin.md).
    assert hashes(database, person) == (None, None)
    assert pin_cli("people", "pin", str(person), "--operator", "alice", stdin=PIN).returncode == 0
    bad = pin_cli("people", "pin", str(person), "--operator", "alice", stdin="12x45\n")
    assert bad.returncode == 2
    assert "4 to 8 digits" in bad.stderr
    assert "12x45" not in bad.stderr
    nothing = pin_cli("people", "pin", str(person), "--operator", "alice")
    assert nothing.returncode == 2
    assert "no PIN given" in nothing.stderr
    assert hashes(database, person)[1] is None


def test_clearing_the_pin_takes_the_duress_pin_with_it(
    pin_cli, database: Engine, person: uuid.UUID
) -> None:
    pid = str(person)
    assert pin_cli("people", "pin", pid, "--operator", "alice", stdin=PIN).returncode == 0
    assert (
        pin_cli("people", "pin", pid, "--duress", "--operator", "alice", stdin=DURESS).returncode
        == 0
    )
    cleared = pin_cli("people", "pin", pid, "--clear", "--operator", "alice", "--json")
    assert cleared.returncode == 0, cleared.stderr
    assert json.loads(cleared.stdout) == {"person_id": pid, "kind": "pin", "cleared": True}
    assert hashes(database, person) == (None, None)


def test_people_still_lists_and_still_asks_who_acts(pin_cli, person: uuid.UUID) -> None:
    listed = pin_cli("people", "--operator", "alice", "--json")
    assert listed.returncode == 0, listed.stderr
    assert [p["person_id"] for p in json.loads(listed.stdout)["people"]] == [str(person)]
    anonymous = pin_cli("people")
    assert anonymous.returncode == 2
    assert "--operator" in anonymous.stderr
    unknown = pin_cli("people", "pin", str(uuid.uuid4()), "--operator", "alice", stdin=PIN)
    assert unknown.returncode == 5
    assert "no active person" in unknown.stderr
