"""The kiosk as an OSDP reader, against libosdp's own control panel (the door
controller) over a pseudo-terminal, secure channel on (tests/osdp_bus.py)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest
from osdp import CardFormat as OsdpCardFormat
from osdp import Event
from sqlalchemy import Engine

from core.access.consumers import DecisionRelay
from core.access.door_builder import build_door
from core.access.reader_status import CardReadResult, NotSent
from core.access.wiegand import wiegand26
from core.enrollment.consent import current_consent
from core.enrollment.enrollment import EnrollmentService
from core.records import Operator, Role
from core.settings import SecuritySettings, Settings
from core.vision.engine import FaceEngine
from osdp_reader.grants import GrantSender
from storage.badges import SqlBadgeBook
from storage.identity_store import SqlIdentityStore
from storage.operator_store import SqlOperatorStore
from tests.osdp_bus import (
    Bus,
    Controller,
    Heard,
    pty_bus,
    reader_settings,
    start_reader,
    write_key,
)


@pytest.fixture
def bus() -> Iterator[Bus]:
    with pty_bus() as made:
        yield made


@pytest.fixture
def key() -> bytes:
    return secrets.token_bytes(16)


@pytest.fixture
def key_file(tmp_path: Path, key: bytes) -> Path:
    return write_key(tmp_path, key)


@pytest.fixture
def controller(bus: Bus, key: bytes) -> Iterator[Controller]:
    panel = Controller(bus, key)
    yield panel
    panel.stop()


def _crop(engine: FaceEngine, image: np.ndarray) -> np.ndarray:
    """The largest face with a margin: one person before the door."""
    face = max(engine.detect(image), key=lambda f: f.area)
    x1, y1, x2, y2 = (int(v) for v in face.box)
    return np.ascontiguousarray(image[max(y1 - 40, 0) : y2 + 40, max(x1 - 40, 0) : x2 + 40])


def test_a_grant_is_one_card_read_with_the_wiegand_bits_and_a_stranger_none(
    bus: Bus,
    key_file: Path,
    controller: Controller,
    face_engine: FaceEngine,
    identity_store: SqlIdentityStore,
    operator_store: SqlOperatorStore,
    db_engine: Engine,
    settings: Settings,
    yaoming_jpg: Path,
    photos: Path,
    gdp_jpg: Path,
) -> None:
    admin: Operator = operator_store.add_first_operator("alice", "bcrypt-sha256$x", Role.ADMIN)
    EnrollmentService(face_engine, identity_store, settings.matching).enroll(
        admin, "Yao Ming", "7041", [("y", cv2.imread(str(yaoming_jpg)))], current_consent(), True
    )
    yao = cv2.imread(str(photos / "yaoming_in_players.jpg"))
    osdp = reader_settings(bus, key_file, facility_code=212)
    heard = Heard()
    reader = start_reader(osdp, heard)
    relay = DecisionRelay([("osdp", GrantSender(reader, SqlBadgeBook(db_engine), osdp))], 16)
    door = build_door(
        engine=face_engine,
        store=identity_store,
        settings=settings.model_copy(
            update={"kiosk_id": "door-1", "security": SecuritySettings(recognition_max_denied=1000)}
        ),
        consumers=[relay],
    )
    try:
        controller.wait_secure()
        heard.wait(lambda: any(link.usable for link in heard.links))
        stranger = _crop(face_engine, cv2.imread(str(gdp_jpg)))
        decisions = [door.process(stranger).decision for _ in range(3)]
        decisions += [door.process(yao).decision for _ in range(5)]
        made = [d for d in decisions if d is not None]
        assert [d.outcome.value for d in made] == ["unknown", "granted"]

        # Events arrive in order: had the stranger made one, it would come first.
        event = controller.next_event()
        assert event is not None
        assert event["event"] == Event.CardRead
        assert event["format"] == OsdpCardFormat.Wiegand
        assert event["length"] == 26
        bits = int.from_bytes(event["data"], "big") >> (len(event["data"]) * 8 - 26)
        text = format(bits, "026b")
        assert int(text[1:9], 2) == 212  # the facility code
        assert int(text[9:25], 2) == 7041  # the card number: the badge
        assert text[:13].count("1") % 2 == 0  # even parity over the first half
        assert text[13:].count("1") % 2 == 1  # odd parity over the second half
        assert text == wiegand26(212, 7041).text()

        relay.close()  # every decision handed over
        heard.wait(lambda: sum(reader.status().card_reads.values()) == 1)
        assert reader.status().card_reads == {CardReadResult.TAKEN: 1}
        assert controller.next_event(timeout_s=0) is None  # exactly one
    finally:
        relay.close()
        reader.stop()


def test_a_card_read_the_controller_did_not_take_in_time_is_never_delivered_late(
    bus: Bus, key: bytes, key_file: Path
) -> None:
    heard = Heard()
    reader = start_reader(reader_settings(bus, key_file, grant_max_age_s=0.5), heard)
    first = Controller(bus, key)
    try:
        first.wait_secure()
        heard.wait(lambda: any(link.usable for link in heard.links))
        first.stop()  # the controller goes; for 8 s the reader cannot know it
        assert reader.send_card(wiegand26(1, 42), age_s=0.0)
        heard.wait(lambda: reader.status().card_reads.get(CardReadResult.WITHDRAWN) == 1)
        second = Controller(bus, key)
        try:
            second.wait_secure()
            assert reader.send_card(wiegand26(1, 43), age_s=0.0)
            event = second.next_event()
            assert event is not None
            assert event["data"] == wiegand26(1, 43).packed()  # not the late 42
        finally:
            second.stop()
    finally:
        reader.stop()
    assert reader.send_card(wiegand26(1, 44), age_s=3.0) is False  # never queued too late
    assert NotSent.CONTROLLER_OFFLINE in heard.not_sent or NotSent.TOO_LATE in heard.not_sent
