"""The kiosk's daily backup: made on its own thread, kept to ``keep``, failures shown."""

from __future__ import annotations

import itertools
import stat
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot
from sqlalchemy import Engine, text

from core.administration.backup_schedule import backup_name
from core.errors import BackupFailed
from core.settings import BackupSettings, Settings
from kiosk.backup_schedule import BackupSchedule
from storage.audit_log import SqlAuditLog
from storage.backup import BackupSource
from storage.pg_programs import url_reach
from storage.scheduled_backups import ScheduledBackups

pytestmark = pytest.mark.slow

KIOSK = "door-north"


@pytest.fixture
def source(db_engine: Engine, fresh_database: str) -> BackupSource:
    return BackupSource(
        db_engine, url_reach(fresh_database, None), None, KIOSK, SqlAuditLog(db_engine)
    )


def audited(engine: Engine, action: str) -> list[tuple[str, str, dict]]:
    with engine.connect() as connection:
        rows = connection.execute(
            text("SELECT actor, target, details FROM audit_events WHERE action = :a ORDER BY id"),
            {"a": action},
        ).all()
    return [tuple(row) for row in rows]  # type: ignore[misc]


def test_scheduled_backups_are_owner_only_and_only_this_kiosks_oldest_go(
    source: BackupSource, db_engine: Engine, tmp_path: Path
) -> None:
    folder = tmp_path / "backups"
    folder.mkdir(mode=0o755)
    someone_elses = folder / backup_name("door-south", datetime(2020, 1, 1).astimezone())
    someone_elses.write_text("another kiosk's\n")
    target = tmp_path / "precious"
    target.write_text("not a backup\n")
    # A link named as this kiosk's oldest backup: removed as an entry, never followed.
    planted = folder / backup_name(KIOSK, datetime(2020, 1, 1).astimezone())
    planted.symlink_to(target)
    backups = ScheduledBackups(source, BackupSettings(keep=2, folder=folder), tmp_path)
    made = [backups.make().path for _ in range(3)]
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    remaining = sorted(p.name for p in folder.iterdir())
    assert remaining == sorted([someone_elses.name, planted.name, made[1].name, made[2].name])
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in made[1:])
    assert target.read_text() == "not a backup\n"
    events = audited(db_engine, "backup.made")
    assert [(actor, target_) for actor, target_, _ in events] == [("system", KIOSK)] * 3
    assert all(details["encrypted"] is False for _, _, details in events)


def fake_clock(times: list[datetime]) -> Callable[[], datetime]:
    """Each given time once, then the last one for ever."""
    given = itertools.chain(times, itertools.repeat(times[-1]))
    return lambda: next(given)


def test_the_daily_backup_runs_on_its_thread_at_its_time(
    qtbot: QtBot, source: BackupSource, tmp_path: Path
) -> None:
    folder = tmp_path / "backups"
    settings = BackupSettings(time_of_day="02:30", folder=folder)
    before = datetime(2026, 3, 10, 2, 29, 59).astimezone()
    clock = fake_clock([before, before + timedelta(seconds=2)])
    schedule = BackupSchedule(ScheduledBackups(source, settings, tmp_path), settings, clock)
    schedule.start()
    try:
        qtbot.waitUntil(lambda: folder.is_dir() and any(folder.iterdir()), timeout=60_000)
    finally:
        schedule.stop()
    assert not schedule.isRunning()
    assert [p.suffix for p in folder.iterdir()] == [".backup"]


def test_a_failed_scheduled_backup_is_audited_and_shown_to_the_operator(
    qtbot: QtBot, source: BackupSource, db_engine: Engine, tmp_path: Path
) -> None:
    missing_key = tmp_path / "gone.key"
    settings = BackupSettings(time_of_day="02:30", folder=tmp_path / "b", key_file=missing_key)
    before = datetime(2026, 3, 10, 2, 29, 59).astimezone()
    clock = fake_clock([before, before + timedelta(seconds=2)])
    schedule = BackupSchedule(ScheduledBackups(source, settings, tmp_path), settings, clock)
    try:
        with qtbot.waitSignal(schedule.trouble_changed, timeout=60_000) as shown:
            schedule.start()
    finally:
        schedule.stop()
    assert shown.args == [
        f"the scheduled backup failed: the key file {missing_key} does not exist; give the one "
        "the backup was made with, or make one with kiosk-admin backup-key --out FILE"
    ]
    assert audited(db_engine, "backup.failed") == [("system", KIOSK, {"reason": "key"})]
    with pytest.raises(BackupFailed, match="does not exist"):
        ScheduledBackups(source, settings, tmp_path).make()


def test_the_kiosk_runs_its_schedule_and_shows_its_trouble_beside_the_alerts(
    open_window, qtbot: QtBot
) -> None:
    window = open_window(Settings(backup=BackupSettings(time_of_day="02:30")))
    controller = window.controller
    assert "backup-schedule" in controller.threads_running()
    assert controller.backups is not None
    controller.alert_line.changed.emit("ALERT: door held open")
    controller.backups.trouble_changed.emit("the scheduled backup failed: the disk is full")
    qtbot.waitUntil(
        lambda: (
            controller.operator_mode.alerts
            == "ALERT: door held open · the scheduled backup failed: the disk is full"
        )
    )
    controller.backups.trouble_changed.emit("")
    qtbot.waitUntil(lambda: controller.operator_mode.alerts == "ALERT: door held open")
