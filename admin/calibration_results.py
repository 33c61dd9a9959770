"""One model pack's calibration results, and their JSON form."""

from __future__ import annotations

from dataclasses import dataclass

from core.calibration.rates import OperatingPoint, Scores


@dataclass(frozen=True)
class ModelRun:
    """One model pack's results on the dataset."""

    label: str
    """The pack's name, unique within one report."""
    template_model: str
    images: int
    acquired: int
    failures: dict[str, int]
    genuine: Scores
    impostor: Scores
    skipped_pairs: int
    eer: float
    eer_threshold: float
    points: tuple[OperatingPoint, ...]
    target: OperatingPoint
    fpir_at_gallery: float
    current_threshold: float
    current_fmr: float
    current_fnmr: float

    @property
    def fta_rate(self) -> float:
        return 1 - self.acquired / self.images if self.images else 0.0


def run_summary(run: ModelRun) -> dict[str, object]:
    return {
        "template_model": run.template_model,
        "images": run.images,
        "acquired": run.acquired,
        "fta_rate": run.fta_rate,
        "failures": run.failures,
        "genuine_comparisons": int(run.genuine.size),
        "impostor_comparisons": int(run.impostor.size),
        "skipped_pairs": run.skipped_pairs,
        "genuine_mean": float(run.genuine.mean()),
        "impostor_mean": float(run.impostor.mean()),
        "eer": run.eer,
        "eer_threshold": run.eer_threshold,
        "operating_points": [point_summary(p) for p in run.points],
        "recommended": point_summary(run.target),
        "fpir_at_gallery": run.fpir_at_gallery,
        "current_threshold": {
            "threshold": run.current_threshold,
            "fmr": run.current_fmr,
            "fnmr": run.current_fnmr,
        },
    }


def point_summary(point: OperatingPoint) -> dict[str, object]:
    return {
        "target_fmr": point.target_fmr,
        "threshold": point.threshold,
        "fmr": point.fmr,
        "fmr_upper_95": point.fmr_upper_95,
        "fnmr": point.fnmr,
        "supported": point.supported,
    }
