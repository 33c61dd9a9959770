"""The People screen's Photos tab (issue 27, item 11): photos from files added to the
chosen person through the same service as kiosk-admin add-photos."""

from __future__ import annotations

from pathlib import Path

import cv2
from pytestqt.qtbot import QtBot
from sqlalchemy import Engine, text

from core.enrollment.consent import current_consent
from core.enrollment.enrollment import EnrollmentService
from core.records import Operator, Role
from core.settings import ImageLimits, Settings
from core.vision.engine import FaceEngine
from core.vision.imagefile import read_image_file
from storage.identity_store import SqlIdentityStore
from tests.conftest import good_stranger
from tests.operator_window import PASSWORDS, logged_in, open_page


def test_an_enroller_adds_photos_to_the_chosen_person_and_a_stranger_is_refused(
    qtbot: QtBot,
    open_window,
    staff: dict[Role, Operator],
    face_engine: FaceEngine,
    identity_store: SqlIdentityStore,
    settings: Settings,
    yaoming_jpg: Path,
    photos: Path,
    t1_jpg: Path,
    tmp_path: Path,
    db_engine: Engine,
) -> None:
    yao = read_image_file(yaoming_jpg, ImageLimits())
    person = (
        EnrollmentService(face_engine, identity_store, settings.matching)
        .enroll(staff[Role.ADMIN], "Yao Ming", None, [("y", yao)], current_consent(), True)
        .person_id
    )
    stranger = tmp_path / "stranger.png"
    cv2.imwrite(str(stranger), good_stranger(face_engine, read_image_file(t1_jpg, ImageLimits())))

    window = open_window()
    mode = logged_in(qtbot, window, "erin", PASSWORDS[Role.ENROLLER])
    open_page(mode, "People")
    page, panel = mode.people_page, mode.add_photos
    assert "Photos" in [page.tabs.tabText(i) for i in range(page.tabs.count())]
    qtbot.waitUntil(lambda: page.results.rowCount() == 1, timeout=10_000)
    assert not panel.add_button.isEnabled()  # no photos chosen yet
    page.results.setCurrentCell(0, 0)
    qtbot.waitUntil(lambda: page.chosen_person == person, timeout=10_000)
    assert panel.open_button is not None
    panel.open_button.click()
    assert page.tabs.currentWidget() is panel
    panel.choose([photos / "yaoming_mirrored.jpg"])
    assert panel.add_button.isEnabled()
    panel.add_button.click()
    qtbot.waitUntil(
        lambda: "Added 1 photo(s): 2 template(s) now" in panel.message.text(), timeout=60_000
    )
    qtbot.waitUntil(lambda: "Templates</td><td>2<" in page.record.detail.text(), timeout=10_000)

    panel.choose([stranger])
    panel.add_button.click()
    qtbot.waitUntil(
        lambda: "does not look like enrolled person" in panel.message.text(), timeout=60_000
    )
    with db_engine.connect() as connection:
        count = connection.scalar(
            text("SELECT count(*) FROM face_templates WHERE person_id = :p"), {"p": person}
        )
    assert count == 2
