"""What one people file may not repeat: a badge on several rows, a face on several rows.

core.enrollment.bulk_import refuses every row of a repeated badge, and each row whose
face is one an earlier row of the file went in with (or would, in a dry run).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from core.enrollment.enrollment import LabelledSample
from core.enrollment.people_file import RawRow

# Rows a repeated badge's refusal names; the report has every row's refusal.
_ROWS_NAMED = 5


def repeated_badges(rows: Sequence[RawRow]) -> dict[str, list[int]]:
    """Each badge given on more than one of ``rows``, with the numbers of those rows."""
    by_badge: dict[str, list[int]] = {}
    for raw in rows:
        badge = raw.cells["badge"].strip()
        if badge:
            by_badge.setdefault(badge, []).append(raw.row)
    return {badge: found for badge, found in by_badge.items() if len(found) > 1}


def row_list(rows: Sequence[int]) -> str:
    """``rows`` as a refusal names them: "2, 10", or the first few "and 3 more"."""
    named = ", ".join(str(row) for row in rows[:_ROWS_NAMED])
    more = len(rows) - _ROWS_NAMED
    return f"{named} and {more} more" if more > 0 else named


class FileFaces:
    """The templates of the rows of one file that went in (or would: a dry run), in one
    growing matrix."""

    def __init__(self) -> None:
        self._vectors: npt.NDArray[np.float32] | None = None
        self._rows: list[int] = []

    def add(self, row: int, faces: Sequence[LabelledSample]) -> None:
        new = np.stack([sample.embedding for _, sample in faces]).astype(np.float32)
        count = len(self._rows)
        if self._vectors is None:
            self._vectors = np.empty((max(64, len(new)), new.shape[1]), np.float32)
        elif count + len(new) > len(self._vectors):  # doubled: appends stay linear overall
            grown = np.empty((2 * (count + len(new)), new.shape[1]), np.float32)
            grown[:count] = self._vectors[:count]
            self._vectors = grown
        self._vectors[count : count + len(new)] = new
        self._rows.extend([row] * len(new))

    def closest(self, faces: Sequence[LabelledSample]) -> tuple[int, str, float] | None:
        """(row, label of the face, similarity) of the closest pair, or None if empty."""
        if self._vectors is None:
            return None
        known = self._vectors[: len(self._rows)]
        scores = known @ np.stack([sample.embedding for _, sample in faces]).T
        at, face = np.unravel_index(int(np.argmax(scores)), scores.shape)
        return self._rows[int(at)], faces[int(face)][0], float(scores[at, face])
