"""Dates and times given on the command line (--at, --since, --until), bounded.

Python's datetime stops at the years 1 and 9999, and a moment near either end
overflows as soon as it is moved to another zone or a day is added to it: a stack
trace, not a refusal. No access rule, audit event or door decision is dated before
1970 or after 2999, so a moment outside those years is refused with the range.
"""

from __future__ import annotations

import argparse
from datetime import datetime

EARLIEST_YEAR = 1970
LATEST_YEAR = 2999


def bounded_moment(value: str, example: str) -> datetime:
    """``value`` as an ISO 8601 date or time (naive unless it has an offset). Raises
    argparse.ArgumentTypeError naming ``example`` for text that is no moment, or the
    years allowed for one outside them."""
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{value[:60]!r} is not a date or time; write it as {example}"
        ) from None
    if not EARLIEST_YEAR <= parsed.year <= LATEST_YEAR:
        raise argparse.ArgumentTypeError(
            f"{value[:60]!r} is out of range; give a moment from {EARLIEST_YEAR} to "
            f"{LATEST_YEAR}, e.g. {example}"
        )
    return parsed
