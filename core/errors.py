"""Errors that a person can act on.

Every error carries a message that names the problem and the fix; front ends
show ``str(error)`` as it is and never a stack trace. Where an error lives outside
this module (next to the only code that raises it), the tree names its module.

KioskError
├── ConfigurationError      a setting is invalid
│   ├── UnsafeDataEntry     a link or another account's entry where the kiosk writes
│   ├── KioskIdInUse        another running kiosk has this kiosk's id on the database
│   └── ReaderKeyError      the OSDP secure channel key is missing, exposed or malformed
├── InvalidValue            a value given by a person is malformed
│   ├── RulesFileInvalid    a rules file that cannot be imported (has .line)
│   ├── RuleSetError        access rules that do not fit together (has .where; also a
│   │                       ValueError; core.rules.rule_set)
│   └── DuplicateBadgeInFile a people file gives one badge on several rows (all refused)
├── ModelPackError          model files missing, corrupt or unusable
├── InputRejected           an image, frame or password cannot be used
│   ├── ImageRejected       unreadable, oversized or not an image
│   ├── QualityRejected     faces found, but not good enough (has .reasons)
│   └── PasswordRejected    a new password breaks the password policy
├── AuthenticationFailed    wrong username or password
│   ├── LoginLocked         too many failures: refused until .retry_at
│   ├── PinLocked           too many wrong PINs for a person: refused until .retry_at
│   └── SessionExpired      the operator's session ended; log in again
├── NotAllowed              the action is refused in the current state
│   ├── ConsentMissing      an enrollment without the person's recorded consent
│   ├── AlreadyEnrolled     the face or external reference belongs to someone enrolled
│   │   └── DuplicateFaceInFile ... to an earlier row of the same people file
│   ├── ReenrollmentPending people enrolled with a model not installed here (pack change)
│   ├── RulesFileStale      a rules file exported before the stored rules last changed
│   └── NameTaken           an account name (operator or API key) already in use
├── NotFound                no such person or operator
│   └── UnknownGroup        an access group named that the rules do not define
├── RecognitionPaused       too many denied faces: no search for .retry_after_s
├── DoorFault               the door hardware did not answer or refused a command
│   └── DoorNotApplied      ... and certainly did not carry it out (no connection, refused)
├── BackupFailed            a backup, restore or export cannot be made or read (.code)
│   └── WrongKey            not the key a backup was sealed with (storage.sealed_stream)
├── AuditChainBroken        an audit or access chain fails its check (tampered or cut)
└── StoreError              the database cannot serve the request (unreachable)
    ├── StoreBusy           the database is up but did not answer in time
    ├── StoreUnresponsive   the database took the request and gave no answer at all
    ├── SpoolFull           neither the database nor the full local disk can keep an event
    └── SchemaNewer         the database's schema is newer than this installation knows
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from core.vision.quality import QualityIssue


class KioskError(Exception):
    """Base of every error the kiosk reports to a person."""


class ConfigurationError(KioskError):
    pass


class UnsafeDataEntry(ConfigurationError):
    """A symbolic link, a non-regular file or another account's entry stands where
    the kiosk creates, writes, chmods or chowns a file or folder, or the data folder
    is a link: refused, never followed. Carries the message of owned_files'
    UnsafeEntry (which cannot import this tree), naming the entry and the fix."""


class KioskIdInUse(ConfigurationError):
    """A kiosk process that is still running holds this kiosk id on the database: a
    second one under the same id would take half of the door's commands. The message
    names the id and says to give this kiosk one of its own."""


class ReaderKeyError(ConfigurationError):
    """The OSDP reader's secure channel base key (SCBK) cannot be used: no file, a
    file other accounts may read or that is not this account's, not 32 hex digits,
    or no keyring entry. The message names the file (never the key) and the fix."""


class InvalidValue(KioskError):
    pass


class RulesFileInvalid(InvalidValue):
    """An access rules file (core.rules.rules_file) that cannot be imported; the
    message starts with the file and ``line`` (1-based; None when no line is at
    fault, as for a file that is not UTF-8) and names the fix."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.line = line


class DuplicateBadgeInFile(InvalidValue):
    """A bulk import's people file gives one badge on more than one row: which row is
    the person cannot be told, so every one of them is refused."""


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


class PasswordRejected(InputRejected):
    pass


class AuthenticationFailed(KioskError):
    pass


class LoginLocked(AuthenticationFailed):
    """Logins are refused until ``retry_at``; the message says when."""

    def __init__(self, message: str, retry_at: datetime) -> None:
        super().__init__(message)
        self.retry_at = retry_at


