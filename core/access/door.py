"""The kiosk's recognition policy over a stream of camera frames.

Pure of Qt: the recognition worker thread calls ``DoorRecognizer.process``
with each newest frame and shows what comes back. The door depends only on the
small protocols of core.access.door_protocols (named here too), so every path
runs in a test with fakes.
"""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np

from core.access.door_pin import (
    PIN_ABANDONED_TEXT,
    PIN_LOCKED_TEXT,
    PIN_TIMEOUT_TEXT,
    PIN_UNCHECKED_TEXT,
    PinRequest,
    PinVerdict,
)
from core.access.door_protocols import (
    AccessPolicy,
    DecisionConsumer,
    FaceFinder,
    Identifier,
    LivenessChallenge,
    PinChecker,
)
from core.access.frame_outcome import FrameNotes, FrameOutcome, FrameTimings, Guidance, PinPrompt
from core.access.liveness import Observation, face_patch
from core.access.liveness import Verdict as LivenessVerdict
from core.access.positioning import blocking_guidance
from core.access.recognition_throttle import RecognitionThrottle
from core.access.tracking import ConsecutiveVotes, FaceTracker, Verdict
from core.errors import StoreBusy, StoreError
from core.faces import BGRImage, DetectedFace, Embedding
from core.records import (
    AccessOutcome,
    Candidate,
    Refusal,
    access_decision,
)
from core.settings import DoorSettings, QualitySettings

log = logging.getLogger(__name__)

# A decision on a typed PIN is made between frames, on no camera image.
_NO_IMAGE: BGRImage = np.zeros((0, 0, 3), np.uint8)


