"""Where the person in front of the door stands: the guidance that stops a frame
being searched at all (too far away, or not alone)."""

from __future__ import annotations

from core.access.frame_outcome import Guidance
from core.faces import DetectedFace
from core.settings import DoorSettings


def blocking_guidance(
    faces: tuple[DetectedFace, ...], largest: DetectedFace, door: DoorSettings
) -> Guidance | None:
    """Why this frame is not searched, or None to search it. ``largest`` is one of
    ``faces``; sizes are in pixels of the frame."""
    # Below it a match is not reliable (door.min_face_px, measured by kiosk-bench).
    if largest.short_side < door.min_face_px:
        return Guidance.COME_CLOSER
    crowd = [
        face
        for face in faces
        if face is not largest and face.area >= door.crowd_area_ratio * largest.area
    ]
    return Guidance.ONE_AT_A_TIME if crowd else None
