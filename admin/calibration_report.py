"""The calibration report: Markdown, JSON and PNG plots in one folder."""

from __future__ import annotations

import io
import json
import math
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from admin.calibration_results import ModelRun, run_summary
from core.calibration.dataset import Identity
from core.calibration.rates import RULE_OF_THREE, error_curve
from owned_files.entries import replace_file
from owned_files.folders import make_folders

_HISTOGRAM_BINS = 60


def write_report(
    out: Path,
    dataset: Path,
    identities: Sequence[Identity],
    from_pairs: bool,
    gallery: int,
    runs: Sequence[ModelRun],
) -> dict[str, Path]:
    """Write the report's files in ``out`` (made if missing); returns them by kind.
    Each file replaces what stood in its place, a planted link included, and is
    owner-only (owned_files): ``out`` may be a folder another account writes. Raises
    UnsafeEntry for ``out`` being a link, or an untrusted link on the way."""
    files = {
        "markdown": out / "report.md",
        "json": out / "report.json",
        "scores": out / "scores.png",
        "roc": out / "roc.png",
        "det": out / "det.png",
    }
    contents = {
        "scores": _plot_scores(runs),
        "roc": _plot_curves(runs, detection_error_tradeoff=False),
        "det": _plot_curves(runs, detection_error_tradeoff=True),
        "json": (
            json.dumps(_as_json(dataset, identities, from_pairs, gallery, runs), indent=2) + "\n"
        ).encode(),
        "markdown": _markdown(dataset, identities, from_pairs, gallery, runs).encode(),
    }
    make_folders(out)
    for kind, content in contents.items():
        replace_file(files[kind], content)
    return files


# --- plots ------------------------------------------------------------------------------


def _pyplot():  # type: ignore[no-untyped-def]
    import matplotlib

    matplotlib.use("Agg")  # files only; no display
    import matplotlib.pyplot as plt

    return plt


def _plot_scores(runs: Sequence[ModelRun]) -> bytes:
    plt = _pyplot()
    figure, axes = plt.subplots(len(runs), 1, figsize=(8, 3.2 * len(runs)), squeeze=False)
    bins = np.linspace(-0.3, 1.0, _HISTOGRAM_BINS)
    for axis, run in zip(axes[:, 0], runs, strict=True):
        axis.hist(run.impostor, bins=bins, density=True, alpha=0.6, label="different people")
        axis.hist(run.genuine, bins=bins, density=True, alpha=0.6, label="same person")
        axis.axvline(run.target.threshold, color="black", linestyle="--", label="recommended")
        axis.axvline(run.current_threshold, color="grey", linestyle=":", label="in use")
        axis.set_title(run.label)
        axis.set_xlabel("cosine similarity")
        axis.set_ylabel("density")
        axis.legend(fontsize="small")
    figure.tight_layout()
    image = io.BytesIO()
    figure.savefig(image, format="png", dpi=110)
    plt.close(figure)
    return image.getvalue()


def _plot_curves(runs: Sequence[ModelRun], detection_error_tradeoff: bool) -> bytes:
    """ROC (FMR against 1 - FNMR) or DET (FMR against FNMR, both on log scales).

    Zero rates are drawn at 1/(n+1): a log axis cannot show 0."""
    plt = _pyplot()
    figure, axis = plt.subplots(figsize=(6, 5))
    for run in runs:
        curve = error_curve(run.genuine, run.impostor)
        fmr = np.maximum(curve.fmr, 1 / (run.impostor.size + 1))
        if detection_error_tradeoff:
            axis.plot(fmr, np.maximum(curve.fnmr, 1 / (run.genuine.size + 1)), label=run.label)
        else:
            axis.plot(fmr, 1 - curve.fnmr, label=run.label)
    axis.set_xscale("log")
    axis.set_xlabel("false match rate (FMR)")
    if detection_error_tradeoff:
        axis.set_yscale("log")
        axis.set_ylabel("false non-match rate (FNMR)")
        axis.set_title("DET (lower left is better)")
    else:
        axis.set_ylabel("true match rate (1 - FNMR)")
        axis.set_title("ROC")
    axis.grid(True, which="both", alpha=0.3)
    axis.legend(fontsize="small")
    figure.tight_layout()
    image = io.BytesIO()
    figure.savefig(image, format="png", dpi=110)
    plt.close(figure)
    return image.getvalue()


# --- text -------------------------------------------------------------------------------


def _as_json(
    dataset: Path,
    identities: Sequence[Identity],
    from_pairs: bool,
    gallery: int,
    runs: Sequence[ModelRun],
) -> dict[str, object]:
    return {
        "created": datetime.now(UTC).isoformat(),
        "dataset": str(dataset),
        "identities": len(identities),
        "comparisons": "pairs file" if from_pairs else "every pair in the dataset",
        "gallery_size": gallery,
        "models": {run.label: run_summary(run) for run in runs},
    }


