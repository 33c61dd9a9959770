"""With the OSDP reader on, the operator enrolling someone whose badge the door
controller cannot know is told so: kiosk-admin enroll and the wizard's review."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pytest
from pytestqt.qtbot import QtBot

from core.enrollment.capture import CapturedEnrollment
from core.enrollment.consent import current_consent
from core.faces import DetectedFace
from core.osdp_settings import OsdpSettings
from kiosk.enrollment_wizard import EnrollmentWizard
from tests.cli_fixtures import as_json

OSDP_ON = '[osdp]\nenabled = true\nserial_port = "/dev/ttyUSB0"\nfacility_code = 12\n'


@pytest.mark.slow  # kiosk-admin loads the models
def test_kiosk_admin_enroll_warns_of_a_person_without_a_badge_when_osdp_is_on(
    admin_cli, tmp_path: Path, yaoming_jpg: Path, photos: Path
) -> None:
    (tmp_path / "kiosk.toml").write_text(OSDP_ON)
    enrolled = as_json(
        admin_cli(
            "enroll", "--name", "Yao Ming", "--image", yaoming_jpg, "--consent",
            "--operator", "alice", "--json",
        )
    )  # fmt: skip
    assert "no badge number" in enrolled["warning"]
    assert "controller" in enrolled["warning"]


def _captured() -> CapturedEnrollment:
    frame = np.full((240, 320, 3), 90, dtype=np.uint8)
    landmarks = np.array(
        [[130, 100], [190, 100], [160, 130], [138, 160], [182, 160]], dtype=np.float32
    )
    return CapturedEnrollment((frame,), (DetectedFace((100, 60, 220, 200), landmarks, 0.9),))


@pytest.mark.parametrize(
    ("osdp", "badge", "warned"),
    [
        (OsdpSettings(enabled=True, serial_port="/dev/ttyUSB0"), "", "no badge number"),
        (OsdpSettings(enabled=True, serial_port="/dev/ttyUSB0"), "70000", "above 65535"),
        (OsdpSettings(enabled=True, serial_port="/dev/ttyUSB0"), "7041", None),
        (OsdpSettings(), "", None),
    ],
)
def test_the_wizards_review_warns_of_a_badge_the_controller_cannot_know(
    qtbot: QtBot, osdp: OsdpSettings, badge: str, warned: str | None
) -> None:
    wizard = EnrollmentWizard(current_consent(), "alice", today=date.today, osdp=osdp)
    qtbot.addWidget(wizard)
    wizard.name.setText("Grace Example")
    wizard.badge.setText(badge)
    wizard.steps.setCurrentWidget(wizard.capture_page)
    wizard.show_captured(_captured())
    summary = wizard.summary.text()
    if warned is None:
        assert "Warning" not in summary
    else:
        assert "<b>Warning:</b>" in summary
        assert warned in summary
