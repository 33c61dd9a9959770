"""Every path of the door's policy, driven by fakes of its protocols: fast, no models, no database.

The real models and the real database drive the same door in test_door.py,
test_liveness_door.py and test_offline.py.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import pytest

from core.access.consumers import DecisionRelay
from core.access.door import AccessPolicy, DoorRecognizer
from core.access.door_access import Admission
from core.access.frame_outcome import FrameOutcome, Guidance
from core.access.liveness import LivenessState, Observation
from core.access.liveness import Verdict as LivenessVerdict
from core.access.recognition_throttle import RecognitionThrottle
from core.errors import RecognitionPaused, StoreBusy, StoreError
from core.faces import BGRImage, DetectedFace, Points106
from core.matching.match_rule import MatchDecision, MatchReason
from core.records import AccessDecision, AccessOutcome, Candidate, Refusal
from core.settings import DoorSettings, QualitySettings, SecuritySettings
from core.vision.engine import FaceSample
from core.vision.quality import FaceMeasurements

YAO = Candidate(uuid.uuid4(), "Yao Ming", 0.72)
ADA = Candidate(uuid.uuid4(), "Ada Example", 0.70)
FRAME: BGRImage = np.zeros((240, 320, 3), np.uint8)


def face(x: float = 100, size: float = 120) -> DetectedFace:
    return DetectedFace((x, 50, x + size, 50 + size), np.zeros((5, 2), np.float32), 0.9)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        self.now += 0.005  # each reading is 5 ms later: every stage takes time
        return self.now


@dataclass
class FakeFaces:
    """Scripted detections: one entry per frame, the faces in it."""

    frames: list[tuple[DetectedFace, ...]]
    yaw: float = 0.0

    def detect(self, frame: BGRImage) -> list[DetectedFace]:
        return list(self.frames.pop(0)) if self.frames else []

    def sample(self, frame: BGRImage, detected: DetectedFace) -> FaceSample:
        embedding = np.zeros(512, np.float32)
        embedding[0] = 1.0
        measured = FaceMeasurements(
            face_px=detected.short_side,
            score=0.9,
            sharpness=100,
            yaw=self.yaw,
            roll_degrees=0,
            pitch=0,
            brightness=120,
            dark_fraction=0,
            bright_fraction=0,
            outside_share=0,
        )
        return FaceSample(detected, embedding, measured)

    def landmarks_106(self, frame: BGRImage, detected: DetectedFace) -> Points106:
        return np.zeros((106, 2), np.float32)


@dataclass
class FakeIdentifier:
    """Scripted searches (a MatchDecision, or an error to raise); records what is kept."""

    answers: list[MatchDecision | Exception]
    kiosk_id: str = "door-1"
    recorded: list[AccessDecision] = field(default_factory=list)
    searches: int = 0

    def search(self, sample: FaceSample) -> MatchDecision:
        self.searches += 1
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    def record(self, decision: AccessDecision) -> None:
        self.recorded.append(decision)


@dataclass
class ScriptedLiveness:
    """A challenge whose verdicts come from a script, one per observed frame."""

    verdicts: list[LivenessVerdict]
    observed: list[Observation] = field(default_factory=list)

    @property
    def state(self) -> LivenessState:
        return LivenessState(LivenessVerdict.PENDING, None, 0, 1)

    def observe(self, seen: Observation) -> LivenessState:
        self.observed.append(seen)
        verdict = self.verdicts.pop(0)
        reason = "the eyes never closed" if verdict is LivenessVerdict.FAILED else None
        return LivenessState(verdict, None, int(verdict is LivenessVerdict.PASSED), 1, reason)


def match(candidate: Candidate) -> MatchDecision:
    return MatchDecision(MatchReason.MATCH, candidate, None)


def below(candidate: Candidate) -> MatchDecision:
    return MatchDecision(MatchReason.BELOW_THRESHOLD, candidate, None)


def tie(a: Candidate, b: Candidate) -> MatchDecision:
    return MatchDecision(MatchReason.AMBIGUOUS, a, b)


@dataclass
class Door:
    recognizer: DoorRecognizer
    faces: FakeFaces
    identifier: FakeIdentifier
    consumed: list[AccessDecision]
    clock: FakeClock

    def run(self, frames: int) -> list[FrameOutcome]:
        return [self.recognizer.process(FRAME) for _ in range(frames)]

    def decisions(self, outcomes: Iterable[FrameOutcome]) -> list[AccessDecision]:
        return [o.decision for o in outcomes if o.decision is not None]


def make_door(
    frames: list[tuple[DetectedFace, ...]],
    answers: list[MatchDecision | Exception],
    *,
    liveness: ScriptedLiveness | None = None,
    security: SecuritySettings | None = None,
    door: DoorSettings | None = None,
    yaw: float = 0.0,
    access: AccessPolicy | None = None,
) -> Door:
    clock = FakeClock()
    faces = FakeFaces(frames, yaw)
    identifier = FakeIdentifier(answers)
    consumed: list[AccessDecision] = []

    class Collect:
        def consume(self, decision: AccessDecision) -> None:
            consumed.append(decision)

    recognizer = DoorRecognizer(
        faces=faces,
        identifier=identifier,
        door=door or DoorSettings(frames_to_confirm=3),
        quality=QualitySettings(),
        throttle=RecognitionThrottle(security or SecuritySettings(), clock),
        liveness=(lambda: liveness) if liveness is not None else None,
        access=access,
        consumers=[Collect()],
        clock=clock,
    )
    return Door(recognizer, faces, identifier, consumed, clock)


def test_three_agreeing_frames_grant_once_and_every_consumer_reads_the_same_record() -> None:
    door = make_door([(face(),)] * 5, [match(YAO)] * 3)
    outcomes = door.run(5)
    decided = door.decisions(outcomes)
    assert len(decided) == 1
    assert outcomes[2].decision is decided[0]
    decision = decided[0]
    assert decision.granted
    assert decision.display_name == "Yao Ming"
    assert decision.person_id == YAO.person_id
    assert decision.similarity == YAO.similarity
    assert decision.reason is None
    assert decision.kiosk_id == "door-1"
    assert decision.timings.detect_ms > 0
    assert decision.timings.search_ms > 0
    assert decision.latency_ms > 0
    # One object, made once: the store and the consumers hold the very same record.
    assert door.identifier.recorded == [decision]
    assert door.identifier.recorded[0] is decision
    assert door.consumed[0] is decision
    assert door.identifier.searches == 3  # the decided face is not searched again
    assert [o.searched for o in outcomes] == [True, True, True, False, False]
    assert outcomes[2].timings.record_ms > 0


def test_a_stranger_is_refused_as_unknown_without_a_name() -> None:
    door = make_door([(face(),)] * 3, [below(ADA)] * 3)
    (decision,) = door.decisions(door.run(3))
    assert decision.outcome is AccessOutcome.UNKNOWN
    assert decision.person_id is None
    assert decision.display_name is None
    assert decision.similarity == ADA.similarity
    assert decision.reason == "not recognized"


def test_a_tie_between_two_people_breaks_the_streak_and_refuses() -> None:
    door = make_door([(face(),)] * 6, [match(YAO), tie(YAO, ADA), match(YAO), tie(YAO, ADA)] * 2)
    outcomes = door.run(6)
    # No three consecutive agreeing frames, and the third refusal in a row never came.
    assert door.decisions(outcomes) == []
    door2 = make_door([(face(),)] * 3, [tie(YAO, ADA)] * 3)
    (refused,) = door2.decisions(door2.run(3))
    assert refused.outcome is AccessOutcome.UNKNOWN
    assert refused.person_id is None


def test_a_crowd_is_asked_to_come_one_at_a_time_and_nothing_is_searched() -> None:
    door = make_door([(face(0, 120), face(150, 110))] * 3, [])
    outcomes = door.run(3)
    assert {o.guidance for o in outcomes} == {Guidance.ONE_AT_A_TIME}
    assert door.identifier.searches == 0
    assert door.decisions(outcomes) == []


def test_a_distant_face_is_asked_to_come_closer() -> None:
    small = DoorSettings().min_face_px - 1
    door = make_door([(face(size=small),)] * 2, [])
    outcomes = door.run(2)
    assert {o.guidance for o in outcomes} == {Guidance.COME_CLOSER}
    assert door.identifier.searches == 0


def test_a_turned_face_is_told_to_look_at_the_camera_while_pending() -> None:
    door = make_door([(face(),)] * 1, [match(YAO)], yaw=QualitySettings().max_yaw + 0.1)
    (outcome,) = door.run(1)
    assert outcome.guidance is Guidance.LOOK_AT_CAMERA
    assert outcome.decision is None


def test_repeated_refusals_pause_recognition_without_searching() -> None:
    security = SecuritySettings(recognition_max_denied=2, recognition_cooldown_s=30)
    empty: tuple[DetectedFace, ...] = ()
    frames = [(face(),)] * 3 + [empty] * 10 + [(face(),)] * 3 + [empty] * 10 + [(face(),)]
    door = make_door(frames, [below(ADA)] * 6, door=DoorSettings(frames_to_confirm=3))
    door.recognizer = DoorRecognizer(
        faces=door.faces,
        identifier=door.identifier,
        door=DoorSettings(frames_to_confirm=3, track_max_missed=0),
        quality=QualitySettings(),
        throttle=RecognitionThrottle(security, door.clock),
        clock=door.clock,
    )
    outcomes = door.run(26)
    assert len(door.decisions(outcomes)) == 2
    searches = door.identifier.searches
    with pytest.raises(RecognitionPaused, match="please wait"):
        door.recognizer.process(FRAME)
    assert door.identifier.searches == searches


def test_an_unreachable_database_refuses_as_offline_and_holds_nobody_for_the_retry_window() -> None:
    empty: tuple[DetectedFace, ...] = ()
    frames = [(face(),), empty, empty, (face(),)]
    door = make_door(
        frames,
        [StoreError("connection refused")],
        door=DoorSettings(track_max_missed=0, offline_retry_s=60),
    )
    outcomes = door.run(4)
    decided = door.decisions(outcomes)
    assert [d.outcome for d in decided] == [AccessOutcome.OFFLINE, AccessOutcome.OFFLINE]
    assert decided[0].reason is not None
    assert "closed" in decided[0].reason
    assert door.identifier.searches == 1  # the second face was not made to wait on it


def test_after_the_offline_window_the_gallery_is_searched_again() -> None:
    empty: tuple[DetectedFace, ...] = ()
    frames = [(face(),), empty, (face(),), empty] + [(face(),)] * 3
    door = make_door(
        frames,
        [StoreError("connection refused")] + [match(YAO)] * 3,
        door=DoorSettings(frames_to_confirm=3, track_max_missed=0, offline_retry_s=60),
    )
    offline = door.decisions(door.run(4))  # the first face, and one within the window
    assert [d.outcome for d in offline] == [AccessOutcome.OFFLINE] * 2
    door.clock.now += 60  # the window is over
    (granted,) = door.decisions(door.run(3))
    assert granted.granted
    assert door.identifier.searches == 4  # one before the window, three after it


def test_a_busy_database_decides_nothing_and_the_next_frame_searches_again() -> None:
    door = make_door([(face(),)] * 4, [StoreBusy("slow"), match(YAO), match(YAO), match(YAO)])
    with pytest.raises(StoreBusy):
        door.recognizer.process(FRAME)
    outcomes = door.run(3)
    (decision,) = door.decisions(outcomes)
    assert decision.granted
    assert door.identifier.recorded == [decision]


@pytest.mark.parametrize(
    ("verdicts", "expected"),
    [
        ([LivenessVerdict.PENDING, LivenessVerdict.PASSED], AccessOutcome.GRANTED),
        ([LivenessVerdict.PENDING, LivenessVerdict.FAILED], AccessOutcome.LIVENESS_FAILED),
    ],
)
def test_liveness_decides_a_confirmed_match(
    verdicts: list[LivenessVerdict], expected: AccessOutcome
) -> None:
    challenge = ScriptedLiveness(list(verdicts))
    door = make_door([(face(),)] * 5, [match(YAO)] * 3, liveness=challenge)
    outcomes = door.run(5)
    assert outcomes[2].liveness is not None
    assert outcomes[2].decision is None
    (decision,) = door.decisions(outcomes)
    assert decision.outcome is expected
    assert outcomes[4].decision is decision
    assert decision.person_id == YAO.person_id  # whose face was shown is kept either way
    assert (decision.display_name == "Yao Ming") is (expected is AccessOutcome.GRANTED)
    assert len(challenge.observed) == 2
    assert door.identifier.searches == 3
    assert challenge.observed[0].identity_similarity == pytest.approx(1.0)


def test_a_challenged_face_that_leaves_is_refused_as_abandoned() -> None:
    challenge = ScriptedLiveness([LivenessVerdict.PENDING])
    empty: tuple[DetectedFace, ...] = ()
    door = make_door(
        [(face(),)] * 4 + [empty] * 2,
        [match(YAO)] * 3,
        liveness=challenge,
        door=DoorSettings(frames_to_confirm=3, track_max_missed=0),
    )
    outcomes = door.run(6)
    (decision,) = door.decisions(outcomes)
    assert decision.outcome is AccessOutcome.LIVENESS_FAILED
    assert decision.person_id == YAO.person_id
    assert decision.display_name is None


def test_a_failing_consumer_is_counted_and_never_stops_the_door() -> None:
    class Broken:
        def consume(self, decision: AccessDecision) -> None:
            raise OSError("disk full")

    door = make_door([(face(),)] * 3, [match(YAO)] * 3)
    door.recognizer._consumers = (Broken(), *door.recognizer._consumers)
    (decision,) = door.decisions(door.run(3))
    assert decision.granted
    assert door.recognizer.consumer_failures == 1
    assert door.consumed == [decision]  # the consumer after the broken one still heard it


def test_the_relay_keeps_a_slow_or_failing_consumer_off_the_recognition_path() -> None:
    entered, release = threading.Event(), threading.Event()
    heard: list[AccessDecision] = []

    class Stuck:
        def consume(self, decision: AccessDecision) -> None:
            entered.set()
            release.wait(10)

    class Failing:
        def consume(self, decision: AccessDecision) -> None:
            raise RuntimeError("webhook down")

    class Quick:
        def consume(self, decision: AccessDecision) -> None:
            heard.append(decision)

    relay = DecisionRelay([("stuck", Stuck()), ("failing", Failing()), ("quick", Quick())], 2)
    decisions = [
        AccessDecision(kiosk_id="k", outcome=AccessOutcome.UNKNOWN, latency_ms=1.0)
        for _ in range(5)
    ]
    for number, decision in enumerate(decisions, 1):
        relay.consume(decision)  # returns at once though "stuck" holds its first decision
        assert entered.wait(5)
        done = threading.Event()
        for _ in range(500):  # the quick lanes keep up: wait for them, not a fixed time
            counts = relay.counts
            if counts["quick"].consumed == number and counts["failing"].failed == number:
                done.set()
                break
            done.wait(0.01)
        assert done.is_set()
    release.set()
    relay.close(timeout_s=5)
    assert heard == decisions
    assert relay.counts["failing"].failed == 5
    assert relay.counts["quick"].dropped == 0
    # The stuck consumer held one and queued two; the other two were dropped and counted.
    assert relay.counts["stuck"].dropped == 2
    assert relay.counts["stuck"].consumed == 3


def test_a_consumer_that_raises_system_exit_keeps_its_lane_and_close_counts_the_rest() -> None:
    release = threading.Event()
    heard: list[AccessDecision] = []

    class Exiting:
        def consume(self, decision: AccessDecision) -> None:
            heard.append(decision)
            raise SystemExit(7)  # a library's bug: must not end the lane for good

    class Stuck:
        def consume(self, decision: AccessDecision) -> None:
            release.wait(10)

    relay = DecisionRelay([("exiting", Exiting()), ("stuck", Stuck())], 10)
    decisions = [
        AccessDecision(kiosk_id="k", outcome=AccessOutcome.UNKNOWN, latency_ms=1.0)
        for _ in range(4)
    ]
    for decision in decisions:
        relay.consume(decision)
    started = time.monotonic()
    relay.close(timeout_s=0.5)
    assert time.monotonic() - started < 1.5  # each lane within its time, not twice it
    release.set()
    assert heard == decisions  # every decision reached it, though each raised
    assert relay.counts["exiting"].failed == 4
    # The stuck one held the first; the three it never took are counted, not lost unsaid.
    assert relay.counts["stuck"].dropped == 3


def test_a_decision_that_cannot_be_kept_is_not_made_and_the_face_is_decided_again() -> None:
    class FullSpool(FakeIdentifier):
        def record(self, decision: AccessDecision) -> None:
            if not self.recorded and not getattr(self, "failed", False):
                self.failed = True
                raise StoreError("no space left for the spool")
            super().record(decision)

    door = make_door([(face(),)] * 4, [match(YAO)] * 4)
    door.identifier = FullSpool([match(YAO)] * 4)
    door.recognizer._identifier = door.identifier
    door.run(2)
    with pytest.raises(StoreError):
        door.recognizer.process(FRAME)
    assert door.consumed == []  # nobody heard of a grant that was never recorded
    (decision,) = door.decisions(door.run(1))
    assert decision.granted
    assert door.identifier.recorded == [decision]


@dataclass
class ScriptedAccess:
    """An access policy answering from a script: a refusal, None, or an error to raise;
    ``pin_required`` says the door is face_and_pin."""

    answers: list[Refusal | Exception | None]
    asked: list[uuid.UUID] = field(default_factory=list)
    withdrawn: list[uuid.UUID] = field(default_factory=list)
    pin_required: bool = False

    def admit(self, person_id: uuid.UUID, *, pin_checked: bool = False) -> Admission:
        self.asked.append(person_id)
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return Admission(answer, self.pin_required)

    def withdraw(self, person_id: uuid.UUID) -> None:
        self.withdrawn.append(person_id)


def test_the_access_rules_have_the_last_word_on_a_recognised_person() -> None:
    access = ScriptedAccess([Refusal.OUTSIDE_SCHEDULE])
    door = make_door([(face(),)] * 3, [match(YAO)] * 3, access=access)
    (decision,) = door.decisions(door.run(3))
    assert access.asked == [YAO.person_id]
    assert decision.outcome is AccessOutcome.REFUSED
    assert decision.refusal is Refusal.OUTSIDE_SCHEDULE
    assert decision.reason == "not allowed at this time"
    assert decision.person_id == YAO.person_id  # who was refused, for the access log
    assert decision.display_name is None  # the screen names no one it refuses
    assert door.identifier.recorded == [decision]
    assert door.consumed == [decision]


def test_an_allowed_person_is_granted_and_a_stranger_never_reaches_the_rules() -> None:
    access = ScriptedAccess([None])
    door = make_door([(face(),)] * 3, [match(YAO)] * 3, access=access)
    (decision,) = door.decisions(door.run(3))
    assert decision.granted
    stranger = make_door([(face(),)] * 3, [below(ADA)] * 3, access=access)
    (refused,) = stranger.decisions(stranger.run(3))
    assert refused.outcome is AccessOutcome.UNKNOWN
    assert access.asked == [YAO.person_id]


def test_rules_that_cannot_be_read_keep_the_door_closed_as_offline() -> None:
    access = ScriptedAccess([StoreError("the database cannot be reached")])
    door = make_door([(face(),)] * 3, [match(YAO)] * 3, access=access)
    (decision,) = door.decisions(door.run(3))
    assert decision.outcome is AccessOutcome.OFFLINE
    assert decision.refusal is None
    assert decision.display_name is None


@dataclass
class FailingOnce(FakeIdentifier):
    """Its first record fails, as a full spool does unless ``error`` says otherwise;
    the rest are kept."""

    error: Exception = field(default_factory=lambda: StoreError("no space left for the spool"))
    failed: bool = False

    def record(self, decision: AccessDecision) -> None:
        if not self.failed:
            self.failed = True
            raise self.error
        super().record(decision)


@pytest.mark.parametrize(("answer", "withdrawn"), [(None, True), (Refusal.ANTI_PASSBACK, False)])
def test_a_grant_that_cannot_be_kept_is_withdrawn_from_the_access_policy(
    answer: Refusal | None, withdrawn: bool
) -> None:
    access = ScriptedAccess([answer, answer])
    door = make_door([(face(),)] * 4, [], access=access)
    door.identifier = FailingOnce([match(YAO)] * 4)
    door.recognizer._identifier = door.identifier
    door.run(2)
    with pytest.raises(StoreError):
        door.recognizer.process(FRAME)
    # What the policy stored for a grant that was never made is undone; a refusal
    # stored nothing to undo.
    assert access.withdrawn == ([YAO.person_id] if withdrawn else [])
    (decision,) = door.decisions(door.run(1))
    assert decision.refusal is answer
    assert access.asked == [YAO.person_id, YAO.person_id]
    assert access.withdrawn == ([YAO.person_id] if withdrawn else [])


def test_busy_rules_decide_nothing_and_open_no_offline_window_for_the_next_person() -> None:
    access = ScriptedAccess([StoreBusy("lock wait on the area's presence"), None, None])
    door = make_door([(face(),)] * 6 + [(face(x=300),)] * 3, [match(YAO)] * 6 + [match(ADA)] * 3)
    door.recognizer._access = access
    door.run(2)
    with pytest.raises(StoreBusy):
        door.recognizer.process(FRAME)
    assert door.identifier.recorded == []  # slow is not gone: nothing decided
    # Matched afresh, never let in later on the match of the frame that met the busy rules.
    (granted,) = door.decisions(door.run(3))
    assert granted.person_id == YAO.person_id
    assert granted.granted
    (next_person,) = door.decisions(door.run(3))  # searched, not refused as offline
    assert next_person.person_id == ADA.person_id
    assert next_person.granted


def test_a_decision_whose_record_fails_for_any_reason_is_not_made_nor_counted() -> None:
    access = ScriptedAccess([None, None])
    security = SecuritySettings(recognition_max_denied=2)
    door = make_door([(face(),)] * 4, [], access=access, security=security)
    door.identifier = FailingOnce([match(YAO)] * 4, error=RuntimeError("a bug in the log"))
    door.recognizer._identifier = door.identifier
    door.run(2)
    with pytest.raises(RuntimeError):
        door.recognizer.process(FRAME)
    assert access.withdrawn == [YAO.person_id]  # the presence the grant stored is undone
    (decision,) = door.decisions(door.run(1))  # decided afresh, not held as decided
    assert decision.granted
    assert door.identifier.recorded == [decision]


def test_strangers_whose_decisions_cannot_be_kept_do_not_pause_the_door() -> None:
    security = SecuritySettings(recognition_max_denied=2)
    door = make_door([(face(),)] * 6, [], security=security)

    class SpoolFull(FakeIdentifier):
        def record(self, decision: AccessDecision) -> None:
            raise StoreError("no space left for the spool")

    door.identifier = SpoolFull([below(ADA)] * 6)
    door.recognizer._identifier = door.identifier
    door.run(2)
    for _ in range(4):  # a refusal each frame, none kept: none counted
        with pytest.raises(StoreError):
            door.recognizer.process(FRAME)
    assert door.identifier.searches == 6  # never RecognitionPaused


def test_a_passed_liveness_met_by_busy_rules_is_challenged_again_not_granted_later() -> None:
    access = ScriptedAccess([StoreBusy("lock wait on the area's presence"), None])
    script = [LivenessVerdict.PASSED, LivenessVerdict.PASSED]
    liveness = ScriptedLiveness(script)
    door = make_door([(face(),)] * 8, [match(YAO)] * 6, liveness=liveness, access=access)
    door.run(3)  # matched: challenged
    with pytest.raises(StoreBusy):
        door.recognizer.process(FRAME)  # the challenge passed; the rules are busy
    assert door.identifier.recorded == []
    outcomes = door.run(4)  # matched again in three frames, then challenged again
    assert [o.decision for o in outcomes[:3]] == [None, None, None]
    (granted,) = door.decisions(outcomes)
    assert granted.granted
    assert len(liveness.observed) == 2  # the second grant met a challenge of its own


def test_decisions_offered_after_or_while_the_relay_closes_are_counted_never_lost_unsaid() -> None:
    heard: list[AccessDecision] = []

    class Quick:
        def consume(self, decision: AccessDecision) -> None:
            heard.append(decision)

    relay = DecisionRelay([("quick", Quick())], 10_000)
    racing = threading.Thread(
        target=lambda: [
            relay.consume(
                AccessDecision(kiosk_id="k", outcome=AccessOutcome.UNKNOWN, latency_ms=1.0)
            )
            for _ in range(3000)
        ]
    )
    racing.start()
    relay.close(timeout_s=5)
    racing.join(10)
    relay.consume(AccessDecision(kiosk_id="k", outcome=AccessOutcome.UNKNOWN, latency_ms=1.0))
    counts = relay.counts["quick"]
    assert counts.consumed == len(heard)
    assert counts.consumed + counts.dropped == 3001
