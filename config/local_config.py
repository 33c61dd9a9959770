"""The kiosk's local configuration: kiosk.toml in the data folder, KIOSK_* variables
over it, command-line options over both, every value checked against its bounds.

The file's sections are those of ``core.settings.Settings`` plus ``[kiosk]`` (id,
name) and, in ``[database]``, its url. A variable names a key as ``KIOSK_<SECTION>__<KEY>``,
e.g. ``KIOSK_MATCHING__THRESHOLD=0.45``. Settings shared by every kiosk that are
also kept in the database (``kiosk-admin settings``) take the database's value.
"""

from __future__ import annotations

import os
import re
import socket
import tomllib
import typing
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from core.errors import ConfigurationError, cut, quoted
from core.setting_bounds import allowed_values, section_model
from core.settings import KIOSK_ID_MAX, Settings, bound_reason
from core.toml_documents import load_toml
from owned_files.inputs import NotARegularFile, open_regular

CONFIG_FILE = "kiosk.toml"
# A kiosk.toml is a few hundred bytes; a bigger one is a mistake or an attack, refused
# before it is read (a constant: the settings are what is being read).
MAX_CONFIG_BYTES = 1024 * 1024
ENV_PREFIX = "KIOSK_"
DEFAULT = "default"
# [kiosk] and database.url in the file; the rest are Settings' own sections.
_KIOSK_KEYS = {"id": "kiosk_id", "name": "kiosk_name"}
_DATABASE_URL = "database.url"


@dataclass(frozen=True)
class LocalConfig:
    settings: Settings
    database_url: str | None
    sources: dict[str, str] = field(default_factory=dict)
    """Where each key's value came from: the file, a variable or an option."""
    file: Path | None = None
    """The kiosk.toml read, if there was one."""


@dataclass(frozen=True)
class CommandLine:
    """The options both front ends accept, as given (None: not given)."""

    database_url: str | None = None
    model_dir: str | None = None
    providers: str | None = None


