"""The match threshold and margin stay where the model lets no stranger in, whatever
sets them, and a value from the file, a variable or an option is audited."""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path

import pytest
from pydantic import ValidationError
from sqlalchemy import Engine, text

from admin.cli import main as kiosk_admin
from config.environment import Location
from config.local_config import CommandLine, load_local_config, machine_kiosk_id
from core.administration.shared_settings import SettingsService, local_values, with_overrides
from core.errors import ConfigurationError, InvalidValue
from core.match_settings import MIN_MATCH_MARGIN, MIN_MATCH_THRESHOLD, MatchSettings
from core.settings import LivenessSettings, Settings
from storage.database import connect
from storage.settings_store import LOCAL_VALUES_ACTION, SqlSettingsStore
from tests.cli_fixtures import as_json

STRANGERS_LET_IN = "strangers are let in"
CHANCE = "would be chance"


def test_the_floors_are_the_bounds_and_what_is_below_them_is_refused() -> None:
    assert MatchSettings(threshold=MIN_MATCH_THRESHOLD, margin=MIN_MATCH_MARGIN)
    assert MatchSettings(threshold=1.0, margin=0.5)
    for refused in (
        {"threshold": -0.2},
        {"threshold": 0.16},
        {"threshold": MIN_MATCH_THRESHOLD - 0.001},
        {"threshold": float("nan")},
        {"margin": 0.0},
        {"margin": MIN_MATCH_MARGIN - 0.001},
        {"margin": 0.9},
    ):
        with pytest.raises(ValidationError):
            MatchSettings(**refused)
    with pytest.raises(ValidationError):
        LivenessSettings(min_identity_similarity=-0.5)  # the liveness check's own match


@pytest.mark.parametrize(
    ("toml", "environ", "source", "reason"),
    [
        ("[matching]\nthreshold = -0.2\n", {}, "kiosk.toml", STRANGERS_LET_IN),
        ("", {"KIOSK_MATCHING__THRESHOLD": "-0.2"}, "KIOSK_MATCHING__THRESHOLD", STRANGERS_LET_IN),
        ("", {"KIOSK_MATCHING__THRESHOLD": "nan"}, "KIOSK_MATCHING__THRESHOLD", "at least 0.3"),
        ("[matching]\nmargin = 0\n", {}, "kiosk.toml", CHANCE),
        (
            "",
            {"KIOSK_LIVENESS__MIN_IDENTITY_SIMILARITY": "0.1"},
            "KIOSK_LIVENESS",
            STRANGERS_LET_IN,
        ),
    ],
)
def test_the_file_and_the_environment_are_refused_with_the_reason(
    tmp_path: Path, toml: str, environ: dict[str, str], source: str, reason: str
) -> None:
    (tmp_path / "kiosk.toml").write_text(toml)
    with pytest.raises(ConfigurationError) as refused:
        load_local_config(tmp_path, environ, CommandLine())
    message = str(refused.value)
    assert source in message
    assert reason in message


def test_overrides_from_the_database_or_pins_are_refused_with_the_reason() -> None:
    # with_overrides is how database values, kiosk-admin settings, calibrate --apply,
    # the Settings screen and the kiosk's command-line pins reach the settings.
    with pytest.raises(InvalidValue, match=STRANGERS_LET_IN):
        with_overrides(Settings(), {"matching.threshold": 0.16})
    with pytest.raises(InvalidValue, match=CHANCE):
        with_overrides(Settings(), {"matching.margin": 0.0})


def test_a_low_threshold_stored_in_the_database_stops_the_start_with_the_reason(
    db_engine: Engine,
) -> None:
    with db_engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO settings (scope, key, value, updated_by) "
                "VALUES ('*', 'matching.threshold', '-0.2', 'mallory')"
            )
        )
    service = SettingsService(SqlSettingsStore(db_engine), Settings())
    with pytest.raises(ConfigurationError, match=STRANGERS_LET_IN):
        service.effective()


def test_kiosk_admin_settings_set_refuses_a_threshold_that_lets_strangers_in(admin_cli) -> None:
    for value, reason in (
        ("-0.2", STRANGERS_LET_IN),
        ("0.16", STRANGERS_LET_IN),
        ("nan", "finite"),
    ):
        refused = admin_cli("settings", "set", f"matching.threshold={value}", "--operator", "alice")
        assert refused.returncode == 2, refused.stderr
        assert reason in refused.stderr
    shown = as_json(admin_cli("settings", "show", "--json"))
    assert shown["settings"]["matching.threshold"] == 0.4


@pytest.mark.slow
def test_the_floor_is_where_calibration_measures_one_stranger_in_a_hundred(
    admin_cli, calibration_dataset: Path, tmp_path: Path
) -> None:
    measured = as_json(
        admin_cli(
            "calibrate",
            "--dataset",
            calibration_dataset,
            "--out",
            tmp_path / "report",
            "--target-fmr",
            "1e-2",
            "--json",
            password=None,
        )
    )
    (model,) = measured["models"].values()
    # The lowest threshold with a false match rate of at most 1e-2 lies at or under the floor.
    assert model["recommended"]["threshold"] <= MIN_MATCH_THRESHOLD
    lax = admin_cli(
        "calibrate",
        "--dataset",
        calibration_dataset,
        "--out",
        tmp_path / "lax",
        "--target-fmr",
        "0.05",
        "--apply",
        "--operator",
        "alice",
    )
    assert lax.returncode == 2, lax.stderr
    assert STRANGERS_LET_IN in lax.stderr
    shown = as_json(admin_cli("settings", "show", "--json"))
    assert shown["settings"]["matching.threshold"] == 0.4


