"""A bulk import: every row of a people file through the enrollment service.

Each row takes the steps of a single enrollment (EnrollmentService: ``details``,
``faces``, ``enroll_faces``) and nothing else decides whether it goes in. Rows are
independent: a refused row is reported with its reason, audited as a refused
enrollment, and skipped; each good row is stored in its own transaction.

Importing a file again duplicates no one. A row whose badge belongs to an enrolled
person whose face matches the row's photos is "already enrolled" and changes
nothing; a face enrolled under another badge, or a badge whose person has another
face, is refused (one face, one identity). Within the file, a badge on several rows
refuses every one of them (which is the person cannot be told) but the one that is
the badge's enrolled person, "already enrolled" as above; a face on several rows goes
in from the first (a dry run and a run refuse the later ones alike).

Speed: the face step of the next rows (decoding, detection, embedding: onnxruntime,
OpenCV and Pillow, which let go of the GIL) runs on a bounded pool of threads
while the calling thread stores rows one at a time, in file order, so an earlier
row always wins over a later one with the same face.
"""

from __future__ import annotations

import logging
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from core.enrollment.consent import (
    ConsentText,
    clean_consent_reference,
    consent_text,
    current_consent,
)
from core.enrollment.enrollment import (
    MAX_ENROLLMENT_IMAGES,
    REFUSALS,
    EnrollmentDetails,
    EnrollmentService,
    LabelledProbe,
    LabelledSample,
)
from core.enrollment.import_rows import RowOutcome, RowResult
from core.enrollment.people_file import LIST_SEPARATOR, PersonRow, RawRow, person_row
from core.enrollment.photo_folder import PhotoFolder
from core.enrollment.refusals import refusal_reason
from core.enrollment.within_file import FileFaces, repeated_badges, row_list
from core.errors import (
    AlreadyEnrolled,
    DuplicateBadgeInFile,
    DuplicateFaceInFile,
    InputRejected,
    InvalidValue,
    KioskError,
    NotAllowed,
    NotFound,
)
from core.records import Operator, PersonSummary
from core.store import IdentityStore

log = logging.getLogger(__name__)
# What enroll_faces refuses a row with (and audits; NotFound: anything not found but
# an unknown group, which REFUSALS holds).
_STORE_REFUSALS: tuple[type[KioskError], ...] = (*REFUSALS, NotFound)
# Badges whose enrolled owners are read in one query.
OWNER_BATCH = 500


@dataclass(frozen=True)
class CheckedRow:
    """A row whose details passed, waiting for (or with) its faces."""

    row: int
    details: EnrollmentDetails
    photos: tuple[tuple[str, Path], ...]
    """(name as the file gives it, where to read it) for each photo."""


@dataclass(frozen=True)
class RowFaces:
    """One row's faces through the quality gate, and the same faces as the models of
    people not yet re-enrolled after a change of model pack see them."""

    samples: tuple[LabelledSample, ...]
    probes: tuple[LabelledProbe, ...] = ()


FacesOf = Callable[[CheckedRow], RowFaces]
"""The face step of one row, run on the worker pool: its photos read, through the
quality gate (EnrollmentService.faces and probes). Raises InputRejected,
InvalidValue or NotAllowed (ReenrollmentPending)."""


@dataclass(frozen=True)
class _Pending:
    raw: RawRow
    badge: str
    checked: CheckedRow | None
    faces: Future[RowFaces] | None
    refused: KioskError | None