def _markdown(
    dataset: Path,
    identities: Sequence[Identity],
    from_pairs: bool,
    gallery: int,
    runs: Sequence[ModelRun],
) -> str:
    lines = [
        "# Calibration report",
        "",
        f"- Dataset: `{dataset}`, {len(identities)} people, "
        f"{sum(len(i.images) for i in identities)} images",
        f"- Comparisons: {'the pairs file' if from_pairs else 'every pair in the dataset'}",
        f"- Created: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        f"- Gallery size of this installation: {gallery} people",
        "",
        "Terms (ISO/IEC 19795-1): **FMR**, the share of comparisons of two different "
        "people that score at or above the threshold (a stranger let in); **FNMR**, the "
        "share of comparisons of one person with themself that score below it (a person "
        "turned away); **FTA**, images where no usable face was acquired; **EER**, where "
        "FMR equals FNMR; **FPIR**, the chance that a stranger matches someone in a "
        "gallery of N people.",
        "",
        "## Side by side",
        "",
        "| model | images | FTA | same-person / different-person comparisons | EER | "
        "recommended threshold | FMR there | FNMR there |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for run in runs:
        lines.append(
            f"| {run.label} | {run.images} | {run.fta_rate:.1%} | "
            f"{run.genuine.size} / {run.impostor.size} | {run.eer:.2%} | "
            f"{run.target.threshold:.3f} | {run.target.fmr:.2g} | {run.target.fnmr:.2%} |"
        )
    for run in runs:
        lines += ["", *_model_section(run, gallery)]
    lines += [
        "",
        "## Plots",
        "",
        "![Score distributions](scores.png)",
        "",
        "![ROC](roc.png) ![DET](det.png)",
        "",
        "## How to read this",
        "",
        "- The recommended threshold is the lowest one whose measured FMR meets the "
        "target. A higher threshold lets in fewer strangers and turns away more staff.",
        "- A rate measured on n comparisons with no errors can only be claimed down to "
        f"about {RULE_OF_THREE:g}/n (the rule of three, 95 % confidence). Rows marked "
        "*not supported* need a larger dataset before they mean anything.",
        "- FPIR grows with the gallery: with FMR f per comparison and N people, a "
        "stranger matches someone with chance 1 - (1 - f)^N. Calibrate for the gallery "
        "you will have, not the one you have now.",
        "- Genuine scores here come from the dataset's photos; people at a real door vary "
        "more (light, angle, glasses), so expect a higher FNMR in service.",
        "",
    ]
    return "\n".join(lines)


def _model_section(run: ModelRun, gallery: int) -> list[str]:
    failures = ", ".join(f"{reason} {count}" for reason, count in sorted(run.failures.items()))
    skipped = (
        f"; {run.skipped_pairs} listed pairs skipped (an image failed)" if run.skipped_pairs else ""
    )
    lines = [
        f"## {run.label}",
        "",
        f"- Acquired {run.acquired} of {run.images} images (FTA {run.fta_rate:.1%}"
        + (f": {failures})" if failures else ")"),
        f"- Same-person comparisons: {run.genuine.size}, mean score "
        f"{run.genuine.mean():.3f}; different-person: {run.impostor.size}, mean "
        f"{run.impostor.mean():.3f}{skipped}",
        f"- EER {run.eer:.2%} at threshold {run.eer_threshold:.3f}",
        f"- Threshold in use {run.current_threshold:.3f}: FMR {run.current_fmr:.2g}, "
        f"FNMR {run.current_fnmr:.2%}",
        "",
        "| target FMR | threshold | measured FMR (95 % upper bound) | FNMR | enough data? |",
        "|---|---|---|---|---|",
    ]
    for point in run.points:
        needed = math.ceil(RULE_OF_THREE / point.target_fmr)
        verdict = (
            "yes"
            if point.supported
            else f"**not supported**: needs {needed} different-person comparisons"
        )
        lines.append(
            f"| {point.target_fmr:g} | {point.threshold:.3f} | {point.fmr:.2g} "
            f"({point.fmr_upper_95:.2g}) | {point.fnmr:.2%} | {verdict} |"
        )
    target = run.target
    lines += [
        "",
        f"**Recommended threshold for FMR {target.target_fmr:g}: {target.threshold:.3f}** "
        f"(FNMR {target.fnmr:.2%}"
        + ("" if target.supported else "; the dataset is too small to support this target")
        + f"). Expected FPIR at the gallery size of {gallery} people: "
        f"{run.fpir_at_gallery:.2%}.",
    ]
    return lines
