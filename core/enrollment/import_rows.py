"""What became of each row of a bulk import (core.enrollment.bulk_import)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum


class RowOutcome(StrEnum):
    ENROLLED = "enrolled"
    WOULD_ENROLL = "would_enroll"
    """A dry run: every check passed, nothing was stored."""
    ALREADY_ENROLLED = "already_enrolled"
    """The badge's person is enrolled with this face: nothing changed."""
    REFUSED = "refused"


@dataclass(frozen=True)
class RowResult:
    row: int
    """The row's number in the file as a spreadsheet shows it (the header is row 1)."""
    badge: str
    outcome: RowOutcome
    reason: str = ""
    """Why the row was refused (one line naming the fix), or whom it matched."""
    code: str = ""
    """A refusal's short code, as the audit log records it (core.enrollment.refusals)."""
    person_id: uuid.UUID | None = None

    @property
    def went_in(self) -> bool:
        return self.outcome is not RowOutcome.REFUSED


def summary(results: Sequence[RowResult]) -> dict[str, int]:
    """How many rows had each outcome, every outcome named."""
    counts = dict.fromkeys((o.value for o in RowOutcome), 0)
    for result in results:
        counts[result.outcome.value] += 1
    return counts
