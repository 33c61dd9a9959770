"""What is said to operators while people wait to be re-enrolled after a change of
model pack (core.enrollment.model_change)."""

from __future__ import annotations

from collections.abc import Sequence

from core.errors import ReenrollmentPending
from core.records import ReenrollmentNeeded


def unchecked_models_refusal(
    need: ReenrollmentNeeded, models: Sequence[str], *, installed: bool = True
) -> ReenrollmentPending:
    """The refusal of an enrollment whose face was not compared with ``models``' templates."""
    who = _people(need.people)
    why = (
        "whose templates this enrollment was not compared with (they were enrolled "
        "meanwhile); try again"
        if installed
        else "which is not installed here, so a new face cannot be compared with theirs: "
        "name that model's pack folder in models.earlier_pack_dirs, or delete them "
        "(kiosk-admin people --model lists them) and enroll them again"
    )
    return ReenrollmentPending(f"{who} enrolled only with the model {', '.join(models)}, {why}")


def reenrollment_note(need: ReenrollmentNeeded) -> str:
    """One line for whoever identifies with the model in use; "" when nobody waits."""
    if need.people == 0:
        return ""
    return (
        f"{_people(need.people)} enrolled with another model ({', '.join(need.their_models)}) "
        f"and cannot be recognised with the one in use ({need.model}): re-enroll them "
        "(kiosk-admin people --model lists them)"
    )


def _people(count: int) -> str:
    return "1 person is" if count == 1 else f"{count} people are"
