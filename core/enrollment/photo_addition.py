"""More photos of an enrolled person: the same quality gate and one-face-one-identity
check as an enrollment, the faces must be that person's, and their consent in force.

The photos go through the enrollment's own steps (``EnrollmentService.faces``: the
whole quality gate on each, one person in all of them); which photo is not the
person is found first (compared exactly with their templates). The store checks
under the enrollment lock and in the transaction that stores the templates: the
person is active, their consent in force, each face theirs and nobody else's, the
template limit. That check alone decides; the first one only names the photo in a
refusal for a face that is not the person's. kiosk-admin add-photos, the People
screen's Photos tab and the API's POST /people/{id}/photos all come here.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Protocol

from core.accounts.permissions import Permission, authorize
from core.enrollment.enrollment import REFUSALS, EnrollmentService
from core.enrollment.refusals import refusal_reason
from core.errors import KioskError, QualityRejected
from core.faces import BGRImage
from core.match_settings import MatchSettings
from core.records import NewTemplate, Operator
from core.store import DenialLog

PHOTOS_ADDED = "person.photos_added"
"""The audit action: who, whose, how many templates were added and how many they have."""


class PersonPhotoStore(DenialLog, Protocol):
    def add_templates(
        self,
        person_id: uuid.UUID,
        templates: Sequence[NewTemplate],
        *,
        actor: Operator,
        duplicate_threshold: float,
    ) -> int:
        """Add ``templates`` to the active person ``person_id`` in one transaction,
        audited as ``person.photos_added`` (counts only); returns how many they have
        now. Under the enrollment lock (one enrollment at a time per database), after
        checking there: the actor may enroll, the person is active (NotFound), their
        consent is in force (ConsentMissing), each template reaches
        ``duplicate_threshold`` against one of theirs (QualityRejected; NotAllowed
        when they have none of its model) and no other active person's
        (AlreadyEnrolled), and MAX_TEMPLATES_PER_PERSON in all (InvalidValue)."""
        ...

    def record_refused_photos(
        self, operator: Operator, person_id: uuid.UUID, reason: str, images: int
    ) -> None:
        """Audit refused photos (``person.photos_refused``): who, whose, why (a short
        code) and how many; its own transaction; never raises."""
        ...


class PhotoAddition:
    """Thread-safe if the stores are."""

    def __init__(
        self,
        enrollment: EnrollmentService,
        store: PersonPhotoStore,
        matching: MatchSettings,
        template_model: str,
    ) -> None:
        self._enrollment = enrollment
        self._store = store
        self._matching = matching
        self._model = template_model

    def add(
        self, operator: Operator, person_id: uuid.UUID, images: Sequence[tuple[str, BGRImage]]
    ) -> int:
        """Every image (label, photo) through the enrollment's quality gate, all of one
        person, and that person the enrolled ``person_id``; then stored. Returns the
        person's template count.

        Raises NotAllowed (no ENROLL permission; ConsentMissing: consent withdrawn;
        AlreadyEnrolled: a face is someone else's), QualityRejected (a photo fails
        the gate, or is not this person), InvalidValue (no photos, too many),
        NotFound. A refusal other than the permission's is audited."""
        authorize(operator, Permission.ENROLL, self._store)
        try:
            faces = self._enrollment.faces(images)
            stranger = next(
                (
                    label
                    for label, sample in faces
                    if not self._enrollment.is_enrolled_as([(label, sample)], person_id)
                ),
                None,
            )
            try:
                return self._store.add_templates(
                    person_id,
                    [NewTemplate(s.embedding, self._model, s.face.score) for _, s in faces],
                    actor=operator,
                    duplicate_threshold=self._matching.threshold,
                )
            except QualityRejected as refused:
                if stranger is None:
                    raise
                # The store decided (a withdrawn consent or a missing model comes first
                # there); this says which photo.
                raise QualityRejected(
                    f"{stranger} does not look like enrolled person {person_id}; add photos "
                    "of that person only",
                    [],
                ) from refused
        except REFUSALS as refused:
            self.record_refusal(operator, person_id, refused, len(images))
            raise

    def record_refusal(
        self, operator: Operator, person_id: uuid.UUID, refused: KioskError, images: int
    ) -> None:
        """Audit refused photos: who, whose, the refusal's code and the image count."""
        self._store.record_refused_photos(operator, person_id, refusal_reason(refused), images)
