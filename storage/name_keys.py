"""core.enrollment.names.name_key in SQL: names compared as people read them.

The same steps as the Python function, on PostgreSQL's own Unicode tables:
NFKC, full case folding under the built-in ``pg_unicode_fast`` collation (the
database's own collation may be "C", whose ``lower`` and ``ILIKE`` fold ASCII
letters only, or a libc locale, which leaves "ß" alone), NFKC again, and runs of
spaces folded. tests/test_name_search.py checks that both give the same key.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, func, literal_column
from sqlalchemy.orm import InstrumentedAttribute

# Compatibility decompositions bring in plain spaces only (U+0020): a stored name's
# other white space was folded to one space when it was cleaned.
_SPACES = " +"


def name_key(
    value: ColumnElement[Any] | InstrumentedAttribute[str | None],
) -> ColumnElement[str]:
    """The SQL expression of ``value``'s comparison key (NULL for NULL)."""
    nfkc: ColumnElement[Any] = literal_column("NFKC")
    folded = func.casefold(func.normalize(value, nfkc).collate("pg_unicode_fast"))
    spaced = func.regexp_replace(func.normalize(folded, nfkc), _SPACES, " ", "g")
    return func.btrim(spaced, " ")
