"""The smallest face the door can match reliably, measured on the package photos.

Each package face at least ``MIN_NATIVE_PX`` wide (yaoming.jpg's and t1.jpg's: seven
people) gives its full-size template, from the photo as ``kiosk-admin enroll`` reads it.
The gallery is those templates and the other distinct faces of the package photos
(gdp.jpg's). For each face size, every face is cut out with a margin of one face width,
scaled so that its box's shorter side has that size and put into a 640x480 grey frame
at a random place, with a random sub-pixel shift, camera noise and JPEG compression:
one trial. The trial runs the door's own steps on the frame (detection at
``models.camera_detector_input_size``, alignment, embedding) and the match rule against
the gallery (threshold and margin over the second-best person, MatchSettings' defaults).

A trial is a reliable match when the match rule picks the right person and the
similarity to their full-size template is at least the threshold plus the margin: a
match with room to spare. A size is reliable when at least ``RELIABLE_SHARE`` of the
trials whose face was found are reliable matches and none matched another person
(a face the detector does not find is never searched, whatever the minimum). The door's minimum
(``DoorSettings.min_face_px``) is the smallest size from which every larger size
measured is reliable. Sizes above a face's own are upscaled, and add no detail: they
show that the figure levels off, not that larger faces do better.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from bench.photos import FRAME_SIZE, package_photo
from bench.report import table
from core.faces import BGRImage, DetectedFace, Embedding
from core.match_settings import MatchSettings
from core.matching.match_rule import decide
from core.records import Candidate
from core.settings import ImageLimits
from core.vision.engine import FaceEngine
from core.vision.imagefile import read_image_file

PROBE_PHOTOS = ("yaoming.jpg", "t1.jpg")
OTHER_PHOTOS = ("gdp.jpg",)
MIN_NATIVE_PX = 90
"""A probe's own face is at least this wide: its full-size template is a good one."""
MIN_GALLERY_PX = 50
"""Other faces of the package photos big enough to stand as other enrolled people."""
RELIABLE_SHARE = 0.99
ENOUGH_TRIALS = 300
"""Trials per size that can tell 99 % from less (the rule of three: 3/300 = 1 %)."""
SIZES = tuple(range(20, 121, 4))
GREY = 96


@dataclass(frozen=True)
class SizeRow:
    size_px: int
    trials: int
    found: int
    """Trials in which the detector found the face."""
    matched: int
    """Found and matched to the right person."""
    sure: int
    """Matched with a similarity of at least the threshold plus the margin."""
    wrong: int
    """Found and matched to another person."""
    mean_similarity: float
    """To the right person's full-size template, over the found trials."""
    low_similarity: float
    """The 1st percentile of that similarity."""

    @property
    def match_share(self) -> float:
        return self.matched / self.found if self.found else 0.0

    @property
    def sure_share(self) -> float:
        return self.sure / self.found if self.found else 0.0

    @property
    def reliable(self) -> bool:
        return self.found > 0 and self.wrong == 0 and self.sure_share >= RELIABLE_SHARE


@dataclass(frozen=True)
class FaceSizeResult:
    people: int
    gallery: int
    threshold: float
    margin: float
    rows: list[SizeRow]

    @property
    def enough_trials(self) -> bool:
        return all(row.trials >= ENOUGH_TRIALS for row in self.rows)

    @property
    def minimum_px(self) -> int | None:
        """The smallest size from which every larger size measured is reliable."""
        minimum = None
        for row in reversed(self.rows):
            if not row.reliable:
                break
            minimum = row.size_px
        return minimum


@dataclass(frozen=True)
class _Probe:
    person: uuid.UUID
    photo: BGRImage
    face: DetectedFace


def run(
    photo_engine: FaceEngine,
    door_engine: FaceEngine,
    trials_per_face: int,
    progress: Callable[[str], None],
    sizes: tuple[int, ...] = SIZES,
    matching: MatchSettings | None = None,
    seed: int = 2027,
) -> FaceSizeResult:
    """``photo_engine`` reads the photos as enrollment does; ``door_engine`` is the
    door's (camera detector size). ``trials_per_face`` per face and size."""
    matching = matching or MatchSettings()
    probes, gallery = _probes_and_gallery(photo_engine, matching)
    generator = random.Random(seed)
    rows = []
    for size in sizes:
        similarities: list[float] = []
        found = matched = sure = wrong = 0
        for probe in probes:
            for _ in range(trials_per_face):
                embedding = _door_template(door_engine, _trial_frame(probe, size, generator))
                if embedding is None:
                    continue
                found += 1
                candidates = [
                    Candidate(person, "", float(np.dot(template, embedding)))
                    for person, template in gallery.items()
                ]
                own = next(c for c in candidates if c.person_id == probe.person)
                similarities.append(own.similarity)
                best = decide(candidates, matching).matched
                if best is not None:
                    right = best.person_id == probe.person
                    matched += right
                    sure += right and own.similarity >= matching.threshold + matching.margin
                    wrong += not right
        trials = trials_per_face * len(probes)
        rows.append(
            SizeRow(
                size,
                trials,
                found,
                matched,
                sure,
                wrong,
                float(np.mean(similarities)) if similarities else float("nan"),
                float(np.percentile(similarities, 1)) if similarities else float("nan"),
            )
        )
        progress(f"face size {size} px: {sure}/{found} matched surely, of {trials}")
    return FaceSizeResult(len(probes), len(gallery), matching.threshold, matching.margin, rows)


