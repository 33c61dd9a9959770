"""The one place a door is put together from an engine, a store and the settings."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from functools import partial

from core.access.door import AccessPolicy, DecisionConsumer, DoorRecognizer, PinChecker
from core.access.identification import IdentificationService
from core.access.liveness import LivenessCheck
from core.access.recognition_throttle import RecognitionThrottle
from core.settings import LivenessMode, Settings
from core.store import AccessEventSink, IdentityStore
from core.vision.engine import FaceEngine


def build_door(
    *,
    engine: FaceEngine,
    store: IdentityStore,
    settings: Settings,
    events: AccessEventSink | None = None,
    access: AccessPolicy | None = None,
    pins: PinChecker | None = None,
    consumers: Sequence[DecisionConsumer] = (),
    clock: Callable[[], float] = time.perf_counter,
    throttle_clock: Callable[[], float] = time.monotonic,
    rng: random.Random | None = None,
) -> DoorRecognizer:
    """A door for ``settings.kiosk_id``: the gallery in ``store``, its decisions kept
    by ``events`` (the store itself unless given) and then handed to ``consumers``;
    ``access`` (core.access.door_access.DoorAccess) decides who recognised may pass
    (None: everyone recognised); ``pins`` (core.access.door_pin.DoorPins) checks the
    PIN at a face_and_pin door."""
    challenges = random.SystemRandom() if rng is None else rng
    liveness = (
        None
        if settings.liveness.mode is LivenessMode.OFF
        else partial(LivenessCheck, settings.liveness, challenges, clock)
    )
    identifier = IdentificationService(
        engine, store, settings.matching, settings.kiosk_id, events=events
    )
    return DoorRecognizer(
        faces=engine,
        identifier=identifier,
        door=settings.door,
        quality=settings.quality,
        throttle=RecognitionThrottle(settings.security, throttle_clock),
        liveness=liveness,
        access=access,
        pins=pins,
        consumers=consumers,
        clock=clock,
    )
