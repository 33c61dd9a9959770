"""How a person's name and badge number are cleaned before they are stored, and how
names are compared: as people read them.

A name is stored composed (NFC) with its white space folded, as typed otherwise. It is
compared through ``name_key``: compatibility forms folded (NFKC: full-width letters
read as the plain ones, the ligature "ﬁ" as "fi"), then full Unicode case folding
("STRASSE" and "Straße" are one name). The store compares with the same steps in SQL
(storage.name_keys), so a name typed decomposed, in capitals or in full-width letters
finds the person whichever way it was enrolled.
"""

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


def name_key(text: str) -> str:
    """``text`` as names are compared: NFKC, case-folded, NFKC again (folding can undo
    composition: "İ" folds to "i" and a combining dot), white space folded to one space.

    The same for a stored name and a search term; storage.name_keys is its SQL twin."""
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold())
    return " ".join(folded.split())


def clean_external_ref(reference: str | None) -> str | None:
    """The badge number composed (NFC) and stripped, None when blank; raises
    InvalidValue when not printable or longer than MAX_EXTERNAL_REF_LENGTH characters."""
    if reference is None:
        return None
    cleaned = unicodedata.normalize("NFC", reference).strip()
    if not cleaned:
        return None
    if len(cleaned) > MAX_EXTERNAL_REF_LENGTH or not cleaned.isprintable():
        raise InvalidValue(
            f"external reference must be printable and at most {MAX_EXTERNAL_REF_LENGTH} characters"
        )
    return cleaned
