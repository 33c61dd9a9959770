"""The consent text in force, versioned under resources/consent."""

from __future__ import annotations

import hashlib
import importlib.resources
from dataclasses import dataclass

from core.errors import ConfigurationError


@dataclass(frozen=True)
class ConsentText:
    version: str
    text: str

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()


def current_consent() -> ConsentText:
    """The version named in resources/consent/CURRENT, with its text."""
    folder = importlib.resources.files("resources") / "consent"
    version = (folder / "CURRENT").read_text(encoding="utf-8").strip()
    text_file = folder / f"{version}.txt"
    if not version or not text_file.is_file():
        raise ConfigurationError(
            f"consent text {version or '(none)'} named in resources/consent/CURRENT is missing"
        )
    return ConsentText(version, text_file.read_text(encoding="utf-8"))
