"""More photos of an enrolled person: the same quality gate and one-face-one-identity
check as an enrollment, and the faces must be that person's."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Protocol

from core.accounts.permissions import Permission, authorize
from core.enrollment.enrollment import REFUSALS, EnrollmentService
from core.enrollment.refusals import refusal_reason
from core.errors import KioskError, QualityRejected
from core.faces import BGRImage
from core.records import NewTemplate, Operator
from core.settings import MatchSettings
from core.store import DenialLog


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
        audited as ``person.photos_added``; returns how many they have now. Under the
        enrollment lock (one enrollment at a time per database), each template is
        compared exactly with every other active person's: AlreadyEnrolled at or above
        ``duplicate_threshold``. Raises NotFound, NotAllowed, InvalidValue (more than
        MAX_TEMPLATES_PER_PERSON in all)."""
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
        """Every image through the enrollment's quality gate, all of one person, and
        that person the enrolled ``person_id`` (compared exactly with their templates
        of the model in use); then stored. Returns the person's template count.

        Raises NotAllowed (no ENROLL permission; AlreadyEnrolled: a face is someone
        else's), QualityRejected (a photo fails the gate, or is not this person),
        InvalidValue, NotFound. A refusal other than the permission's is audited."""
        authorize(operator, Permission.ENROLL, self._store)
        try:
            faces = self._enrollment.faces(images)
            if not self._enrollment.is_enrolled_as(faces, person_id):
                raise QualityRejected(
                    f"the photos do not look like enrolled person {person_id} (or they have "
                    f"no templates of the model in use, {self._model}: re-enroll them)",
                    [],
                )
            return self._store.add_templates(
                person_id,
                [NewTemplate(s.embedding, self._model, s.face.score) for _, s in faces],
                actor=operator,
                duplicate_threshold=self._matching.threshold,
            )
        except REFUSALS as refused:
            self.record_refusal(operator, person_id, refused, len(images))
            raise

    def record_refusal(
        self, operator: Operator, person_id: uuid.UUID, refused: KioskError, images: int
    ) -> None:
        """Audit refused photos: who, whose, the refusal's code and the image count."""
        self._store.record_refused_photos(operator, person_id, refusal_reason(refused), images)