class DoorRecognizer:
    """One decision per person in front of the door.

    Follows the largest face; searches the gallery on each frame until
    ``frames_to_confirm`` frames agree (or refuse), then records one decision
    and stops searching for that face until it leaves.

    When the gallery cannot be searched (the database is unreachable) the face
    is denied at once as offline, and the next ``offline_retry_s`` seconds'
    faces too without trying the database again: a dead server must not hold
    each person at the door for a connection timeout.

    With liveness on, a confirmed match is not yet a grant: the same tracked
    face must meet a random challenge (core.access.liveness) first, each frame
    still the matched person; a failed or abandoned challenge is denied.

    At a face_and_pin door a person the rules allow is not yet granted either:
    the door asks for their PIN (each frame's outcome carries a PinPrompt) and
    goes on tracking the face without searching. The PIN, typed on the screen,
    comes back through ``enter_pin``, so the recognition thread never waits on
    a person typing. The face leaving, or ``pin_timeout_s`` passing, refuses
    them (pin_wrong, with the reason); one PIN per recognition.

    Not thread-safe: owned by the kiosk's one recognition thread.
    """

    def __init__(
        self,
        *,
        faces: FaceFinder,
        identifier: Identifier,
        door: DoorSettings,
        quality: QualitySettings,
        throttle: RecognitionThrottle,
        liveness: Callable[[], LivenessChallenge] | None = None,
        access: AccessPolicy | None = None,
        pins: PinChecker | None = None,
        consumers: Sequence[DecisionConsumer] = (),
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        """``liveness`` starts a challenge for each confirmed match (None: liveness
        off, a match is a grant); ``access`` has the last word on a recognised
        person (None: everyone recognised passes); ``pins`` checks the PIN where
        ``access`` asks for one (None: such a door refuses); ``consumers`` are told
        of each decision."""
        self._faces = faces
        self._identifier = identifier
        self._door = door
        self._quality = quality
        self._throttle = throttle
        self._liveness = liveness
        self._access = access
        self._pins = pins
        self._consumers = tuple(consumers)
        self._clock = clock
        self._track_started = 0.0
        self._offline_until = 0.0
        self._challenge: _Challenge | None = None
        self._pin: PinRequest | None = None
        self._pin_numbers = itertools.count(1)
        self.consumer_failures = 0
        """Consumers that raised; each is logged, none stops the door."""
        self.forget()

    def forget(self) -> None:
        """Start afresh: whoever is in front of the door is decided again.

        Called when the door resumes after operators used the screen, in which
        time someone may have been enrolled, deleted or changed."""
        self._tracker = FaceTracker(self._door.track_min_overlap, self._door.track_max_missed)
        self._start_track(0.0)

    def process(self, frame: BGRImage) -> FrameOutcome:
        """Raises RecognitionPaused while the throttle's cooldown lasts, and StoreBusy
        when the database is slow (nothing decided: the next frame tries again)."""
        started = self._clock()
        faces = tuple(self._faces.detect(frame))
        detected = self._clock()
        timings = FrameTimings(detect_ms=(detected - started) * 1000)
        largest = max(faces, key=lambda face: face.area) if faces else None
        seen = FrameNotes(frame, faces, largest, timings)
        new_track = self._tracker.update(largest)
        if self._challenge is not None and (new_track or self._tracker.track_id is None):
            # The challenged face left, or another took its place: denied, and said so.
            shown = self._challenge.match
            abandoned = self._decide(seen, AccessOutcome.LIVENESS_FAILED, shown, shown.similarity)
            self._start_track(started)
            return abandoned
        if self._pin is not None:
            return self._awaiting_pin(seen, started, new_track)
        if new_track:
            self._start_track(started)
        if largest is None or self._decided:
            # A face already decided is neither embedded nor searched again.
            return seen.outcome()
        guidance = blocking_guidance(faces, largest, self._door)
        if guidance is not None:
            return seen.outcome(guidance=guidance)
        if self._challenge is not None:
            return self._challenged(seen, largest, detected)
        if started < self._offline_until:
            return self._decide(seen, AccessOutcome.OFFLINE)
        self._throttle.check()
        sample = self._faces.sample(frame, largest)
        embedded = self._clock()
        try:
            match = self._identifier.search(sample)
        except StoreBusy:
            raise
        except StoreError as error:
            self._offline_after(error)
            return self._decide(seen, AccessOutcome.OFFLINE)
        searched = self._clock()
        seen.timings = replace(
            timings, embed_ms=(embedded - detected) * 1000, search_ms=(searched - embedded) * 1000
        )
        seen.searched = True
        confirmation = self._votes.add(match)
        if confirmation.verdict is Verdict.PENDING:
            turned = abs(sample.measurements.yaw) > self._quality.max_yaw
            return seen.outcome(guidance=Guidance.LOOK_AT_CAMERA if turned else None)
        best = match.best
        similarity = best.similarity if best is not None else None
        if confirmation.verdict is Verdict.DENIED:
            return self._decide(seen, AccessOutcome.UNKNOWN, None, similarity)
        assert match.matched is not None
        if self._liveness is not None:
            check = self._liveness()
            self._challenge = _Challenge(check, match.matched, sample.embedding)
            return seen.outcome(liveness=check.state)
        return self._decide(seen, AccessOutcome.GRANTED, match.matched, similarity)

    def _challenged(self, seen: FrameNotes, largest: DetectedFace, detected: float) -> FrameOutcome:
        """One frame of the liveness challenge: no search, the same person checked
        against the matched template, the landmarks read."""
        assert self._challenge is not None
        sample = self._faces.sample(seen.frame, largest)
        observation = Observation(
            self._faces.landmarks_106(seen.frame, largest),
            face_patch(seen.frame, largest),
            float(np.dot(sample.embedding, self._challenge.embedding)),
        )
        state = self._challenge.check.observe(observation)
        seen.timings = replace(seen.timings, embed_ms=(self._clock() - detected) * 1000)
        seen.liveness = state
        if state.verdict is LivenessVerdict.PENDING:
            return seen.outcome()
        passed = state.verdict is LivenessVerdict.PASSED
        outcome = AccessOutcome.GRANTED if passed else AccessOutcome.LIVENESS_FAILED
        shown = self._challenge.match
        return self._decide(seen, outcome, shown, shown.similarity)

    def enter_pin(self, request: int, pin: str) -> FrameOutcome | None:
        """The PIN typed for PIN request ``request``: checked, then the person decided.

        None, checking nothing, when that request no longer waits (the face left,
        the time ran out, another person is asked now): a PIN is never checked
        against anyone but the person it was typed for. A right PIN or the duress
        PIN meets the rules again (a lockdown may have begun while they typed).
        Raises StoreError, as ``process`` does, when the decision cannot be kept."""
        waiting = self._pin
        if waiting is None or waiting.number != request:
            return None
        seen = FrameNotes(_NO_IMAGE, (), waiting.face, FrameTimings())
        if self._clock() >= waiting.deadline:
            return self._pin_refused(seen, waiting, PIN_TIMEOUT_TEXT)
        assert self._pins is not None  # asked only with a checker
        person = waiting.match.person_id
        try:
            verdict = self._pins.verify(person, pin)
        except StoreError as error:
            self._offline_after(error)
            return self._record(seen, AccessOutcome.OFFLINE, waiting.match, waiting.similarity)
        if verdict is PinVerdict.WRONG:
            return self._pin_refused(seen, waiting, None)
        if verdict is PinVerdict.LOCKED:
            return self._pin_refused(seen, waiting, PIN_LOCKED_TEXT)
        duress = verdict is PinVerdict.DURESS
        outcome, refusal = AccessOutcome.GRANTED, None
        if self._access is not None:
            try:
                refusal = self._access.admit(person, pin_checked=True).refusal
            except StoreError as error:
                # The PIN was typed once and the keypad is gone: the person gets an
                # answer now (and a duress PIN its alarm), even when the database is
                # only slow.
                self._offline_after(error)
                outcome = AccessOutcome.OFFLINE
        if refusal is not None:
            outcome = AccessOutcome.REFUSED
        return self._record(
            seen, outcome, waiting.match, waiting.similarity, refusal, duress=duress
        )

    def _awaiting_pin(self, seen: FrameNotes, started: float, new_track: bool) -> FrameOutcome:
        """A frame while the door waits for the PIN: nothing searched. The face
        leaving, or the time running out, refuses the person."""
        waiting = self._pin
        assert waiting is not None
        if new_track or self._tracker.track_id is None:
            left = self._pin_refused(seen, waiting, PIN_ABANDONED_TEXT)
            self._start_track(started)
            return left
        if started >= waiting.deadline:
            return self._pin_refused(seen, waiting, PIN_TIMEOUT_TEXT)
        return seen.outcome(pin=PinPrompt(waiting.number, waiting.deadline - started))

    def _ask_pin(
        self, seen: FrameNotes, match: Candidate, similarity: float | None
    ) -> FrameOutcome:
        self._challenge = None
        if self._pins is None:  # nothing here can check a PIN: the door stays closed
            self._pin = PinRequest(0, match, similarity, 0.0, seen.largest)
            return self._pin_refused(seen, self._pin, PIN_UNCHECKED_TEXT)
        deadline = self._clock() + self._door.pin_timeout_s
        self._pin = PinRequest(next(self._pin_numbers), match, similarity, deadline, seen.largest)
        return seen.outcome(pin=PinPrompt(self._pin.number, self._door.pin_timeout_s))

    def _pin_refused(
        self, seen: FrameNotes, waiting: PinRequest, reason: str | None
    ) -> FrameOutcome:
        return self._record(
            seen,
            AccessOutcome.REFUSED,
            waiting.match,
            waiting.similarity,
            Refusal.PIN_WRONG,
            reason=reason,
        )

    def _decide(
        self,
        seen: FrameNotes,
        outcome: AccessOutcome,
        match: Candidate | None = None,
        similarity: float | None = None,
    ) -> FrameOutcome:
        """The one place a face is decided. A failed liveness check keeps whose face
        was shown: the security team wants to know. A recognised person passes only
        if the access policy agrees; a policy that cannot be read keeps the door
        closed. Where the door asks for a PIN, an allowed person is asked for it
        instead, and decided when it comes (``enter_pin``) or does not."""
        refusal: Refusal | None = None
        if outcome is AccessOutcome.GRANTED and self._access is not None:
            assert match is not None
            try:
                admission = self._access.admit(match.person_id)
            except StoreBusy:
                # Slow, not gone (a lock wait, a statement timeout): nothing decided and
                # no offline window for everyone. The face is matched (and challenged)
                # afresh, never let in later on this frame's match alone.
                self._restart_confirmation()
                raise
            except StoreError as error:
                self._offline_after(error)
                outcome = AccessOutcome.OFFLINE
            else:
                refusal = admission.refusal
                if refusal is not None:
                    outcome = AccessOutcome.REFUSED
                elif admission.pin_required:
                    return self._ask_pin(seen, match, similarity)
        return self._record(seen, outcome, match, similarity, refusal)

    def _record(
        self,
        seen: FrameNotes,
        outcome: AccessOutcome,
        match: Candidate | None = None,
        similarity: float | None = None,
        refusal: Refusal | None = None,
        *,
        reason: str | None = None,
        duress: bool = False,
    ) -> FrameOutcome:
        """The one place a decision is made: recorded, counted by the throttle, and
        handed to each consumer. ``reason`` replaces the refusal's usual words;
        ``duress`` raises the silent alarm first, so it goes out even if the
        decision cannot be kept."""
        decided = self._clock()
        decision = access_decision(
            kiosk_id=self._identifier.kiosk_id,
            outcome=outcome,
            latency_ms=(decided - self._track_started) * 1000,
            match=match,
            similarity=similarity,
            timings=seen.stage_timings(),
            refusal=refusal,
            reason=reason,
            duress=duress,
        )
        self._decided = True
        self._challenge = None
        self._pin = None
        if duress and self._pins is not None:
            self._pins.raise_duress(decision)
        try:
            self._identifier.record(decision)
        except Exception:
            # Not kept, so not made: nobody is let in on a decision with no record,
            # the throttle does not count it, and the next frame decides this face afresh.
            self._decided = False
            if decision.granted and decision.person_id is not None and self._access is not None:
                self._access.withdraw(decision.person_id)
            raise
        if outcome is not AccessOutcome.OFFLINE:
            # A refused person was recognised: no probing for the throttle to slow.
            recognised = outcome in (AccessOutcome.GRANTED, AccessOutcome.REFUSED)
            self._throttle.record(granted=recognised)
        seen.timings = replace(seen.timings, record_ms=(self._clock() - decided) * 1000)
        for consumer in self._consumers:
            try:
                consumer.consume(decision)
            except Exception:  # a consumer's fault must never stop the door
                self.consumer_failures += 1
                log.exception("a decision consumer failed on %s", decision.event_id)
        return seen.outcome(decision=decision)

    def _start_track(self, started: float) -> None:
        self._restart_confirmation()
        self._decided = False
        self._pin = None
        self._track_started = started

    def _restart_confirmation(self) -> None:
        self._votes = ConsecutiveVotes(self._door.frames_to_confirm)
        self._challenge = None

    def _offline_after(self, error: StoreError) -> None:
        """A slow database (StoreBusy) refuses this person only; one that cannot be
        reached refuses everyone, unsearched, for offline_retry_s."""
        if not isinstance(error, StoreBusy):
            self._offline_until = self._clock() + self._door.offline_retry_s


@dataclass(frozen=True)
class _Challenge:
    check: LivenessChallenge
    match: Candidate
    embedding: Embedding
    """The matched frame's template: every challenged frame must stay this person."""
