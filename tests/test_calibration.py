"""Calibration: the metrics by hand, the dataset readers, and the command end to end."""

from __future__ import annotations

import json
import math
from pathlib import Path

import cv2
import numpy as np
import pytest

from core.calibration.dataset import read_lfw_pairs, scan_dataset, scores_for_dataset
from core.calibration.rates import (
    equal_error_rate,
    error_curve,
    false_positive_identification_rate,
    fmr_at,
    fnmr_at,
    threshold_for_fmr,
    upper_95,
)
from core.errors import InvalidValue
from tests.cli_fixtures import as_json, identify

GENUINE = np.array([0.9, 0.8, 0.7, 0.3])
IMPOSTOR = np.array([0.1, 0.2, 0.35, 0.5, 0.6])


def test_rates_at_a_threshold_by_hand() -> None:
    assert fmr_at(IMPOSTOR, 0.5) == pytest.approx(2 / 5)  # 0.5 and 0.6 match
    assert fnmr_at(GENUINE, 0.5) == pytest.approx(1 / 4)  # 0.3 does not
    assert fmr_at(IMPOSTOR, 0.61) == 0.0
    assert fnmr_at(GENUINE, 0.1) == 0.0
    curve = error_curve(GENUINE, IMPOSTOR)
    assert curve.fmr[0] == 1.0
    assert curve.fnmr[-1] == 1.0
    assert np.all(np.diff(curve.fmr) <= 0)
    assert np.all(np.diff(curve.fnmr) >= 0)


def test_the_threshold_for_a_target_is_the_lowest_that_meets_it() -> None:
    point = threshold_for_fmr(GENUINE, IMPOSTOR, 0.2)  # one impostor of five may match
    assert 0.5 < point.threshold < 0.5001  # just above the second-highest impostor
    assert point.fmr == pytest.approx(0.2)
    assert point.fnmr == pytest.approx(0.25)
    assert not point.supported  # 5 comparisons cannot support 0.2 (needs 15)
    assert threshold_for_fmr(GENUINE, np.linspace(0, 0.5, 3000), 1e-3).supported
    assert not threshold_for_fmr(GENUINE, np.linspace(0, 0.5, 2999), 1e-3).supported
    with pytest.raises(InvalidValue, match="between 0 and 1"):
        threshold_for_fmr(GENUINE, IMPOSTOR, 0)


def test_equal_error_rate_by_hand() -> None:
    eer, threshold = equal_error_rate(np.array([0.6, 0.8]), np.array([0.2, 0.7]))
    assert eer == pytest.approx(0.5)  # at 0.7: one impostor of two in, one genuine of two out
    assert threshold == pytest.approx(0.7)
    separated = equal_error_rate(np.array([0.8, 0.9]), np.array([0.1, 0.4]))
    assert separated == (0.0, pytest.approx(0.6))


def test_confidence_and_identification_rates() -> None:
    assert upper_95(0, 300) == pytest.approx(3.8415 / (300 + 3.8415), rel=1e-3)
    assert upper_95(30, 100) > 0.3
    assert false_positive_identification_rate(1e-3, 1000) == pytest.approx(
        1 - 0.999**1000, rel=1e-9
    )
    assert false_positive_identification_rate(1e-3, 0) == 0.0


