"""Verification error rates from comparison scores, in ISO/IEC 19795-1 terms.

FMR(t): share of impostor comparisons scoring at or above the threshold t.
FNMR(t): share of genuine comparisons scoring below t. Pure numpy: the
calibration command, its report and the tests all use these functions.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from core.errors import InvalidValue

Scores = npt.NDArray[np.float64]
# With no errors in n trials, 3/n bounds the true rate at 95 % confidence (the rule of three),
# so a rate of r can only be claimed with at least 3/r comparisons.
RULE_OF_THREE = 3.0
REPORTED_FMRS = (1e-2, 1e-3, 1e-4, 1e-5, 1e-6)


@dataclass(frozen=True)
class OperatingPoint:
    target_fmr: float
    threshold: float
    fmr: float
    """Measured at ``threshold``; at most ``target_fmr``."""
    fnmr: float
    supported: bool
    """Enough impostor comparisons (3 / target) for the target to mean something."""
    fmr_upper_95: float
    """Upper end of the 95 % confidence interval of the measured FMR."""


@dataclass(frozen=True)
class ErrorCurve:
    thresholds: Scores
    fmr: Scores
    fnmr: Scores


def checked_scores(scores: npt.ArrayLike, what: str) -> Scores:
    array = np.asarray(scores, dtype=np.float64).ravel()
    if array.size == 0:
        raise InvalidValue(f"no {what} comparisons; the dataset needs more images")
    if not np.all(np.isfinite(array)):
        raise InvalidValue(f"{what} scores contain NaN or infinity")
    return array


def fmr_at(impostor: Scores, threshold: float) -> float:
    return float(np.count_nonzero(impostor >= threshold)) / impostor.size


def fnmr_at(genuine: Scores, threshold: float) -> float:
    return float(np.count_nonzero(genuine < threshold)) / genuine.size


def error_curve(genuine: Scores, impostor: Scores) -> ErrorCurve:
    """FMR and FNMR at every distinct score, thresholds ascending."""
    thresholds = np.unique(np.concatenate([genuine, impostor, [np.inf]]))
    impostor_sorted = np.sort(impostor)
    genuine_sorted = np.sort(genuine)
    at_or_above = impostor.size - np.searchsorted(impostor_sorted, thresholds, side="left")
    below = np.searchsorted(genuine_sorted, thresholds, side="left")
    return ErrorCurve(thresholds, at_or_above / impostor.size, below / genuine.size)


def equal_error_rate(genuine: Scores, impostor: Scores) -> tuple[float, float]:
    """(EER, threshold): where FMR and FNMR cross, interpolated between scores.

    When the scores do not overlap the EER is 0, at the middle of the gap."""
    if impostor.max() < genuine.min():
        return 0.0, float((impostor.max() + genuine.min()) / 2)
    curve = error_curve(genuine, impostor)
    difference = curve.fmr - curve.fnmr  # falls from >= 0 to <= 0 as t rises
    crossing = int(np.argmax(difference <= 0))
    if crossing == 0:
        return float(curve.fnmr[0]), float(curve.thresholds[0])
    d0, d1 = difference[crossing - 1], difference[crossing]
    weight = d0 / (d0 - d1) if d0 != d1 else 0.0
    eer_low = curve.fmr[crossing - 1] + weight * (curve.fmr[crossing] - curve.fmr[crossing - 1])
    threshold_high = curve.thresholds[crossing]
    threshold_low = curve.thresholds[crossing - 1]
    if not math.isfinite(threshold_high):
        threshold_high = threshold_low
    threshold = threshold_low + weight * (threshold_high - threshold_low)
    return float(eer_low), float(threshold)


def threshold_for_fmr(genuine: Scores, impostor: Scores, target_fmr: float) -> OperatingPoint:
    """The lowest threshold whose measured FMR is at most ``target_fmr``."""
    if not 0 < target_fmr < 1:
        raise InvalidValue(f"target FMR {target_fmr} must be between 0 and 1")
    ranked = np.sort(impostor)[::-1]
    allowed = math.floor(target_fmr * impostor.size)  # impostors that may score >= t; < size
    # Just above the (allowed+1)-th highest impostor score: it, and all below it, fail.
    threshold = float(np.nextafter(ranked[allowed], np.inf))
    fmr = fmr_at(impostor, threshold)
    return OperatingPoint(
        target_fmr=target_fmr,
        threshold=threshold,
        fmr=fmr,
        fnmr=fnmr_at(genuine, threshold),
        supported=impostor.size >= RULE_OF_THREE / target_fmr,
        fmr_upper_95=upper_95(round(fmr * impostor.size), impostor.size),
    )


def upper_95(errors: int, trials: int) -> float:
    """Upper end of the 95 % Wilson score interval for errors/trials."""
    if trials <= 0:
        raise InvalidValue("no trials")
    z = 1.959963984540054
    p = errors / trials
    centre = p + z * z / (2 * trials)
    spread = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials))
    return min(1.0, (centre + spread) / (1 + z * z / trials))


def false_positive_identification_rate(fmr: float, gallery_size: int) -> float:
    """Expected FPIR of a 1:N search of a stranger against ``gallery_size`` people,
    treating the N comparisons as independent: 1 - (1 - FMR)^N."""
    if gallery_size <= 0:
        return 0.0
    return float(-math.expm1(gallery_size * math.log1p(-min(fmr, 1 - 1e-16))))
