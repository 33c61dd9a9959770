"""Where the data lives, and the configuration found there."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from config.local_config import CommandLine, LocalConfig, load_local_config

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