def test_scores_for_a_dataset_count_every_pair_or_sample(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    people = {}
    for name, count in (("a", 3), ("b", 2), ("c", 1)):
        folder = tmp_path / name
        folder.mkdir()
        for i in range(count):
            (folder / f"{i}.png").write_bytes(b"")
        people[name] = count
    identities = scan_dataset(tmp_path)
    embeddings = {}
    for identity in identities:
        for path in identity.images:
            vector = rng.standard_normal(8).astype(np.float32)
            embeddings[path] = vector / np.linalg.norm(vector)
    genuine, impostor = scores_for_dataset(identities, embeddings, max_impostor=1000)
    assert genuine.size == 3 + 1  # C(3,2) + C(2,2)
    assert impostor.size == 3 * 2 + 3 * 1 + 2 * 1
    _, sampled = scores_for_dataset(identities, embeddings, max_impostor=4)
    assert sampled.size == 4


def test_dataset_and_pairs_errors_name_the_problem(tmp_path: Path) -> None:
    with pytest.raises(InvalidValue, match="is not a folder"):
        scan_dataset(tmp_path / "missing")
    (tmp_path / "only").mkdir()
    (tmp_path / "only" / "one.jpg").write_bytes(b"")
    with pytest.raises(InvalidValue, match="at least 2"):
        scan_dataset(tmp_path)
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "one.jpg").write_bytes(b"")
    with pytest.raises(InvalidValue, match="no genuine pair"):
        scan_dataset(tmp_path)
    for name, count in (("Ann_Lee", 2), ("Bo_Chen", 1)):
        (tmp_path / name).mkdir()
        for i in range(1, count + 1):
            (tmp_path / name / f"{name}_{i:04d}.jpg").write_bytes(b"")
    pairs_file = tmp_path / "pairs.txt"
    pairs_file.write_text("1\t1\nAnn_Lee\t1\t2\nAnn_Lee\t1\tBo_Chen\t1\n")
    pairs = read_lfw_pairs(pairs_file, tmp_path)
    assert [p.genuine for p in pairs] == [True, False]
    pairs_file.write_text("1\t1\nAnn_Lee\t1\t2\nAnn_Lee\t1\tBo_Chen\t7\n")
    with pytest.raises(InvalidValue, match=r"line 3: .*Bo_Chen_0007.jpg is missing"):
        read_lfw_pairs(pairs_file, tmp_path)
    pairs_file.write_text("1\t1\nAnn_Lee\t1\n")
    with pytest.raises(InvalidValue, match="line 2: 2 fields"):
        read_lfw_pairs(pairs_file, tmp_path)


def test_calibrate_writes_the_report_and_counts_failures(
    admin_cli, calibration_dataset: Path, tmp_path: Path
) -> None:
    out = tmp_path / "report"
    first = admin_cli(
        "calibrate",
        "--dataset",
        calibration_dataset,
        "--out",
        out,
        "--target-fmr",
        "1e-2",
        "--json",
        password=None,
    )
    data = as_json(first)
    (model,) = data["models"].values()
    for name in ("report.md", "report.json", "scores.png", "roc.png", "det.png"):
        assert (out / name).stat().st_size > 0, name
    assert cv2.imread(str(out / "det.png")) is not None
    assert model["genuine_mean"] > model["impostor_mean"] + 0.4
    assert model["failures"]["unreadable image"] == 1
    assert model["failures"]["no_face"] >= 1
    assert model["acquired"] + sum(model["failures"].values()) == model["images"]
    assert model["recommended"]["fmr"] <= 1e-2
    report = (out / "report.md").read_text()
    assert "Recommended threshold for FMR 0.01" in report
    assert "not supported" in report  # 1e-5 cannot be claimed from a few thousand pairs
    assert json.loads((out / "report.json").read_text())["models"] == data["models"]
    assert "0 from the cache" in first.stderr

    again = admin_cli(
        "calibrate",
        "--dataset",
        calibration_dataset,
        "--out",
        out,
        "--target-fmr",
        "1e-2",
        "--json",
        password=None,
    )
    assert as_json(again)["models"] == data["models"]
    assert f"{model['images']} from the cache" in again.stderr


