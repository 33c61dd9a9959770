"""The consent texts, versioned under resources/consent, and the evidence of consent.

A person consents at the kiosk to the text in force, read to them by the operator
who witnesses it; or on a signed paper form (a bulk import), under whichever
version of the text the form carried. Either way the record keeps the version and
the text's SHA-256; a form also leaves its reference, so the paper can be found.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.resources
import re
from dataclasses import dataclass
from importlib.resources.abc import Traversable

from core.errors import ConfigurationError, InvalidValue, cut

# As the consent record stores it (consent_records.version, String(32)); also keeps a
# version from naming any file but resources/consent/<version>.txt.
_VERSION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$")
MAX_CONSENT_REFERENCE_LENGTH = 128


@dataclass(frozen=True)
class ConsentText:
    version: str
    text: str

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()


def current_consent() -> ConsentText:
    """The version named in resources/consent/CURRENT, with its text."""
    version = (_folder() / "CURRENT").read_text(encoding="utf-8").strip()
    found = _text(version) if _VERSION.fullmatch(version) else None
    if found is None:
        raise ConfigurationError(
            f"consent text {version or '(none)'} named in resources/consent/CURRENT is missing"
        )
    return found


def consent_text(version: str) -> ConsentText:
    """The text of consent ``version`` ("v1"), current or not; raises InvalidValue
    naming the known versions when there is no such text."""
    found = _text(version) if _VERSION.fullmatch(version) else None
    if found is None:
        raise InvalidValue(
            f"consent version {cut(repr(version))} is unknown; the known versions are "
            f"{', '.join(known_versions()) or '(none)'} (resources/consent)"
        )
    return found


def known_versions() -> tuple[str, ...]:
    """Every version with a text in resources/consent, sorted."""
    return tuple(
        sorted(
            entry.name.removesuffix(".txt")
            for entry in _folder().iterdir()
            if entry.name.endswith(".txt") and _VERSION.fullmatch(entry.name.removesuffix(".txt"))
        )
    )


def clean_consent_reference(reference: str | None) -> str | None:
    """The signed form's reference stripped, None when blank; raises InvalidValue
    when not printable or longer than MAX_CONSENT_REFERENCE_LENGTH characters."""
    if reference is None or not reference.strip():
        return None
    cleaned = reference.strip()
    if len(cleaned) > MAX_CONSENT_REFERENCE_LENGTH or not cleaned.isprintable():
        raise InvalidValue(
            "the consent reference must be printable and at most "
            f"{MAX_CONSENT_REFERENCE_LENGTH} characters: the number of the signed form"
        )
    return cleaned


@functools.cache
def _text(version: str) -> ConsentText | None:
    # Cached: a bulk import asks once per row; the texts ship with the program.
    text_file = _folder() / f"{version}.txt"
    if not text_file.is_file():
        return None
    return ConsentText(version, text_file.read_text(encoding="utf-8"))


def _folder() -> Traversable:
    return importlib.resources.files("resources") / "consent"
