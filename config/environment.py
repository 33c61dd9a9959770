"""Where the data lives and which settings apply, from arguments and KIOSK_* variables."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from core.errors import ConfigurationError
from core.settings import ModelSettings, Settings

APP_NAME = "face-kiosk"
# A kiosk run as a system service keeps its data where services do; embedded
# PostgreSQL would otherwise open up the permissions of /root to its own user.
ROOT_DATA_DIR = Path("/var/lib") / APP_NAME


@dataclass(frozen=True)
class Location:
    data_dir: Path
    database_url: str | None


def resolve_location(
    data_dir: str | None, database_url: str | None, environ: Mapping[str, str]
) -> Location:
    chosen = data_dir or environ.get("KIOSK_DATA_DIR") or None
    url = database_url or environ.get("KIOSK_DATABASE_URL") or None
    return Location(Path(chosen).expanduser().absolute() if chosen else default_data_dir(), url)


def default_data_dir() -> Path:
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        return ROOT_DATA_DIR
    import platformdirs

    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def build_settings(
    model_dir: str | None,
    providers: str | None,
    environ: Mapping[str, str],
    default_kiosk_id: str = "kiosk-admin",
) -> Settings:
    """Settings from arguments over KIOSK_* variables; ``default_kiosk_id`` names this
    front end in access events unless KIOSK_ID does."""
    pack = model_dir or environ.get("KIOSK_MODEL_DIR") or None
    provider_list = providers or environ.get("KIOSK_PROVIDERS") or None
    try:
        models = ModelSettings(
            pack_dir=Path(pack).expanduser() if pack else None,
            providers=tuple(p.strip() for p in provider_list.split(",") if p.strip())
            if provider_list
            else ModelSettings().providers,
        )
        kiosk_id = environ.get("KIOSK_ID") or default_kiosk_id
        return Settings(models=models, kiosk_id=kiosk_id)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise ConfigurationError(f"setting {where}: {first['msg']}") from error
