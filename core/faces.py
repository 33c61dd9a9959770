"""What the engine finds in a frame."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

BGRImage = npt.NDArray[np.uint8]
Embedding = npt.NDArray[np.float32]
Landmarks = npt.NDArray[np.float32]
"""Five points, (x, y) each: left eye, right eye, nose tip, left and right mouth corner."""
Points106 = npt.NDArray[np.float32]
"""106 (x, y) landmarks in image pixels, in InsightFace 2d106det's order."""


@dataclass(frozen=True)
class DetectedFace:
    box: tuple[float, float, float, float]  # x1, y1, x2, y2 in image pixels
    landmarks: Landmarks
    score: float

    @property
    def width(self) -> float:
        return self.box[2] - self.box[0]

    @property
    def height(self) -> float:
        return self.box[3] - self.box[1]

    @property
    def short_side(self) -> float:
        return min(self.width, self.height)

    @property
    def area(self) -> float:
        return max(self.width, 0.0) * max(self.height, 0.0)
