"""The ``[door_io]`` section alone, read at the very start of a kiosk: the lock is
forced locked from it before the rest of the configuration is checked
(kiosk.door_lock_first), so a mistake in another section never keeps a door
unlocked by a crash unlocked. Read as config.local_config reads the whole file,
with its messages; no other section is looked at, so none can stop it."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from typing import Any

from config.environment import chosen_data_dir
from config.local_config import (
    CONFIG_FILE,
    ENV_PREFIX,
    _config_text,
    _environment_values,
    _settings_key,
    _validated,
)
from core.door_io_settings import DoorIoSettings
from core.errors import ConfigurationError
from core.toml_documents import load_toml

SECTION = "door_io"
_VARIABLES = f"{ENV_PREFIX}{SECTION.upper()}__"


def load_door_io_settings(data_dir: str | None, environ: Mapping[str, str]) -> DoorIoSettings:
    """``[door_io]`` of kiosk.toml in the data folder (``data_dir``, else KIOSK_DATA_DIR,
    else the default), with the KIOSK_DOOR_IO__* variables over it; the defaults (no
    door hardware) when neither sets it. Raises ConfigurationError naming the key, as
    the whole configuration's load does, when the file cannot be read or is not TOML,
    or a key of [door_io] is unknown or out of bounds; UnsafeDataEntry when the data
    folder is a link."""
    folder = chosen_data_dir(data_dir, environ)
    path = folder / CONFIG_FILE
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    text = _config_text(path)
    if text is not None:
        try:
            section = load_toml(text).get(SECTION, {})  # nesting bounded, as for the whole file
        except tomllib.TOMLDecodeError as error:
            raise ConfigurationError(f"{path} is not valid TOML: {error}") from error
        if not isinstance(section, dict):
            raise ConfigurationError(f"{path}: {SECTION} must be a section: [{SECTION}]")
        for name, value in section.items():
            key = _settings_key(SECTION, name, str(path))
            values[key], sources[key] = value, CONFIG_FILE
    ours = {name: text for name, text in environ.items() if name.startswith(_VARIABLES)}
    for key, (value, variable) in _environment_values(ours).items():
        values[key], sources[key] = value, variable
    return _validated(values, sources).door_io
