"""kiosk-admin settings and log filters, as a person runs them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli_fixtures import as_json, identify


def test_a_raised_threshold_changes_what_identify_decides(
    admin_cli, yaoming_jpg: Path, photos: Path
) -> None:
    enrolled = admin_cli(
        "enroll", "--name", "Yao Ming", "--image", yaoming_jpg, "--consent", "--operator", "alice"
    )
    assert enrolled.returncode == 0, enrolled.stderr
    probe = photos / "yaoming_in_players.jpg"
    before = as_json(identify(admin_cli, probe, "--json"))
    assert before["result"] == "match"

    changed = admin_cli(
        "settings",
        "set",
        "matching.threshold=0.8",
        "door.frames_to_confirm=2",
        "--operator",
        "alice",
    )
    assert changed.returncode == 0, changed.stderr
    assert "matching.threshold: 0.4 -> 0.8" in changed.stdout
    shown = as_json(admin_cli("settings", "show", "--json"))
    assert shown["settings"]["matching.threshold"] == 0.8
    assert shown["settings"]["door.frames_to_confirm"] == 2

    after = as_json(identify(admin_cli, probe, "--json"))
    assert after["result"] != "match"

    audit = as_json(
        admin_cli("audit", "--action", "settings.change", "--operator", "alice", "--json")
    )
    (event,) = audit["events"]
    assert event["details"]["matching.threshold"] == {"scope": "*", "old": 0.4, "new": 0.8}
    granted = as_json(
        admin_cli("access-log", "--outcome", "granted", "--operator", "alice", "--json")
    )
    unknown = as_json(
        admin_cli("access-log", "--outcome", "unknown", "--operator", "alice", "--json")
    )
    assert (len(granted["events"]), len(unknown["events"])) == (1, 1)


def test_bad_settings_are_refused_with_the_key_and_change_nothing(admin_cli) -> None:
    cases = {
        ("matching.threshold=2",): "matching.threshold",
        ("matching.threshold=high",): "expected a number",
        ("door.frames_to_confirm=0",): "a whole number at least 1 and at most 30",
        ("matching.margin=0.9",): "a number at least 0.02 and at most 0.5",
        ("matching.margin=0.1", "nonsense.key=1"): "unknown setting 'nonsense.key'",
        ("threshold",): "is not KEY=VALUE",
    }
    for assignments, message in cases.items():
        result = admin_cli("settings", "set", *assignments, "--operator", "alice")
        assert result.returncode == 2, (assignments, result.stderr)
        assert message in result.stderr, (assignments, result.stderr)
        assert "Traceback" not in result.stderr
    shown = as_json(admin_cli("settings", "show", "--json"))
    assert shown["settings"]["matching.margin"] == 0.05


def test_log_filters_on_the_command_line(admin_cli) -> None:
    future = as_json(admin_cli("audit", "--since", "2999-01-01", "--operator", "alice", "--json"))
    assert future["events"] == []
    mine = as_json(admin_cli("audit", "--actor", "alice", "--operator", "alice", "--json"))
    assert {e["actor"] for e in mine["events"]} == {"alice"}
    backwards = admin_cli(
        "audit", "--since", "2026-02-01", "--until", "2026-01-01", "--operator", "alice"
    )
    assert backwards.returncode == 2
    assert "the start must come before the end" in backwards.stderr
    garbled = admin_cli("access-log", "--since", "yesterday", "--operator", "alice")
    assert garbled.returncode == 2
    assert "is not a date or time" in garbled.stderr
    assert json.loads(
        admin_cli("access-log", "--kiosk", "nowhere", "--operator", "alice", "--json").stdout
    ) == {"events": []}


def test_a_bad_row_in_the_database_is_an_error_naming_its_key(db_engine) -> None:
    from sqlalchemy import text

    from core.administration.shared_settings import SettingsService
    from core.errors import ConfigurationError
    from core.settings import Settings
    from storage.settings_store import SqlSettingsStore

    with db_engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO settings (scope, key, value, updated_by) "
                "VALUES ('*', 'matching.margin', '-3', 'mallory')"
            )
        )
    service = SettingsService(SqlSettingsStore(db_engine), Settings())
    with pytest.raises(ConfigurationError, match=r"matching\.margin"):
        service.effective()


def test_a_kiosks_own_value_goes_over_the_shared_one(db_engine) -> None:
    from core.administration.shared_settings import SettingsService
    from core.records import Role
    from core.settings import Settings
    from storage.operator_store import SqlOperatorStore
    from storage.settings_store import SqlSettingsStore

    store = SqlSettingsStore(db_engine)
    admin = SqlOperatorStore(db_engine).add_first_operator("alice", "unused", Role.ADMIN)
    front = SettingsService(store, Settings(kiosk_id="front-door"))
    back = SettingsService(store, Settings(kiosk_id="back-door"))
    front.change(admin, {"camera.source": "/dev/video2", "matching.threshold": 0.5})
    assert front.effective().camera.source == "/dev/video2"
    assert back.effective().camera.source == "0"  # camera is per kiosk
    assert back.effective().matching.threshold == 0.5  # the threshold is shared
