"""Warp a face onto the 112x112 template that ArcFace models were trained on."""

from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt

from core.faces import BGRImage, Landmarks

ALIGNED_SIZE = 112

# InsightFace's reference positions of the five landmarks in a 112x112 crop.
ARCFACE_TEMPLATE = np.array(
    [
        [38.2946, 51.6963],
        [73.5318, 51.5014],
        [56.0252, 71.7366],
        [41.5493, 92.3655],
        [70.7299, 92.2041],
    ],
    dtype=np.float64,
)


def alignment_matrix(landmarks: Landmarks) -> npt.NDArray[np.float64]:
    """The 2x3 matrix taking image pixels to the 112x112 aligned face."""
    return similarity_transform(landmarks.astype(np.float64), ARCFACE_TEMPLATE)


def align_face(image: BGRImage, landmarks: Landmarks) -> BGRImage:
    # Black where the crop reaches past the picture, as InsightFace's norm_crop does:
    # the templates of every enrolled person were made so.
    matrix = alignment_matrix(landmarks)
    aligned = cv2.warpAffine(image, matrix, (ALIGNED_SIZE, ALIGNED_SIZE), borderValue=0.0)
    return np.ascontiguousarray(aligned, dtype=np.uint8)


# The aligned crop's pixel centres, made once: the door embeds a face on every frame.
_ROWS, _COLUMNS = np.mgrid[0:ALIGNED_SIZE, 0:ALIGNED_SIZE].astype(np.float32)


def picture_mask(matrix: npt.NDArray[np.float64], height: int, width: int) -> npt.NDArray[np.bool_]:
    """ALIGNED_SIZE x ALIGNED_SIZE: True where the aligned pixel comes from inside a
    ``height`` x ``width`` picture, False where ``align_face`` filled it in black."""
    inverse = cv2.invertAffineTransform(matrix).astype(np.float32)
    source_x = inverse[0, 0] * _COLUMNS + inverse[0, 1] * _ROWS + inverse[0, 2]
    source_y = inverse[1, 0] * _COLUMNS + inverse[1, 1] * _ROWS + inverse[1, 2]
    # Half a pixel of grace: warpAffine interpolates up to the border pixels' centres.
    return (
        (source_x >= -0.5)
        & (source_x <= width - 0.5)
        & (source_y >= -0.5)
        & (source_y <= height - 0.5)
    )


def similarity_transform(
    source: npt.NDArray[np.float64], target: npt.NDArray[np.float64]
) -> npt.NDArray[np.float64]:
    """Least-squares rotation, uniform scale and shift from source to target (Umeyama 1991).

    Returns the 2x3 matrix for ``cv2.warpAffine``; the same estimate that
    InsightFace's ``norm_crop`` obtains through scikit-image.
    """
    source_mean = source.mean(axis=0)
    target_mean = target.mean(axis=0)
    source_centered = source - source_mean
    target_centered = target - target_mean
    covariance = target_centered.T @ source_centered / len(source)
    u, singular, vt = np.linalg.svd(covariance)
    reflection = np.eye(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        reflection[1, 1] = -1.0
    rotation = u @ reflection @ vt
    variance = source_centered.var(axis=0).sum()
    scale = float(np.trace(np.diag(singular) @ reflection) / variance) if variance > 0 else 1.0
    shift = target_mean - scale * rotation @ source_mean
    return np.hstack([scale * rotation, shift[:, None]])
