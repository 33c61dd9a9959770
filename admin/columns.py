"""Headed columns for kiosk-admin's lists: a header row, then one row per record,
each column as wide as its widest cell (as a terminal shows it), two spaces apart."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence

GAP = "  "
EMPTY = "-"


def columns(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """``rows`` under ``headers``; a cell of None or "" shows as "-". The last column
    is not padded, so no line ends in spaces."""
    cells = [list(headers)] + [[_text(cell) for cell in row] for row in rows]
    widths = [max(_width(row[i]) for row in cells) for i in range(len(headers))]
    lines = []
    for row in cells:
        padded = [cell + " " * (widths[i] - _width(cell)) for i, cell in enumerate(row[:-1])]
        lines.append(GAP.join([*padded, row[-1]]))
    return "\n".join(lines)


def _text(cell: object) -> str:
    return EMPTY if cell is None or cell == "" else " ".join(str(cell).split())


def _width(text: str) -> int:
    """Terminal cells: wide East Asian characters take two, combining marks none."""
    return sum(
        0
        if unicodedata.combining(char)
        else 2
        if unicodedata.east_asian_width(char) in ("W", "F")
        else 1
        for char in text
    )