class PinLocked(AuthenticationFailed):
    """A person's PIN entry is refused until ``retry_at`` (too many wrong PINs at the
    doors); no PIN is checked meanwhile."""

    def __init__(self, message: str, retry_at: datetime) -> None:
        super().__init__(message)
        self.retry_at = retry_at


class SessionExpired(AuthenticationFailed):
    pass


class NotAllowed(KioskError):
    pass


class ConsentMissing(NotAllowed):
    pass


class AlreadyEnrolled(NotAllowed):
    """``person_id``: the enrolled person the face or reference belongs to, when known;
    ``display_name``: their name, set when it is the face that matched (a front end
    words the refusal for where the face came from: a photo, the camera)."""

    def __init__(
        self,
        message: str,
        person_id: uuid.UUID | None = None,
        *,
        display_name: str | None = None,
    ) -> None:
        super().__init__(message)
        self.person_id = person_id
        self.display_name = display_name


class DuplicateFaceInFile(AlreadyEnrolled):
    """A bulk import's row shows the face of an earlier row of the same file, stored
    (a run) or accepted (a dry run): the earlier row keeps it."""


class ReenrollmentPending(NotAllowed):
    """People are enrolled only with a model whose templates a new face could not be
    compared with (core.enrollment.model_change): enrolling could give one face two
    identities. The message names the model and the way out."""


class RulesFileStale(NotAllowed):
    """A rules file whose generation is not the stored rules' (storage.rules_generation):
    importing it would undo what changed since it was exported. The message names both
    generations, and the ways on (export afresh, or --force)."""


class NameTaken(NotAllowed):
    """An operator or API key account name that is already in use."""


class NotFound(KioskError):
    pass


class UnknownGroup(NotFound):
    """An access group named (at enrollment, for a person's access) that the rules do
    not define; the message names the group and where the groups are listed."""


class RecognitionPaused(KioskError):
    """Too many denied recognitions: no search runs until the cooldown ends."""

    def __init__(self, retry_after_s: float) -> None:
        super().__init__(
            f"too many unrecognised attempts; please wait {retry_after_s:.0f} s and try again"
        )
        self.retry_after_s = retry_after_s


class DoorFault(KioskError):
    """The lock, contact or exit-button hardware (core.access.door_io) failed a command.
    Whether a lock write took is then unknown (its answer may have been lost) unless
    it is a DoorNotApplied."""


class DoorNotApplied(DoorFault):
    """The hardware certainly did not carry the command out: it could not be reached
    (no connection, the port would not open), or it answered with a refusal."""


class BackupFailed(KioskError):
    """A backup, a restore or an export cannot go on: a file exists or is missing, a
    key file is wrong or open to others, pg_dump or pg_restore failed. The message
    names the file and the fix; ``code`` is a short word for the audit log, which
    never holds a path ("exists", "key", "dump", "restore", "folder", "chain")."""

    def __init__(self, message: str, code: str = "failed") -> None:
        super().__init__(message)
        self.code = code


class AuditChainBroken(KioskError):
    """The audit log's or the access log's hash chain does not verify, or does not
    reach its anchor: entries were changed, removed or cut off. The message names
    the first entry at fault and what to do (kiosk-admin audit verify)."""


class StoreError(KioskError):
    pass


class StoreBusy(StoreError):
    """The database is up but did not answer in time: try again shortly."""


class StoreUnresponsive(StoreError):
    """The database took a request and gave no answer within ``database.query_deadline_s``
    (a stopped or hung server, a stalled proxy): its connection was cut and the
    database is taken for unreachable, not busy."""


class SpoolFull(StoreError):
    """The database is unreachable and the disk holding the spool is full, reserve
    included: the event was not kept. The message names the folder to free."""


class SchemaNewer(StoreError):
    """The database's schema (its Alembic revision) is one this installation's
    migrations do not know: a newer release upgraded the shared database. A kiosk
    refuses to start on it, and a running one keeps its door closed (storage.migrate);
    the message says to upgrade the kiosk."""


# What an error message shows of a value a person gave: enough to recognise it.
# A constant, not a setting: it is used while the settings themselves are refused.
QUOTED_CHARS = 60


def quoted(value: object) -> str:
    """``repr(value)`` for an error message, cut by ``cut``: a 10 MB value is named, not
    echoed (repr also escapes control characters)."""
    return cut(repr(value))


def cut(text: str) -> str:
    """``text`` as an error message shows it: at most QUOTED_CHARS, with its length
    said when longer."""
    if len(text) <= QUOTED_CHARS:
        return text
    return f"{text[:QUOTED_CHARS]}... ({len(text):,} characters in all)"