def test_apply_changes_what_identify_decides_for_a_borderline_face(
    admin_cli, calibration_dataset: Path, tmp_path: Path, yaoming_jpg: Path, face_engine
) -> None:
    enrolled = admin_cli(
        "enroll", "--name", "Yao Ming", "--image", yaoming_jpg, "--consent", "--operator", "alice"
    )
    assert enrolled.returncode == 0, enrolled.stderr
    refused = admin_cli(
        "calibrate",
        "--dataset",
        calibration_dataset,
        "--out",
        tmp_path / "r1",
        "--target-fmr",
        "1e-5",
        "--apply",
        "--operator",
        "alice",
    )
    assert refused.returncode == 2
    assert "Nothing was changed" in refused.stderr

    measured = as_json(
        admin_cli(
            "calibrate",
            "--dataset",
            calibration_dataset,
            "--out",
            tmp_path / "r2",
            "--target-fmr",
            "1e-2",
            "--json",
            password=None,
        )
    )
    (model,) = measured["models"].values()
    recommended = math.ceil(model["recommended"]["threshold"] * 1000) / 1000
    assert recommended < 0.4
    probe = borderline_probe(face_engine, yaoming_jpg, tmp_path, recommended + 0.01, 0.39)
    assert as_json(identify(admin_cli, probe, "--json"))["result"] == "unknown"

    applied = admin_cli(
        "calibrate",
        "--dataset",
        calibration_dataset,
        "--out",
        tmp_path / "r3",
        "--target-fmr",
        "1e-2",
        "--apply",
        "--operator",
        "alice",
    )
    assert applied.returncode == 0, applied.stderr
    assert f"applied: matching.threshold 0.4 -> {recommended} (audited)" in applied.stdout
    assert as_json(identify(admin_cli, probe, "--json"))["result"] == "match"


def borderline_probe(engine, reference: Path, folder: Path, low: float, high: float) -> Path:
    """Yao Ming blurred until his similarity to his own photo falls between low and high."""
    yao = cv2.imread(str(reference))
    enrolled = engine.enrollment_sample(yao, "reference").embedding
    for tenths in range(50, 100):
        blurred = cv2.GaussianBlur(yao, (0, 0), tenths / 10)
        similarity = float(np.dot(enrolled, engine.identification_sample(blurred, "b").embedding))
        if low <= similarity <= high:
            path = folder / f"yao_blur_{tenths}.png"
            cv2.imwrite(str(path), blurred)
            return path
    raise AssertionError(f"no blur gives a similarity in [{low:.3f}, {high:.3f}]")


def test_calibrate_refuses_a_bad_target_and_a_missing_dataset(admin_cli, tmp_path: Path) -> None:
    bad = admin_cli("calibrate", "--dataset", tmp_path, "--target-fmr", "2", password=None)
    assert bad.returncode == 2
    assert "2 is out of range: give a rate above 0 and below 1" in bad.stderr
    missing = admin_cli("calibrate", "--dataset", tmp_path / "nope", password=None)
    assert missing.returncode == 2
    assert "is not a folder" in missing.stderr
    a_file = tmp_path / "report.txt"
    a_file.write_text("not a folder\n")
    not_a_folder = admin_cli(
        "calibrate", "--dataset", tmp_path, "--out", a_file, "--gallery-size", "1", password=None
    )
    assert not_a_folder.returncode == 2
    assert "cannot be a report folder" in not_a_folder.stderr
    assert a_file.read_text() == "not a folder\n"


def test_model_packs_are_compared_side_by_side(
    admin_cli, calibration_dataset: Path, tmp_path: Path
) -> None:
    from core.inference.modelpack import resolve_model_pack

    bundled = resolve_model_pack(None)
    user_pack = tmp_path / "site_pack"
    user_pack.mkdir()
    for model in (bundled.detection, bundled.recognition):
        (user_pack / model.path.name).write_bytes(model.path.read_bytes())
    out = tmp_path / "report"
    data = as_json(
        admin_cli(
            "calibrate",
            "--dataset",
            calibration_dataset,
            "--out",
            out,
            "--compare-model-dir",
            user_pack,
            "--target-fmr",
            "1e-2",
            "--json",
            password=None,
        )
    )
    assert set(data["models"]) == {"buffalo_sc", "site_pack"}
    ours, theirs = data["models"]["buffalo_sc"], data["models"]["site_pack"]
    assert ours["recommended"] == theirs["recommended"]  # the same weights, the same figures
    table = (out / "report.md").read_text()
    assert "| buffalo_sc |" in table
    assert "| site_pack |" in table