class PeopleImport:
    """Imports the rows of one people file for one operator.

    Owns a pool of worker threads for the face step, for the length of ``run``:
    the pool is what makes an import use every core. The store step stays on the
    calling thread, one row at a time (the store serialises enrollments anyway,
    under its enrollment lock, across every process sharing the database)."""

    def __init__(
        self,
        service: EnrollmentService,
        store: IdentityStore,
        operator: Operator,
        photos: PhotoFolder,
        faces_of: FacesOf,
        *,
        workers: int,
        rows_ahead: int,
        dry_run: bool,
    ) -> None:
        self._service = service
        self._store = store
        self._operator = operator
        self._photos = photos
        self._faces_of = faces_of
        self._workers = max(1, workers)
        self._window = self._workers * max(1, rows_ahead)
        self._dry_run = dry_run
        # The rows of each badge given on more than one row of the file.
        self._repeated_badges: dict[str, list[int]] = {}
        # The enrolled owners of the file's badges, read a batch of rows ahead.
        self._owners: dict[str, PersonSummary] = {}
        self._row_of_person: dict[uuid.UUID, int] = {}
        # The faces of the file's rows that went in (or would, in a dry run: it stores
        # nothing), templates only: a later row with one of them is refused for the
        # same reason in a dry run and a run, before the store's own check.
        self._file_faces = FileFaces()

    def run(
        self, rows: Iterable[RawRow], on_row: Callable[[RowResult], None] | None = None
    ) -> list[RowResult]:
        """Every row's result, in file order; ``on_row`` is called with each as it is
        decided. Raises StoreError if the database fails (the rows decided so far
        stand), AuthenticationFailed or NotAllowed if the operator may no longer enroll."""
        results: list[RowResult] = []
        pending: deque[_Pending] = deque()

        def finish_one() -> None:
            result = self._finish(pending.popleft())
            results.append(result)
            if on_row is not None:
                on_row(result)

        rows = list(rows)
        self._repeated_badges = repeated_badges(rows)
        with ThreadPoolExecutor(self._workers, thread_name_prefix="import-faces") as pool:
            try:
                for number, raw in enumerate(rows):
                    if number % OWNER_BATCH == 0:
                        self._read_owners(rows[number : number + OWNER_BATCH])
                    pending.append(self._start(raw, pool))
                    while len(pending) > self._window:
                        finish_one()
                while pending:
                    finish_one()
            finally:
                for waiting in pending:  # an error or an interrupt: no more face work
                    if waiting.faces is not None:
                        waiting.faces.cancel()
        return results

    def _read_owners(self, rows: Sequence[RawRow]) -> None:
        # A badge on several rows is refused on each, so no row of this run makes an
        # owner for a later row; another import at the same time may, which the store
        # refuses and _store_row reads again.
        badges = {raw.cells["badge"].strip() for raw in rows} - {""}
        # Added to, never replaced: rows of the last batch may still be waiting.
        self._owners.update(self._store.people_with_external_refs(badges, actor=self._operator))

    def _start(self, raw: RawRow, pool: ThreadPoolExecutor) -> _Pending:
        badge = raw.cells["badge"].strip()
        try:
            checked = self._check(person_row(raw))
        except (InvalidValue, InputRejected, NotAllowed) as refused:
            return _Pending(raw, badge, None, None, refused)
        return _Pending(raw, badge, checked, pool.submit(self._faces_of, checked), None)

    def _check(self, row: PersonRow) -> CheckedRow:
        """The row's details as a single enrollment checks them, the badge once per
        file, and every photo name inside the photo folder."""
        # A badge on several rows: refused here, unless the badge's person is enrolled
        # already, whose own row may then be matched as "already enrolled" (_store_row).
        if row.badge in self._repeated_badges and row.badge not in self._owners:
            raise self._badge_repeated(row.badge)
        if len(row.photos) > MAX_ENROLLMENT_IMAGES:  # before any is read; enroll checks again
            raise InvalidValue(
                f"{len(row.photos)} photos; enrollment takes at most {MAX_ENROLLMENT_IMAGES}: "
                "choose the best ones"
            )
        reference = clean_consent_reference(row.consent_reference)
        details = self._service.details(
            row.name,
            row.badge,
            _consent(row, reference),
            consent_given=reference is not None,
            groups=row.groups,
            validity=row.validity,
            form_reference=reference,
        )
        photos = tuple((name, self._photos.path(name)) for name in row.photos)
        return CheckedRow(row.row, details, photos)

    def _finish(self, pending: _Pending) -> RowResult:
        if pending.refused is not None:
            return self._refused(pending, pending.refused, _photo_count(pending.raw))
        assert pending.checked is not None
        assert pending.faces is not None
        try:
            faces = pending.faces.result()
        except KioskError as error:
            return self._refused(pending, error, _photo_count(pending.raw))
        except Exception as error:  # one odd photo must not stop the import
            log.debug("row %d: the face step failed", pending.raw.row, exc_info=True)
            unexpected = InputRejected(
                f"the photos could not be processed ({type(error).__name__}: {error})"
            )
            return self._refused(pending, unexpected, _photo_count(pending.raw))
        return self._store_row(pending, pending.checked, faces.samples, faces.probes)

    def _store_row(
        self,
        pending: _Pending,
        checked: CheckedRow,
        faces: tuple[LabelledSample, ...],
        probes: tuple[LabelledProbe, ...],
    ) -> RowResult:
        repeated = pending.badge in self._repeated_badges
        try:
            already = self._already_enrolled(checked, faces, self._owners)
            if already is None and repeated:
                raise self._badge_repeated(pending.badge)
            if already is None:
                self._refuse_face_in_file(faces)
        except AlreadyEnrolled as error:
            # Another face on a repeated badge: refused for the repeat, as every other.
            refusal = self._badge_repeated(pending.badge) if repeated else error
            return self._refused(pending, refusal, len(faces))
        except DuplicateBadgeInFile as error:
            return self._refused(pending, error, len(faces))
        if already is not None:
            return already
        try:
            result = self._service.enroll_faces(
                self._operator,
                checked.details,
                faces,
                probes,
                dry_run=self._dry_run,
                early_check=False,
            )
        except AlreadyEnrolled as error:
            # Another import may have enrolled this very person a moment ago: no error.
            try:
                already = self._already_enrolled(checked, faces, None)
            except AlreadyEnrolled:
                already = None
            if already is not None:
                return already
            return self._refused(pending, self._in_file(error), len(faces), audited=True)
        except _STORE_REFUSALS as error:
            return self._refused(pending, error, len(faces), audited=True)
        self._file_faces.add(checked.row, faces)
        if self._dry_run:
            return RowResult(checked.row, pending.badge, RowOutcome.WOULD_ENROLL)
        self._row_of_person[result.person_id] = checked.row
        return RowResult(
            checked.row, pending.badge, RowOutcome.ENROLLED, person_id=result.person_id
        )

    def _already_enrolled(
        self,
        checked: CheckedRow,
        faces: tuple[LabelledSample, ...],
        owners: Mapping[str, PersonSummary] | None,
    ) -> RowResult | None:
        """The "already enrolled" result when the badge's person has this face; None
        when the badge is free; AlreadyEnrolled when it belongs to another face.
        ``owners``: the badges' owners read before; None: read this one now."""
        badge = checked.details.external_ref
        assert badge is not None
        if owners is None:
            owners = self._store.people_with_external_refs([badge], actor=self._operator)
        owner = owners.get(badge)
        if owner is None:
            return None
        if self._service.is_enrolled_as(faces, owner.id):
            return RowResult(
                checked.row,
                badge,
                RowOutcome.ALREADY_ENROLLED,
                reason=f"already enrolled as {owner.id}; nothing changed",
                person_id=owner.id,
            )
        raise AlreadyEnrolled(
            f"badge {badge} belongs to enrolled person {owner.display_name} ({owner.id}), "
            "whose face does not match these photos; check the badge and the photos",
            owner.id,
        )

    def _badge_repeated(self, badge: str) -> DuplicateBadgeInFile:
        rows = row_list(self._repeated_badges[badge])
        return DuplicateBadgeInFile(
            f"badge {badge} is on rows {rows} of this file, so none of them is enrolled "
            "from it: give each person their own badge, once per file"
        )

    def _refuse_face_in_file(self, faces: tuple[LabelledSample, ...]) -> None:
        closest = self._file_faces.closest(faces)
        if closest is None:
            return
        row, label, similarity = closest
        if self._service.is_same_face(similarity):
            raise DuplicateFaceInFile(
                f"{label} shows the same face as row {row} of this file (similarity "
                f"{similarity:.2f}): one face, one identity; the earlier row keeps it"
            )

    def _in_file(self, error: AlreadyEnrolled) -> KioskError:
        """The store's refusal, as a duplicate within the file when the face's person
        was enrolled from an earlier row (a face the check before the store missed)."""
        row = self._row_of_person.get(error.person_id) if error.person_id else None
        if row is None:
            return error
        return DuplicateFaceInFile(
            f"{error} (enrolled from row {row} of this file)", error.person_id
        )

    def _refused(
        self, pending: _Pending, error: KioskError, images: int, *, audited: bool = False
    ) -> RowResult:
        if not audited and not self._dry_run and isinstance(error, REFUSALS):
            self._service.record_refusal(self._operator, error, images)
        return RowResult(
            pending.raw.row,
            pending.badge,
            RowOutcome.REFUSED,
            reason=" ".join(str(error).split()),
            code=refusal_reason(error),
        )


def _consent(row: PersonRow, reference: str | None) -> ConsentText:
    """The text of the row's consent version; without a reference (which the consent
    rule refuses first) an unknown version is not the problem to report."""
    try:
        return consent_text(row.consent_version)
    except InvalidValue:
        if reference is not None:
            raise
        return current_consent()


def _photo_count(raw: RawRow) -> int:
    return len([name for name in raw.cells["photos"].split(LIST_SEPARATOR) if name.strip()])