def machine_kiosk_id() -> str:
    """This machine's kiosk id when none is configured: ``kiosk-<hostname>``, the host
    name's characters outside KIOSK_ID_PATTERN replaced by ``-``.

    The same for every program on the machine (the kiosk, kiosk-admin), so that a
    per-kiosk setting kiosk-admin stores is the one this machine's kiosk reads."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]", "-", socket.gethostname()) or "door"
    return f"kiosk-{cleaned}"[:KIOSK_ID_MAX]


def load_local_config(
    data_dir: Path,
    environ: Mapping[str, str],
    options: CommandLine,
    default_kiosk_id: str | None = None,
) -> LocalConfig:
    """Raises ConfigurationError naming the key, where it was set and what it allows.

    The kiosk id is ``[kiosk] id``, else KIOSK_ID, else ``default_kiosk_id``, else
    ``machine_kiosk_id()``."""
    values: dict[str, Any] = {"kiosk_id": default_kiosk_id or machine_kiosk_id()}
    sources: dict[str, str] = {}
    path = data_dir / CONFIG_FILE
    read_file = None
    text = _config_text(path)
    if text is not None:
        read_file = path
        for key, value in _file_values(path, text).items():
            values[key], sources[key] = value, CONFIG_FILE
    for key, (value, variable) in _environment_values(environ).items():
        values[key], sources[key] = value, variable
    for key, value, option in (
        ("database.url", options.database_url, "--database-url"),
        ("models.pack_dir", options.model_dir, "--model-dir"),
        ("models.providers", _split(options.providers), "--providers"),
    ):
        if value:
            values[key], sources[key] = value, option
    database_url = values.pop(_DATABASE_URL, None)
    if database_url is not None and not isinstance(database_url, str):
        raise ConfigurationError(
            f"setting database.url = {quoted(database_url)} (from {sources[_DATABASE_URL]}) "
            "is not allowed: text like postgresql://user@host:5432/kiosk"
        )
    settings = _validated(values, sources)
    return LocalConfig(settings, database_url, sources, read_file)


def redacted(config: LocalConfig) -> dict[str, tuple[object, str]]:
    """Every effective key with its value and source, secrets hidden; for showing."""
    shown: dict[str, tuple[object, str]] = {}
    for section in Settings.model_fields:
        value = getattr(config.settings, section)
        if isinstance(value, BaseModel):
            for name in type(value).model_fields:
                key = f"{section}.{name}"
                shown[key] = (getattr(value, name), config.sources.get(key, DEFAULT))
        else:
            key = _file_key(section)
            shown[key] = (value, config.sources.get(section, DEFAULT))
    url = config.database_url
    shown["database.url"] = (
        without_password(url) if url else "(embedded PostgreSQL)",
        config.sources.get("database.url", DEFAULT),
    )
    return shown


def without_password(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.netloc.rsplit("@", 1)[1]
    return urllib.parse.urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))


# ---- reading ---------------------------------------------------------------------------------


def _config_text(path: Path) -> str | None:
    """The file's text, or None when there is no file. Anything there that is not a
    regular file (a FIFO, a device, a folder) or is too big is refused, not taken for
    "no file": the check is made on the opened file itself, so what is checked is what
    is read, and opening a FIFO does not wait for a writer."""
    try:
        descriptor = open_regular(path)  # looked at first: a device is never opened
    except FileNotFoundError:
        return None
    except NotARegularFile as error:
        raise ConfigurationError(_not_a_file(path, error.kind)) from error
    except OSError as error:
        raise ConfigurationError(f"cannot read {path}: {error.strerror or error}") from error
    status = os.fstat(descriptor)
    with os.fdopen(descriptor, "rb") as stream:
        if status.st_size > MAX_CONFIG_BYTES:
            raise ConfigurationError(
                f"{path} is {status.st_size:,} bytes; a {CONFIG_FILE} is at most "
                f"{MAX_CONFIG_BYTES:,}: keep only the settings this kiosk changes"
            )
        try:
            data = stream.read(MAX_CONFIG_BYTES + 1)  # one over: a file that grew is caught
        except OSError as error:
            raise ConfigurationError(f"cannot read {path}: {error.strerror or error}") from error
    if len(data) > MAX_CONFIG_BYTES:
        raise ConfigurationError(f"{path} grew past {MAX_CONFIG_BYTES:,} bytes while read")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ConfigurationError(
            f"{path} is not UTF-8 text (byte {error.start}); save it as UTF-8"
        ) from error


def _not_a_file(path: Path, kind: str) -> str:
    return (
        f"{path} is {kind}, not a regular file; remove it, or put the settings "
        "in a plain text file of that name"
    )


def _file_values(path: Path, text: str) -> dict[str, Any]:
    try:
        raw = load_toml(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigurationError(f"{path} is not valid TOML: {error}") from error
    values: dict[str, Any] = {}
    for section, body in raw.items():
        if not isinstance(body, dict):
            raise ConfigurationError(
                f"{path}: {cut(section)} = ... must be inside a section; "
                f"the sections are {', '.join(sorted(_section_names()))}"
            )
        for name, value in body.items():
            values[_settings_key(section, name, f"{path}")] = value
    return values


def _environment_values(environ: Mapping[str, str]) -> dict[str, tuple[Any, str]]:
    values: dict[str, tuple[Any, str]] = {}
    for variable, text in environ.items():
        if not variable.startswith(ENV_PREFIX):
            continue
        rest = variable[len(ENV_PREFIX) :].lower()
        if "__" in rest:
            section, name = rest.split("__", 1)
            key = _settings_key(section, name, variable)
            values[key] = (_from_text(key, text), variable)
        elif any(rest.startswith(f"{section}_") for section in _section_names()):
            section = next(s for s in _section_names() if rest.startswith(f"{s}_"))
            guess = f"{ENV_PREFIX}{section.upper()}__{rest[len(section) + 1 :].upper()}"
            if variable not in _SHORTCUTS and variable not in _OTHER_VARIABLES:
                raise ConfigurationError(
                    f"{cut(variable)} is not a setting; a setting's variable has two "
                    f"underscores after its section, e.g. {cut(guess)}"
                )
    for variable, key in _SHORTCUTS.items():
        if environ.get(variable):
            values.setdefault(key, (_from_text(key, environ[variable]), variable))
    return values


# Read elsewhere (secrets, the data folder, the camera option), not settings keys.
_OTHER_VARIABLES = {
    "KIOSK_DATA_DIR",
    "KIOSK_DATABASE_PASSWORD",
    "KIOSK_PASSWORD",
    "KIOSK_NEW_PASSWORD",
    "KIOSK_CAMERA",
}
# Older single variables, still read; the KIOSK_<SECTION>__<KEY> form wins over them.
_SHORTCUTS = {
    "KIOSK_DATABASE_URL": "database.url",
    "KIOSK_MODEL_DIR": "models.pack_dir",
    "KIOSK_PROVIDERS": "models.providers",
    "KIOSK_ID": "kiosk_id",
}


def _settings_key(section: str, name: str, where: str) -> str:
    """``where`` is the file or the variable, for the message; what a person wrote is
    cut to a readable length in it."""
    where = cut(where)
    if section == "kiosk":
        if name not in _KIOSK_KEYS:
            raise ConfigurationError(
                f"unknown setting kiosk.{cut(name)} in {where}; "
                f"[kiosk] has: {', '.join(_KIOSK_KEYS)}"
            )
        return _KIOSK_KEYS[name]
    model = section_model(section)
    if section == "database" and model is not None:
        if name != "url" and name not in model.model_fields:
            raise ConfigurationError(
                f"unknown setting database.{cut(name)} in {where}; [database] has: url "
                f"(its password comes from KIOSK_DATABASE_PASSWORD or the OS keyring), "
                f"{', '.join(model.model_fields)}"
            )
        return f"database.{name}"
    if model is None:
        raise ConfigurationError(
            f"unknown section [{cut(section)}] in {where}; "
            f"the sections are: {', '.join(sorted(_section_names()))}"
        )
    if name not in model.model_fields:
        raise ConfigurationError(
            f"unknown setting {section}.{cut(name)} in {where}; "
            f"[{section}] has: {', '.join(model.model_fields)}"
        )
    return f"{section}.{name}"


def _from_text(key: str, text: str) -> Any:
    """A variable's text as its setting wants it: lists are comma separated."""
    if "." not in key or key == _DATABASE_URL:
        return text
    section, name = key.split(".")
    model = section_model(section)
    assert model is not None
    annotation = model.model_fields[name].annotation
    if typing.get_origin(annotation) is tuple:
        return _split(text)
    return text