# ---- a threshold from outside the database is audited ------------------------------------


def local_events(database_url: str) -> list[tuple[str, dict]]:
    engine = connect(database_url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                text("SELECT target, details FROM audit_events WHERE action = :a ORDER BY id"),
                {"a": LOCAL_VALUES_ACTION},
            )
            return [(row.target, row.details) for row in rows]
    finally:
        engine.dispose()


def test_local_values_are_those_that_differ_from_the_default_or_the_database() -> None:
    base = Settings(matching=MatchSettings(threshold=0.45))
    sources = {"matching.threshold": "KIOSK_MATCHING__THRESHOLD", "camera.source": "kiosk.toml"}
    assert local_values(base, sources, {}) == {
        "matching.threshold": {
            "value": 0.45,
            "source": "KIOSK_MATCHING__THRESHOLD",
            "default": 0.4,
            "in_effect": True,
        }
    }
    stored = local_values(base, sources, {"matching.threshold": 0.5})
    assert stored["matching.threshold"]["stored"] == 0.5
    assert stored["matching.threshold"]["in_effect"] is False
    same_as_default = {"matching.threshold": "kiosk.toml"}
    assert local_values(Settings(), same_as_default, {}) == {}
    assert local_values(Settings(), same_as_default, {"matching.threshold": 0.5}) != {}


def test_kiosk_admin_audits_a_threshold_from_the_environment_or_the_file_once(
    admin_cli, fresh_database: str, tmp_path: Path
) -> None:
    def use_settings(environ: dict[str, str]) -> None:
        """A command that uses the effective settings, run as kiosk-admin runs."""
        argv = ["--database-url", fresh_database, "--data-dir", str(tmp_path)]
        assert kiosk_admin([*argv, "settings", "show"], environ) == 0

    use_settings({"KIOSK_MATCHING__THRESHOLD": "0.45"})
    use_settings({"KIOSK_MATCHING__THRESHOLD": "0.45"})  # the same again: nothing new to record
    (event,) = local_events(fresh_database)
    assert event == (
        machine_kiosk_id(),  # the kiosk of this machine, as the kiosk itself names it
        {
            "matching.threshold": {
                "value": 0.45,
                "source": "KIOSK_MATCHING__THRESHOLD",
                "default": 0.4,
                "in_effect": True,
            }
        },
    )
    (tmp_path / "kiosk.toml").write_text("[matching]\nthreshold = 0.5\n")
    use_settings({})
    use_settings({"KIOSK_MATCHING__THRESHOLD": "0.45"})  # the variable goes over the file
    use_settings({"KIOSK_MATCHING__THRESHOLD": "0.45"})
    (tmp_path / "kiosk.toml").unlink()
    use_settings({})  # back to the defaults: recorded too, as no local values
    events = [details for _, details in local_events(fresh_database)]
    assert [event.get("matching.threshold", {}).get("source") for event in events] == [
        "KIOSK_MATCHING__THRESHOLD",
        "kiosk.toml",
        "KIOSK_MATCHING__THRESHOLD",
        None,
    ]
    assert events[-1] == {}
    verified = admin_cli("audit", "verify", "--operator", "alice")
    assert verified.returncode == 0, verified.stderr


@pytest.mark.slow
def test_the_kiosk_audits_its_local_threshold_at_start_up(
    fresh_database: str, tmp_path: Path, qtbot
) -> None:
    from kiosk.startup import Startup

    settings = Settings(matching=MatchSettings(threshold=0.45), kiosk_id="front-door")
    location = Location(
        tmp_path / "data", fresh_database, {"matching.threshold": "KIOSK_MATCHING__THRESHOLD"}
    )
    failures: list[str] = []
    with ExitStack() as resources:
        startup = Startup(location, settings, {}, None, resources)
        startup.failed.connect(failures.append)
        startup.run()  # on this thread: what the kiosk runs on its start-up thread
    assert failures == []
    ((target, details),) = local_events(fresh_database)
    assert target == "front-door"
    assert details["matching.threshold"]["value"] == 0.45
    assert details["matching.threshold"]["source"] == "KIOSK_MATCHING__THRESHOLD"


def test_a_bad_threshold_in_the_database_is_fixed_as_the_error_says(
    admin_cli, fresh_database: str
) -> None:
    engine = connect(fresh_database)
    try:
        with engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO settings (scope, key, value, updated_by) "
                    "VALUES ('*', 'matching.threshold', '-0.2', 'mallory')"
                )
            )
    finally:
        engine.dispose()
    stopped = admin_cli("settings", "show")
    assert stopped.returncode == 2
    assert "fix it with kiosk-admin settings set" in stopped.stderr
    assert STRANGERS_LET_IN in stopped.stderr
    fixed = admin_cli("settings", "set", "matching.threshold=0.45", "--operator", "alice")
    assert fixed.returncode == 0, fixed.stderr
    assert "matching.threshold: -0.2 -> 0.45" in fixed.stdout
    shown = as_json(admin_cli("settings", "show", "--json"))
    assert shown["settings"]["matching.threshold"] == 0.45
