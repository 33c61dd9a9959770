"""The 1:N decision, as a pure function of the nearest people."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from core.match_settings import MatchSettings
from core.records import Candidate


class MatchReason(StrEnum):
    MATCH = "match"
    EMPTY_GALLERY = "empty_gallery"
    BELOW_THRESHOLD = "below_threshold"
    AMBIGUOUS = "ambiguous"


@dataclass(frozen=True)
class MatchDecision:
    reason: MatchReason
    best: Candidate | None
    runner_up: Candidate | None

    @property
    def matched(self) -> Candidate | None:
        return self.best if self.reason is MatchReason.MATCH else None


def decide(candidates: Sequence[Candidate], settings: MatchSettings) -> MatchDecision:
    """Match when the best person clears the threshold and leads the next by the margin.

    ``candidates`` holds one entry per person; order does not matter.
    """
    ranked = sorted(candidates, key=lambda c: c.similarity, reverse=True)
    if not ranked:
        return MatchDecision(MatchReason.EMPTY_GALLERY, None, None)
    best = ranked[0]
    runner_up = ranked[1] if len(ranked) > 1 else None
    if best.similarity < settings.threshold:
        return MatchDecision(MatchReason.BELOW_THRESHOLD, best, runner_up)
    if runner_up is not None and best.similarity - runner_up.similarity < settings.margin:
        return MatchDecision(MatchReason.AMBIGUOUS, best, runner_up)
    return MatchDecision(MatchReason.MATCH, best, runner_up)
