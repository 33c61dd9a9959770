"""Why an enrollment was refused, as the short code the audit log records.

The code names the kind of refusal only: the error's message can hold a
person's name, and the audit log holds no names and nothing biometric.
"""

from __future__ import annotations

from core.errors import (
    AlreadyEnrolled,
    ConsentMissing,
    DuplicateBadgeInFile,
    DuplicateFaceInFile,
    ImageRejected,
    InputRejected,
    InvalidValue,
    KioskError,
    NotAllowed,
    QualityRejected,
    ReenrollmentPending,
    UnknownGroup,
)

# Most specific first: the first class the error is an instance of names it.
_REASONS: tuple[tuple[type[KioskError], str], ...] = (
    (ConsentMissing, "no_consent"),
    (DuplicateFaceInFile, "duplicate_face_in_file"),
    (AlreadyEnrolled, "already_enrolled"),
    (ReenrollmentPending, "reenrollment_pending"),
    (QualityRejected, "face_quality"),
    (ImageRejected, "unreadable_image"),
    (InputRejected, "input_rejected"),
    (DuplicateBadgeInFile, "duplicate_badge_in_file"),
    (InvalidValue, "invalid_details"),
    (NotAllowed, "not_allowed"),
    (UnknownGroup, "unknown_group"),
)


def refusal_reason(refused: KioskError) -> str:
    """The audit code for ``refused``; "refused" for a kind not listed."""
    return next((code for kind, code in _REASONS if isinstance(refused, kind)), "refused")
