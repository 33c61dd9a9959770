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


def align_face(image: BGRImage, landmarks: Landmarks) -> BGRImage:
    matrix = similarity_transform(landmarks.astype(np.float64), ARCFACE_TEMPLATE)
    aligned = cv2.warpAffine(image, matrix, (ALIGNED_SIZE, ALIGNED_SIZE), borderValue=0.0)
    return np.ascontiguousarray(aligned, dtype=np.uint8)


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
