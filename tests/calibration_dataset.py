"""A small labelled dataset built from the package photos, for calibration tests.

Identities are faces cut from the group photos; each gets genuine variants by
augmentation (blur, rotation, scale, JPEG quality, brightness). Nothing is
committed: the folder is written under pytest's temporary directory.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from core.faces import BGRImage
from core.vision.engine import FaceEngine


def variants(face: BGRImage) -> dict[str, BGRImage]:
    height, width = face.shape[:2]
    turn = cv2.getRotationMatrix2D((width / 2, height / 2), 8, 1.0)
    ok, jpeg = cv2.imencode(".jpg", face, [cv2.IMWRITE_JPEG_QUALITY, 25])
    assert ok
    return {
        "original": face,
        "blur": cv2.GaussianBlur(face, (0, 0), 1.2),
        "rotated": cv2.warpAffine(face, turn, (width, height), borderMode=cv2.BORDER_REFLECT),
        "smaller": cv2.resize(face, None, fx=0.8, fy=0.8),
        "jpeg": cv2.imdecode(jpeg, cv2.IMREAD_COLOR),
        "darker": np.clip(face * 0.75, 0, 255).astype(np.uint8),
        "brighter": np.clip(face * 1.2 + 10, 0, 255).astype(np.uint8),
    }


def face_crops(
    engine: FaceEngine, group: BGRImage, scale: float, margin: float = 0.6
) -> list[BGRImage]:
    """Each face of a group photo with ``margin`` (a share of its width) around it, scaled."""
    crops = []
    for face in engine.detect(group):
        x1, y1, x2, y2 = (int(v) for v in face.box)
        pad = int(margin * (x2 - x1))
        crop = group[max(0, y1 - pad) : y2 + pad, max(0, x1 - pad) : x2 + pad]
        crops.append(np.ascontiguousarray(cv2.resize(crop, None, fx=scale, fy=scale)))
    return crops


@pytest.fixture(scope="session")
def calibration_dataset(
    tmp_path_factory: pytest.TempPathFactory,
    face_engine: FaceEngine,
    t1_jpg: Path,
    gdp_jpg: Path,
    players_jpg: Path,
) -> Path:
    root = tmp_path_factory.mktemp("calibration") / "people"
    sources = {"t1": (t1_jpg, 2.0), "gdp": (gdp_jpg, 2.0), "players": (players_jpg, 3.0)}
    for name, (photo, scale) in sources.items():
        group = cv2.imread(str(photo))
        for number, crop in enumerate(face_crops(face_engine, group, scale)):
            folder = root / f"{name}_{number:02d}"
            folder.mkdir(parents=True)
            for variant, image in variants(crop).items():
                cv2.imwrite(str(folder / f"{variant}.png"), image)
    # Failures to acquire are counted, not dropped.
    (root / "t1_00" / "unreadable.jpg").write_text("not an image\n")
    empty = np.full((200, 200, 3), 128, dtype=np.uint8)
    cv2.imwrite(str(root / "t1_01" / "no_face.png"), empty)
    return root
