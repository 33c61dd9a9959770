"""The kiosk's daily backup, on a thread of its own."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta

from PySide6.QtCore import QThread, Signal

from config.environment import Location
from core.administration.backup_schedule import next_backup
from core.errors import KioskError
from core.settings import BackupSettings
from kiosk.startup import Services
from storage.backup import backup_source
from storage.scheduled_backups import ScheduledBackups
from storage.secrets import find_database_password

log = logging.getLogger(__name__)

# The wall clock may jump (NTP, a change of daylight saving time): the wait for the next
# backup is cut into pieces this long, each ending with a fresh look at the clock.
_CLOCK_CHECK_S = 60.0


class BackupSchedule(QThread):
    """Exists so that the daily backup (minutes of pg_dump on a large site) runs off
    the GUI and recognition threads, and its failure reaches the operator's screen.
    Waits on an Event until the next ``time_of_day``; a failed backup (audited as
    backup.failed by storage.backup) is tried again after ``retry_after_s``.
    ``stop()`` wakes it and stops a backup under way."""

    trouble_changed = Signal(str)
    """Why the last scheduled backup failed and what to do, or "" once one succeeded."""

    def __init__(
        self,
        backups: ScheduledBackups,
        settings: BackupSettings,
        clock: Callable[[], datetime] = lambda: datetime.now().astimezone(),
    ) -> None:
        super().__init__()
        self.setObjectName("backup-schedule")
        self._backups = backups
        self._settings = settings
        self._clock = clock
        self._stop = threading.Event()

    def run(self) -> None:
        due = next_backup(self._clock(), self._settings.time_of_day)
        log.info("the next scheduled backup is at %s", due.isoformat())
        reported = ""
        while True:
            left_s = (due - self._clock()).total_seconds()
            if self._stop.wait(min(max(left_s, 0.0), _CLOCK_CHECK_S)):
                return
            if self._clock() < due:
                continue
            trouble = self._make()
            if self._stop.is_set():
                return
            now = self._clock()
            if trouble:
                due = now + timedelta(seconds=self._settings.retry_after_s)
            else:
                due = next_backup(now, self._settings.time_of_day)
            if trouble != reported:
                reported = trouble
                self.trouble_changed.emit(trouble)

    def _make(self) -> str:
        try:
            made = self._backups.make(self._stop)
        except KioskError as error:
            log.error("the scheduled backup failed: %s", error)
            return f"the scheduled backup failed: {error}"
        except Exception:  # a fault in one backup must not end the schedule
            log.exception("the scheduled backup failed")
            return "the scheduled backup failed; see the kiosk's log"
        log.info("scheduled backup written: %s (%d bytes)", made.path, made.size)
        return ""

    def stop(self) -> None:
        """Wake the thread, stop a backup under way, and wait for the thread to end."""
        self._stop.set()
        self.wait()


def open_backup_schedule(
    services: Services, location: Location, db_password: str | None
) -> BackupSchedule | None:
    """The schedule (not started) when ``[backup] time_of_day`` is set, else None."""
    settings = services.settings
    if not settings.backup.time_of_day:
        return None
    url = location.database_url
    source = backup_source(
        services.store,
        url,
        find_database_password(url, db_password).value if url is not None else None,
        settings.kiosk_id,
        settings.embedded_server,
    )
    return BackupSchedule(
        ScheduledBackups(source, settings.backup, location.data_dir), settings.backup
    )
