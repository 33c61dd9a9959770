"""Pure policy functions: the match decision, the quality checks, the alignment maths."""

from __future__ import annotations

import re
import uuid

import numpy as np
import pytest
from pydantic import ValidationError

from core.accounts.passwords import check_password_policy, hash_password, verify_password
from core.enrollment.names import clean_display_name, clean_external_ref
from core.errors import InvalidValue, PasswordRejected
from core.match_settings import MatchSettings
from core.matching.match_rule import MatchReason, decide
from core.records import Candidate
from core.settings import QualitySettings
from core.vision.alignment import ARCFACE_TEMPLATE, similarity_transform
from core.vision.quality import FaceMeasurements, QualityCheck, enrollment_issues, face_count_issue

SETTINGS = MatchSettings(threshold=0.4, margin=0.05)


def person(similarity: float) -> Candidate:
    return Candidate(uuid.uuid4(), "someone", similarity)


def test_empty_gallery_is_unknown() -> None:
    decision = decide([], SETTINGS)
    assert decision.reason is MatchReason.EMPTY_GALLERY
    assert decision.matched is None


def test_match_needs_threshold_and_margin() -> None:
    best, other = person(0.62), person(0.20)
    decision = decide([other, best], SETTINGS)
    assert decision.reason is MatchReason.MATCH
    assert decision.matched == best
    assert decision.runner_up == other


def test_threshold_is_inclusive_and_below_is_unknown() -> None:
    assert decide([person(0.40)], SETTINGS).reason is MatchReason.MATCH
    below = decide([person(0.3999)], SETTINGS)
    assert below.reason is MatchReason.BELOW_THRESHOLD
    assert below.best is not None
    assert below.matched is None


def test_two_people_too_close_is_ambiguous() -> None:
    decision = decide([person(0.70), person(0.67)], SETTINGS)
    assert decision.reason is MatchReason.AMBIGUOUS
    assert decision.matched is None


def test_settings_refuse_out_of_range_values() -> None:
    with pytest.raises(ValidationError):
        MatchSettings(threshold=1.5)
    with pytest.raises(ValidationError):
        QualitySettings(pitch_range=(0.8, 0.3))
    with pytest.raises(ValidationError):
        MatchSettings(unknown_key=1)  # type: ignore[call-arg]


GOOD = FaceMeasurements(
    face_px=120,
    score=0.85,
    sharpness=200,
    yaw=0.0,
    roll_degrees=2,
    pitch=0.5,
    brightness=120,
    dark_fraction=0.0,
    bright_fraction=0.0,
    outside_share=0.0,
)


@pytest.mark.parametrize(
    ("change", "check"),
    [
        ({"face_px": 50}, QualityCheck.FACE_TOO_SMALL),
        ({"score": 0.5}, QualityCheck.LOW_CONFIDENCE),
        ({"sharpness": 5}, QualityCheck.BLURRY),
        ({"yaw": 0.4}, QualityCheck.NOT_FRONTAL),
        ({"roll_degrees": -35}, QualityCheck.NOT_FRONTAL),
        ({"pitch": 0.95}, QualityCheck.NOT_FRONTAL),
        ({"brightness": 20}, QualityCheck.TOO_DARK),
        ({"dark_fraction": 0.5}, QualityCheck.TOO_DARK),
        ({"brightness": 240}, QualityCheck.TOO_BRIGHT),
        ({"bright_fraction": 0.4}, QualityCheck.TOO_BRIGHT),
        ({"outside_share": 0.2}, QualityCheck.FACE_CUT_OFF),
        # Cut off, a face's other measures are of part of it: the cut is the one reason.
        ({"outside_share": 0.3, "brightness": 20, "score": 0.5}, QualityCheck.FACE_CUT_OFF),
    ],
)
def test_each_quality_failure_has_its_own_reason(
    change: dict[str, float], check: QualityCheck
) -> None:
    from dataclasses import replace

    issues = enrollment_issues(replace(GOOD, **change), QualitySettings())
    assert [issue.check for issue in issues] == [check]
    assert issues[0].message


