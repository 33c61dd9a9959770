"""Settings kept in the database, shared by every kiosk or set for one kiosk.

The local settings (built from arguments and environment) are the base; the
database's values go over them, validated by the same bounds, so a bad row
is an error naming its key, never a silent default.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ValidationError

from core.accounts.permissions import Permission, authorize
from core.errors import ConfigurationError, InvalidValue
from core.records import Operator
from core.settings import Settings
from core.store import SettingsStore


class Scope(StrEnum):
    ALL_KIOSKS = "all kiosks"
    THIS_KIOSK = "this kiosk"


@dataclass(frozen=True)
class EditableSetting:
    key: str
    """section.field in Settings."""
    label: str
    scope: Scope


EDITABLE: tuple[EditableSetting, ...] = (
    EditableSetting("matching.threshold", "Match threshold (cosine similarity)", Scope.ALL_KIOSKS),
    EditableSetting("matching.margin", "Margin over the second-best person", Scope.ALL_KIOSKS),
    EditableSetting("door.frames_to_confirm", "Frames that must agree", Scope.ALL_KIOSKS),
    EditableSetting(
        "security.recognition_max_denied", "Denied attempts before a pause", Scope.ALL_KIOSKS
    ),
    EditableSetting(
        "security.recognition_window_s", "Window for denied attempts (s)", Scope.ALL_KIOSKS
    ),
    EditableSetting("security.recognition_cooldown_s", "Pause after them (s)", Scope.ALL_KIOSKS),
    EditableSetting("security.login_max_failures", "Failed logins before a lock", Scope.ALL_KIOSKS),
    EditableSetting("security.session_idle_s", "Operator session idle limit (s)", Scope.ALL_KIOSKS),
    EditableSetting("camera.source", "Camera source", Scope.THIS_KIOSK),
    EditableSetting("camera.folder_fps", "Frames per second of an image folder", Scope.THIS_KIOSK),
)
EDITABLE_KEYS = {setting.key: setting for setting in EDITABLE}


@dataclass(frozen=True)
class SettingChange:
    key: str
    old: Any
    new: Any


def value_of(settings: Settings, key: str) -> Any:
    section, name = key.split(".")
    return getattr(getattr(settings, section), name)


def with_overrides(base: Settings, values: Mapping[str, Any]) -> Settings:
    """``base`` with ``values`` (section.field -> value) over it, every bound checked.

    Raises InvalidValue naming the key and what it allows.
    """
    by_section: dict[str, dict[str, Any]] = {}
    for key, value in values.items():
        if key not in EDITABLE_KEYS:
            raise InvalidValue(
                f"unknown setting {key!r}; the settings are: {', '.join(EDITABLE_KEYS)}"
            )
        section, name = key.split(".")
        by_section.setdefault(section, {})[name] = value
    sections: dict[str, BaseModel] = {}
    for section, changes in by_section.items():
        current: BaseModel = getattr(base, section)
        try:
            sections[section] = type(current).model_validate(current.model_dump() | changes)
        except ValidationError as error:
            first = error.errors()[0]
            key = f"{section}.{first['loc'][0]}" if first["loc"] else section
            raise InvalidValue(f"setting {key} = {first.get('input')!r}: {first['msg']}") from error
    return base.model_copy(update=sections)


class SettingsService:
    """Reads the effective settings and lets admins change the shared ones, audited."""

    def __init__(self, store: SettingsStore, base: Settings) -> None:
        self._store = store
        self._base = base

    def effective(self) -> Settings:
        """The local settings with this kiosk's and the shared database values over them."""
        stored = self._store.stored_settings(self._base.kiosk_id)
        try:
            return with_overrides(self._base, stored)
        except InvalidValue as error:
            raise ConfigurationError(
                f"the database holds a bad setting: {error}; fix it with kiosk-admin settings set"
            ) from error

    def change(self, actor: Operator, values: Mapping[str, Any]) -> list[SettingChange]:
        """Store the values that differ from the effective ones; returns what changed."""
        authorize(actor, Permission.CHANGE_SETTINGS, self._store)
        if not values:
            raise InvalidValue("no setting given; name at least one key and its value")
        current = self.effective()
        updated = with_overrides(current, values)
        changes = [
            SettingChange(key, value_of(current, key), value_of(updated, key))
            for key in values
            if value_of(current, key) != value_of(updated, key)
        ]
        if changes:
            self._store.save_settings(
                {c.key: (self._scope_name(c.key), c.old, c.new) for c in changes},
                actor,
            )
        return changes

    def _scope_name(self, key: str) -> str:
        return "*" if EDITABLE_KEYS[key].scope is Scope.ALL_KIOSKS else self._base.kiosk_id


def parse_assignment(text: str, base: Settings) -> tuple[str, Any]:
    """``key=value`` as typed by a person; the value takes the setting's own type."""
    key, equals, raw = text.partition("=")
    key, raw = key.strip(), raw.strip()
    if not equals or not key or not raw:
        raise InvalidValue(f"{text!r} is not KEY=VALUE, e.g. matching.threshold=0.45")
    if key not in EDITABLE_KEYS:
        raise InvalidValue(f"unknown setting {key!r}; the settings are: {', '.join(EDITABLE_KEYS)}")
    current = value_of(base, key)
    if isinstance(current, str):
        return key, raw
    try:
        return key, type(current)(raw)
    except ValueError as error:
        kind = "a whole number" if isinstance(current, int) else "a number"
        raise InvalidValue(f"setting {key} = {raw!r}: expected {kind}") from error
