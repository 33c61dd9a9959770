"""How a person's name and badge number are cleaned before they are stored."""

from __future__ import annotations

import unicodedata

from core.errors import InvalidValue

MAX_NAME_LENGTH = 200
MAX_EXTERNAL_REF_LENGTH = 64


def clean_display_name(name: str) -> str:
    """NFC, inner white space folded to one space; raises InvalidValue when empty,
    longer than MAX_NAME_LENGTH characters, or holding control characters."""
    cleaned = " ".join(unicodedata.normalize("NFC", name).split())
    if not cleaned:
        raise InvalidValue("the name is empty; give the person's name")
    if len(cleaned) > MAX_NAME_LENGTH:
        raise InvalidValue(f"the name has {len(cleaned)} characters; at most {MAX_NAME_LENGTH}")
    if any(unicodedata.category(ch).startswith("C") for ch in cleaned):
        raise InvalidValue("the name contains control characters; type it again")
    return cleaned


def clean_external_ref(reference: str | None) -> str | None:
    """The badge number stripped, None when blank; raises InvalidValue when not
    printable or longer than MAX_EXTERNAL_REF_LENGTH characters."""
    if reference is None:
        return None
    cleaned = reference.strip()
    if not cleaned:
        return None
    if len(cleaned) > MAX_EXTERNAL_REF_LENGTH or not cleaned.isprintable():
        raise InvalidValue(
            f"external reference must be printable and at most {MAX_EXTERNAL_REF_LENGTH} characters"
        )
    return cleaned