def test_a_good_face_passes_and_face_count_is_checked() -> None:
    assert enrollment_issues(GOOD, QualitySettings()) == []
    assert face_count_issue(1) is None
    none, two = face_count_issue(0), face_count_issue(2)
    assert none is not None
    assert none.check is QualityCheck.NO_FACE
    assert two is not None
    assert two.message == "2 faces in image; enrollment needs exactly one"


def test_similarity_transform_recovers_a_known_transform() -> None:
    angle, scale, shift = np.radians(20), 2.5, np.array([30.0, -12.0])
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    source = (ARCFACE_TEMPLATE - shift) @ np.linalg.inv(scale * rotation).T
    matrix = similarity_transform(source, ARCFACE_TEMPLATE)
    mapped = source @ matrix[:, :2].T + matrix[:, 2]
    np.testing.assert_allclose(mapped, ARCFACE_TEMPLATE, atol=1e-9)


def test_passwords_hash_verify_and_long_passwords_are_not_truncated() -> None:
    stored = hash_password("correct horse battery", rounds=4)
    assert verify_password("correct horse battery", stored)
    assert not verify_password("correct horse batterY", stored)
    long_a, long_b = "x" * 80 + "a", "x" * 80 + "b"  # equal in their first 72 bytes
    assert not verify_password(long_b, hash_password(long_a, rounds=4))
    assert not verify_password("anything", "not a hash")
    with pytest.raises(PasswordRejected, match="at least 12"):
        check_password_policy("short", "alice")
    with pytest.raises(PasswordRejected, match="common passwords"):
        check_password_policy("Correct Horse Battery Staple", "alice")
    with pytest.raises(PasswordRejected, match="contains the username"):
        check_password_policy("my-name-is-Alice!", "alice")
    check_password_policy("tall-ladder-orange-77", "alice")


def test_names_and_references_are_cleaned_or_refused() -> None:
    assert clean_display_name("  Yao   Ming ") == "Yao Ming"
    assert clean_external_ref("  B-1234 ") == "B-1234"
    assert clean_external_ref("   ") is None
    for bad in ("", "   ", "x" * 201, "bad\x00name"):
        with pytest.raises(InvalidValue):
            clean_display_name(bad)
    with pytest.raises(InvalidValue):
        clean_external_ref("r" * 65)


@pytest.mark.parametrize(
    ("measure", "limit", "pattern"),
    [
        ("score", "min_detection_score", r"confidence ([\d.]+), below ([\d.]+):"),
        ("face_px", "min_face_px", r"face is ([\d.]+) px; enrollment needs at least ([\d.]+) px"),
        ("sharpness", "min_sharpness", r"sharpness ([\d.]+), needs ([\d.]+)\)"),
    ],
)
@pytest.mark.parametrize("short_by", [0.004, 0.3, 0.0000001])
def test_a_refusal_never_shows_a_measure_equal_to_the_limit_it_failed(
    measure: str, limit: str, pattern: str, short_by: float
) -> None:
    from dataclasses import replace

    settings = QualitySettings()
    needed = float(getattr(settings, limit))
    (issue,) = enrollment_issues(replace(GOOD, **{measure: needed - short_by}), settings)
    found = re.search(pattern, issue.message)
    assert found is not None, issue.message
    shown, shown_limit = found.groups()
    assert shown != shown_limit, issue.message
    assert float(shown) < float(shown_limit)
    assert float(shown_limit) == pytest.approx(needed)


def test_a_measure_far_below_its_limit_is_shown_as_before() -> None:
    from dataclasses import replace

    settings = QualitySettings()
    (issue,) = enrollment_issues(replace(GOOD, score=0.5), settings)
    assert f"confidence 0.50, below {settings.min_detection_score:.2f}:" in issue.message
