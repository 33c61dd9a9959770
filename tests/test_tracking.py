"""Pure tracking and multi-frame confirmation."""

from __future__ import annotations

import uuid

import numpy as np
import pytest

from core.access.tracking import ConsecutiveVotes, FaceTracker, Verdict, box_overlap
from core.faces import DetectedFace
from core.matching.match_rule import MatchDecision, MatchReason
from core.records import Candidate

ANN, BOB = uuid.uuid4(), uuid.uuid4()


def face(x: float, y: float, size: float = 100) -> DetectedFace:
    return DetectedFace((x, y, x + size, y + size), np.zeros((5, 2), np.float32), 0.9)


def match(person: uuid.UUID) -> MatchDecision:
    return MatchDecision(MatchReason.MATCH, Candidate(person, "x", 0.7), None)


UNKNOWN = MatchDecision(MatchReason.BELOW_THRESHOLD, Candidate(ANN, "x", 0.2), None)
TIE = MatchDecision(MatchReason.AMBIGUOUS, Candidate(ANN, "x", 0.7), Candidate(BOB, "y", 0.69))


def test_box_overlap() -> None:
    assert box_overlap((0, 0, 10, 10), (0, 0, 10, 10)) == 1.0
    assert box_overlap((0, 0, 10, 10), (20, 20, 30, 30)) == 0.0
    assert box_overlap((0, 0, 10, 10), (5, 0, 15, 10)) == pytest.approx(50 / 150)


def test_tracker_follows_a_moving_face_and_starts_anew_when_it_jumps_or_leaves() -> None:
    tracker = FaceTracker(min_overlap=0.3, max_missed=2)
    assert tracker.update(face(100, 100)) is True
    first = tracker.track_id
    assert tracker.update(face(110, 105)) is False  # small move: same person
    assert tracker.track_id == first
    assert tracker.update(face(400, 100)) is True  # elsewhere: someone else
    second = tracker.track_id
    for _ in range(2):
        assert tracker.update(None) is False
    assert tracker.track_id == second  # a blink of missed frames keeps the track
    tracker.update(None)
    assert tracker.track_id is None
    assert tracker.update(face(400, 100)) is True


def test_votes_grant_after_consecutive_agreement() -> None:
    votes = ConsecutiveVotes(frames=3)
    assert votes.add(match(ANN)).verdict is Verdict.PENDING
    assert votes.add(match(ANN)).verdict is Verdict.PENDING
    assert votes.add(match(ANN)).verdict is Verdict.GRANTED


def test_a_change_of_person_or_a_tie_restarts_the_streak() -> None:
    votes = ConsecutiveVotes(frames=3)
    for decision in (match(ANN), match(ANN), match(BOB), match(ANN), match(ANN), TIE):
        assert votes.add(decision).verdict is Verdict.PENDING
    assert votes.add(match(ANN)).verdict is Verdict.PENDING


def test_consecutive_refusals_deny_and_ties_count_as_refusals() -> None:
    votes = ConsecutiveVotes(frames=3)
    assert votes.add(UNKNOWN).verdict is Verdict.PENDING
    assert votes.add(TIE).verdict is Verdict.PENDING
    assert votes.add(UNKNOWN).verdict is Verdict.DENIED


@pytest.mark.parametrize(
    "by_turns", [(match(ANN), match(BOB)), (match(ANN), TIE)], ids=["two people", "match, tie"]
)
def test_a_face_that_never_settles_is_denied_not_searched_without_end(
    by_turns: tuple[MatchDecision, MatchDecision],
) -> None:
    votes = ConsecutiveVotes(frames=3)
    limit = ConsecutiveVotes.PENDING_LIMIT * 3
    verdicts = [votes.add(by_turns[n % 2]).verdict for n in range(limit)]
    assert verdicts[:-1] == [Verdict.PENDING] * (limit - 1)
    assert verdicts[-1] is Verdict.DENIED
