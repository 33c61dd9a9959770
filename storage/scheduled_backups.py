"""The kiosk's own daily backups: made into their folder, the oldest beyond ``keep`` removed.

The folder (``[backup] folder``, else ``DATA_DIR/backups``) is made owner-only. Only
files named as this kiosk's scheduled backups (core.administration.backup_schedule)
that are plain files of this account are ever removed, through the folder's
descriptor: a link or another account's file standing there is left alone.
"""

from __future__ import annotations

import logging
import os
import stat
import threading
from datetime import UTC, datetime
from pathlib import Path

from core.administration.backup_schedule import backup_name, to_remove
from core.errors import BackupFailed
from core.settings import BackupSettings
from owned_files.entries import secure_folder
from owned_files.folders import UnsafeEntry, make_folders, owned_folder
from storage.backup import BackupMade, BackupSource, make_backup, record_failure
from storage.sealed_stream import read_key_file

log = logging.getLogger(__name__)

DEFAULT_FOLDER = "backups"


class ScheduledBackups:
    """Makes one scheduled backup at a time (the caller's thread runs it)."""

    def __init__(self, source: BackupSource, settings: BackupSettings, data_dir: Path) -> None:
        self._source = source
        self._settings = settings
        self.folder = settings.folder or data_dir / DEFAULT_FOLDER

    def make(self, stop: threading.Event | None = None) -> BackupMade:
        """A backup now, then the oldest beyond ``keep`` removed. The key file is read
        each time (a key replaced takes effect at the next backup). Raises BackupFailed
        naming the problem and the fix (audited as backup.failed), StoreError."""
        try:
            key = read_key_file(self._settings.key_file) if self._settings.key_file else None
            self._make_folder()
        except BackupFailed as error:
            record_failure(self._source, None, error)
            raise
        out = self.folder / backup_name(self._source.kiosk_id, datetime.now(UTC))
        made = make_backup(
            self._source,
            out,
            key,
            actor=None,
            timeout_s=self._settings.dump_timeout_s,
            stop=stop,
        )
        self._prune()
        return made

    def _make_folder(self) -> None:
        try:
            make_folders(self.folder.parent)
            secure_folder(self.folder, (os.geteuid(), os.getegid()))
        except (UnsafeEntry, OSError) as error:
            raise BackupFailed(
                f"cannot make the backup folder {self.folder}: {error}; set [backup] folder",
                "folder",
            ) from error

    def _prune(self) -> None:
        try:
            with owned_folder(self.folder) as folder:
                for name in to_remove(
                    os.listdir(folder), self._source.kiosk_id, self._settings.keep
                ):
                    info = os.stat(name, dir_fd=folder, follow_symlinks=False)
                    if stat.S_ISREG(info.st_mode) and info.st_uid == os.geteuid():
                        os.unlink(name, dir_fd=folder)
                        log.info("removed the old scheduled backup %s", self.folder / name)
        except (UnsafeEntry, OSError) as error:
            log.warning("old scheduled backups in %s were not removed: %s", self.folder, error)
