"""Errors that a person can act on.

Every error carries a message that names the problem and the fix; front ends
show ``str(error)`` as it is and never a stack trace.

KioskError
├── ConfigurationError      a setting is invalid
├── InvalidValue            a value given by a person is malformed
├── ModelPackError          model files missing, corrupt or unusable
├── InputRejected           an image or frame cannot be used
│   ├── ImageRejected       unreadable, oversized or not an image
│   └── QualityRejected     faces found, but not good enough (has .reasons)
├── AuthenticationFailed    wrong username or password
├── NotAllowed              the action is refused in the current state
├── NotFound                no such person or operator
└── StoreError              the database cannot serve the request
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from core.quality import QualityIssue


class KioskError(Exception):
    """Base of every error the kiosk reports to a person."""


class ConfigurationError(KioskError):
    pass


class InvalidValue(KioskError):
    pass


class ModelPackError(KioskError):
    pass


class InputRejected(KioskError):
    pass


class ImageRejected(InputRejected):
    pass


class QualityRejected(InputRejected):
    """Faces were found but fail the quality gate; ``reasons`` says why."""

    def __init__(self, message: str, reasons: Sequence[QualityIssue]) -> None:
        super().__init__(message)
        self.reasons = tuple(reasons)


class AuthenticationFailed(KioskError):
    pass


class NotAllowed(KioskError):
    pass


class NotFound(KioskError):
    pass


class StoreError(KioskError):
    pass


class StoreBusy(StoreError):
    """The database is up but did not answer in time: try again shortly."""