def _split(text: str | None) -> tuple[str, ...] | None:
    if text is None:
        return None
    return tuple(part.strip() for part in text.split(",") if part.strip())


# ---- checking --------------------------------------------------------------------------------


def _validated(values: dict[str, Any], sources: dict[str, str]) -> Settings:
    nested: dict[str, Any] = {}
    for key, value in values.items():
        if "." in key:
            section, name = key.split(".")
            nested.setdefault(section, {})[name] = value
        else:
            nested[key] = value
    try:
        return Settings.model_validate(nested)
    except ValidationError as error:
        first = error.errors()[0]
        loc = first["loc"]
        if len(loc) == 1 and section_model(str(loc[0])) is not None:
            # A rule across the settings of one section, such as a range's two ends.
            raise ConfigurationError(_conflict(str(loc[0]), first["msg"], sources)) from error
        key = ".".join(str(part) for part in loc[:2])
        source = sources.get(key, DEFAULT)
        given = first.get("input")
        reason = bound_reason(key, first["type"])
        # A check of the value's meaning (a camera source) says why; bounds say what fits.
        why = first["msg"].removeprefix("Value error, ") if first["type"] == "value_error" else ""
        raise ConfigurationError(
            f"setting {_file_key(key)} = {quoted(given)} (from {cut(source)}) is not allowed: "
            f"{why or allowed_values(key) or first['msg']}{f'; {reason}' if reason else ''}"
        ) from error


def _conflict(section: str, message: str, sources: dict[str, str]) -> str:
    given = [
        f"{_file_key(key)} from {source}"
        for key, source in sorted(sources.items())
        if key.startswith(f"{section}.") and source != DEFAULT
    ]
    where = f" ({'; '.join(given)})" if given else ""
    return (
        f"settings in [{section}] do not fit together{where}: "
        f"{message.removeprefix('Value error, ')}"
    )


def _section_names() -> set[str]:
    return {name for name in Settings.model_fields if section_model(name)} | {"kiosk", "database"}


def _file_key(key: str) -> str:
    """A Settings key as the file spells it."""
    inverse = {value: f"kiosk.{name}" for name, value in _KIOSK_KEYS.items()}
    return inverse.get(key, key)
