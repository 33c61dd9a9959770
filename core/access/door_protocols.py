"""What the door (core.access.door.DoorRecognizer) depends on: small protocols, so
every path of the door runs in a test with fakes."""

from __future__ import annotations

import uuid
from typing import Protocol

from core.access.door_access import Admission
from core.access.door_pin import PinVerdict
from core.access.liveness import LivenessState, Observation
from core.faces import BGRImage, DetectedFace, Points106
from core.matching.match_rule import MatchDecision
from core.records import AccessDecision
from core.vision.engine import FaceSample


class FaceFinder(Protocol):
    """Faces, templates and landmarks from a frame (core.vision.engine.FaceEngine)."""

    def detect(self, frame: BGRImage) -> list[DetectedFace]: ...

    def sample(self, frame: BGRImage, face: DetectedFace) -> FaceSample: ...

    def landmarks_106(self, frame: BGRImage, face: DetectedFace) -> Points106: ...


class Identifier(Protocol):
    """The 1:N search and the keeping of decisions (core.access.identification)."""

    kiosk_id: str

    def search(self, sample: FaceSample) -> MatchDecision:
        """Raises StoreBusy when the database is slow, StoreError when unreachable."""
        ...

    def record(self, decision: AccessDecision) -> None:
        """Raises StoreError only if the decision could not be kept at all."""
        ...


class LivenessChallenge(Protocol):
    """One liveness attempt on a matched face (core.access.liveness.LivenessCheck)."""

    @property
    def state(self) -> LivenessState: ...

    def observe(self, seen: Observation) -> LivenessState: ...


class AccessPolicy(Protocol):
    """Whether a recognised person may pass now (core.access.door_access.DoorAccess)."""

    def admit(self, person_id: uuid.UUID, *, pin_checked: bool = False) -> Admission:
        """The rule that refuses (None to grant), and whether the door asks for the
        PIN first (``pin_checked``: it was asked, and was right); raises StoreError
        if it cannot tell."""
        ...

    def withdraw(self, person_id: uuid.UUID) -> None:
        """The grant ``admit`` just allowed could not be recorded: undo what it stored
        for it (anti-passback presence). Never raises."""
        ...


class PinChecker(Protocol):
    """The PIN typed at the door (core.access.door_pin.DoorPins)."""

    def verify(self, person_id: uuid.UUID, pin: str) -> PinVerdict:
        """Raises StoreError when the PIN cannot be counted (then nothing was checked)."""
        ...

    def raise_duress(self, decision: AccessDecision) -> None:
        """The silent alarm for a decision made on the duress PIN; never raises."""
        ...


class DecisionConsumer(Protocol):
    """Told of every decision once it is recorded: the log, the metrics, the door
    hardware, the integrations. Runs on the recognition thread, so it must return
    at once: anything slow goes through a core.access.consumers.DecisionRelay."""

    def consume(self, decision: AccessDecision) -> None: ...
