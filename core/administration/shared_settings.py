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
from core.errors import ConfigurationError, InvalidValue, quoted
from core.records import Operator
from core.setting_bounds import allowed_values
from core.settings import Settings, bound_reason
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
# pydantic's error types for a value past a bound.
_OUT_OF_BOUNDS = frozenset({"greater_than", "greater_than_equal", "less_than", "less_than_equal"})


# Sections that decide who is let in or who may act; a value for one of their settings
# from kiosk.toml, a KIOSK_* variable or an option is audited like a change in the database.
# Every section that decides who passes, how the lock behaves, or what the logs say
# of people: a value for them from a file or the environment is audited.
AUDITED_SECTIONS = (
    "matching",
    "door",
    "door_io",
    "liveness",
    "security",
    "quality",
    "models",
    "telemetry",
)


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
                f"unknown setting {quoted(key)}; the settings are: {', '.join(EDITABLE_KEYS)}"
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
            name = str(first["loc"][0]) if first["loc"] else ""
            key = f"{section}.{name}" if name else section
            reason = bound_reason(key, first["type"])
            # Both bounds in words ("at least 1 and at most 30"), not pydantic's one.
            allowed = allowed_values(key) if first["type"] in _OUT_OF_BOUNDS else ""
            raise InvalidValue(
                f"setting {key} = {quoted(first.get('input'))}"
                + (
                    f" is not allowed: {allowed}"
                    if allowed
                    else f": {first['msg'].removeprefix('Value error, ')}"
                )
                + (f"; {reason}" if reason else "")
            ) from error
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

    def usable(self) -> Settings:
        """The effective settings with any stored value that fails its bounds set aside
        (the local value stands instead): enough to log an admin in to replace it, where
        ``effective`` refuses."""
        settings = self._base
        for key, value in self._store.stored_settings(self._base.kiosk_id).items():
            try:
                settings = with_overrides(settings, {key: value})
            except InvalidValue:
                continue  # effective() names it; the admin replaces it with change()
        return settings

    def record_local_values(self, sources: Mapping[str, str]) -> dict[str, dict[str, Any]]:
        """Audit the values this kiosk took from its file, variables or options.

        ``sources`` maps section.field to where its value came from (LocalConfig.sources).
        Returns, and records in the audit log under this kiosk's id, every audited
        setting given there that differs from its default or from the database's value:
        key -> {"value", "source", "default", "stored" (if the database has one),
        "in_effect" (False when the database's value goes over it)}. The store records
        nothing when that is what it last recorded for this kiosk."""
        stored = self._store.stored_settings(self._base.kiosk_id)
        found = local_values(self._base, sources, stored)
        self._store.record_local_values(self._base.kiosk_id, found)
        return found

    def change(self, actor: Operator, values: Mapping[str, Any]) -> list[SettingChange]:
        """Store the values that differ from the effective ones; returns what changed.

        A bad value stored in the database (which stops every kiosk's start) can be
        replaced this way: the new values go over the stored ones before any is checked."""
        authorize(actor, Permission.CHANGE_SETTINGS, self._store)
        if not values:
            raise InvalidValue("no setting given; name at least one key and its value")
        stored = self._store.stored_settings(self._base.kiosk_id)
        updated = with_overrides(self._base, {**stored, **values})
        changes = [
            SettingChange(key, old, value_of(updated, key))
            for key in values
            if (old := stored.get(key, value_of(self._base, key))) != value_of(updated, key)
        ]
        if changes:
            self._store.save_settings(
                {c.key: (self._scope_name(c.key), c.old, c.new) for c in changes},
                actor,
            )
        return changes

    def _scope_name(self, key: str) -> str:
        return "*" if EDITABLE_KEYS[key].scope is Scope.ALL_KIOSKS else self._base.kiosk_id


def local_values(
    base: Settings, sources: Mapping[str, str], stored: Mapping[str, Any]
) -> dict[str, dict[str, Any]]:
    """The audited settings ``sources`` gave a value that differs from the default or
    from ``stored`` (the database's values), as SettingsService.record_local_values
    describes them; values in their JSON form."""
    defaults = Settings()
    found: dict[str, dict[str, Any]] = {}
    for key, source in sorted(sources.items()):
        section, _, name = key.partition(".")
        if section not in AUDITED_SECTIONS or not name:
            continue
        value, default = _json_value(base, key), _json_value(defaults, key)
        if value == default and stored.get(key, value) == value:
            continue
        entry: dict[str, Any] = {"value": value, "source": source, "default": default}
        if key in stored:
            entry["stored"] = stored[key]
        entry["in_effect"] = key not in stored
        found[key] = entry
    return found


def _json_value(settings: Settings, key: str) -> Any:
    section, name = key.split(".")
    return getattr(settings, section).model_dump(mode="json")[name]


def parse_assignment(text: str, base: Settings) -> tuple[str, Any]:
    """``key=value`` as typed by a person; the value takes the setting's own type."""
    key, equals, raw = text.partition("=")
    key, raw = key.strip(), raw.strip()
    if not equals or not key or not raw:
        raise InvalidValue(f"{quoted(text)} is not KEY=VALUE, e.g. matching.threshold=0.45")
    if key not in EDITABLE_KEYS:
        raise InvalidValue(
            f"unknown setting {quoted(key)}; the settings are: {', '.join(EDITABLE_KEYS)}"
        )
    current = value_of(base, key)
    if isinstance(current, str):
        return key, raw
    try:
        return key, type(current)(raw)
    except ValueError as error:
        kind = "a whole number" if isinstance(current, int) else "a number"
        raise InvalidValue(f"setting {key} = {quoted(raw)}: expected {kind}") from error