def _probes_and_gallery(
    engine: FaceEngine, matching: MatchSettings
) -> tuple[list[_Probe], dict[uuid.UUID, Embedding]]:
    probes: list[_Probe] = []
    gallery: dict[uuid.UUID, Embedding] = {}
    for name in PROBE_PHOTOS + OTHER_PHOTOS:
        photo = read_image_file(package_photo(name), ImageLimits())
        for face in engine.detect_photo(photo):
            if face.short_side < MIN_GALLERY_PX:
                continue
            template = engine.sample(photo, face).embedding
            # One person once: a face like one already taken is the same person.
            if any(float(np.dot(t, template)) >= matching.threshold for t in gallery.values()):
                continue
            person = uuid.uuid4()
            gallery[person] = template
            if name in PROBE_PHOTOS and face.short_side >= MIN_NATIVE_PX:
                probes.append(_Probe(person, photo, face))
    return probes, gallery


def _trial_frame(probe: _Probe, size: int, generator: random.Random) -> BGRImage:
    """The probe's face, its box's shorter side ``size`` px, somewhere in a door frame."""
    x1, y1, x2, y2 = probe.face.box
    side = probe.face.short_side
    centre = ((x1 + x2) / 2, (y1 + y2) / 2)
    scale = size / side * generator.uniform(0.97, 1.03)
    width, height = FRAME_SIZE
    # The face with a margin of one face width around it, in the frame's pixels.
    half = 1.5 * max(x2 - x1, y2 - y1) * scale
    place = (
        generator.uniform(half, width - half) if width > 2 * half else width / 2,
        generator.uniform(half, height - half) if height > 2 * half else height / 2,
    )
    shift = (generator.uniform(-0.5, 0.5), generator.uniform(-0.5, 0.5))
    warp = np.array(
        [
            [scale, 0, place[0] + shift[0] - scale * centre[0]],
            [0, scale, place[1] + shift[1] - scale * centre[1]],
        ],
        dtype=np.float64,
    )
    # Area averaging when shrinking, as a camera's sensor does, by a blur first.
    source = probe.photo
    if scale < 1:
        sigma = 0.5 / scale
        source = np.asarray(cv2.GaussianBlur(source, (0, 0), sigmaX=sigma, sigmaY=sigma), np.uint8)
    face = cv2.warpAffine(source, warp, FRAME_SIZE, flags=cv2.INTER_LINEAR)
    inside = cv2.warpAffine(
        np.full(source.shape[:2], 255, np.uint8), warp, FRAME_SIZE, flags=cv2.INTER_NEAREST
    )
    frame = np.full((height, width, 3), GREY, np.uint8)
    # Only the cut-out square around the face: the photo's other faces stay out.
    mask = np.zeros((height, width), np.uint8)
    left, top = round(place[0] - half), round(place[1] - half)
    right, bottom = round(place[0] + half), round(place[1] + half)
    mask[max(top, 0) : max(bottom, 0), max(left, 0) : max(right, 0)] = 255
    mask &= np.asarray(inside, np.uint8)
    frame[mask > 0] = face[mask > 0]
    noisy = frame.astype(np.float32) + np.asarray(
        np.random.default_rng(generator.getrandbits(32)).normal(0, 2.0, frame.shape),
        np.float32,
    )
    frame = np.clip(noisy, 0, 255).astype(np.uint8)
    quality = generator.randint(75, 95)
    ok, encoded = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return np.asarray(cv2.imdecode(encoded, cv2.IMREAD_COLOR), np.uint8)


def _door_template(engine: FaceEngine, frame: BGRImage) -> Embedding | None:
    """The door's template of the frame's largest face, None if no face was found."""
    faces = engine.detect(frame)
    if not faces:
        return None
    return engine.sample(frame, max(faces, key=lambda f: f.area)).embedding


def section(found: FaceSizeResult) -> str:
    """The report's Markdown section."""
    rows = [
        [
            r.size_px,
            r.trials,
            f"{r.found / r.trials:.0%}" if r.trials else "-",
            f"{r.match_share:.1%}",
            f"{r.sure_share:.1%}",
            r.wrong,
            f"{r.mean_similarity:.3f}",
            f"{r.low_similarity:.3f}",
            "yes" if r.reliable else "no",
        ]
        for r in found.rows
    ]
    header = ["face px", "trials", "found", "matched", "sim >= thr + margin", "wrong person"]
    header += ["mean similarity", "1st percentile", "reliable"]
    minimum = found.minimum_px
    verdict = (
        f"**{minimum} px** is the smallest face from which every larger size matched "
        f"the right person with a similarity of at least "
        f"{found.threshold + found.margin:.2f} in at least {RELIABLE_SHARE:.0%} of the "
        "trials whose face was found"
        if minimum is not None
        else "no size measured matched reliably"
    )
    return "\n\n".join(
        [
            "## The smallest face the door matches (package photos scaled down)",
            f"{found.people} package faces of at least {MIN_NATIVE_PX} px, each scaled so "
            "that its box's shorter side is the size given, put into a 640x480 frame at a "
            "random place with sub-pixel shift, camera noise and JPEG compression, and run "
            "through the door's detection (the camera detector size), alignment and "
            f"embedding; matched against a gallery of {found.gallery} full-size templates "
            f"with the match rule (threshold {found.threshold:.2f}, margin "
            f"{found.margin:.2f} over the second-best person). *matched* and *sim >= thr + "
            "margin* are shares of the found trials; a size is reliable when the second "
            f"is at least {RELIABLE_SHARE:.0%} and nobody else matched. Sizes above a "
            "face's own are upscaled.",
            table(header, rows),
            f"{verdict}; the door's `door.min_face_px` is set from it (core/settings.py)."
            + (
                ""
                if found.enough_trials
                else f" Too few trials per size here to tell {RELIABLE_SHARE:.0%} from less "
                f"(at least {ENOUGH_TRIALS} can): a full run decides."
            ),
        ]
    )
