"""What a setting accepts, in words, from its bounds: for the messages refusing a value
from kiosk.toml, a variable, an option or kiosk-admin settings set alike."""

from __future__ import annotations

import enum
import types
import typing
from pathlib import Path
from typing import Any

from annotated_types import Ge, Gt, Le, Lt, MaxLen, MinLen
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from core.settings import Settings


def allowed_values(key: str) -> str:
    """What ``key`` (section.field of Settings) accepts, in words, from its bounds: both
    bounds where it has two (\"a whole number at least 1 and at most 30\"); \"\" for an
    unknown key."""
    info = _field(key)
    if info is None:
        return ""
    low = high = None
    for bound in info.metadata:
        if isinstance(bound, Ge):
            low = f"at least {bound.ge}"
        elif isinstance(bound, Gt):
            low = f"more than {bound.gt}"
        elif isinstance(bound, Le):
            high = f"at most {bound.le}"
        elif isinstance(bound, Lt):
            high = f"less than {bound.lt}"
        elif isinstance(bound, MinLen | MaxLen):
            low = low or (
                f"at least {bound.min_length} long" if isinstance(bound, MinLen) else None
            )
            high = high or (
                f"at most {bound.max_length} long" if isinstance(bound, MaxLen) else None
            )
    kind = _kind(info.annotation)
    limits = " and ".join(part for part in (low, high) if part)
    return f"{kind} {limits}".strip() if limits else kind


def _kind(annotation: Any) -> str:
    origin = typing.get_origin(annotation)
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return "one of " + ", ".join(repr(choice.value) for choice in annotation)
    if origin is typing.Literal:
        return "one of " + ", ".join(repr(choice) for choice in typing.get_args(annotation))
    if origin is tuple:
        return "a list (comma separated in a variable)"
    if origin in (typing.Union, types.UnionType):
        return " or ".join(
            _kind(arg) for arg in typing.get_args(annotation) if arg is not type(None)
        )
    names = {
        int: "a whole number",
        float: "a number",
        str: "text",
        bool: "true or false",
        Path: "a path",
    }
    return names.get(annotation, str(annotation))


def _field(key: str) -> FieldInfo | None:
    if "." not in key:
        return Settings.model_fields.get(key)
    section, name = key.split(".")
    model = section_model(section)
    return model.model_fields.get(name) if model else None


def section_model(section: str) -> type[BaseModel] | None:
    """The settings model of the section ``section`` (``[door]``...), None when there is
    no such section or it holds no settings model."""
    info = Settings.model_fields.get(section)
    annotation = info.annotation if info else None
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return None
