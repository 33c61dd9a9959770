"""Adding photos to a person already enrolled: more templates of the same face.

The photos go through the enrollment's own steps (``EnrollmentService.faces``: the
whole quality gate on each, one person in all of them), then two checks with
photo names in their refusals: every photo is the person (its template reaches the
match threshold against one of theirs) and nobody else (no other active person's
template reaches it). The store checks again, under the enrollment lock, with the
consent and the template limit, in the transaction that stores the templates:
that check alone decides, the first only names the photo.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from core.accounts.permissions import Permission, authorize
from core.enrollment.enrollment import EnrollmentService
from core.errors import AlreadyEnrolled, InvalidValue, QualityRejected
from core.faces import BGRImage
from core.matching.match_rule import decide
from core.matching.people_search import search_people
from core.records import MAX_TEMPLATES_PER_PERSON, NewTemplate, Operator
from core.settings import MatchSettings
from core.store import DenialLog, IdentityStore

PHOTOS_ADDED = "person.photos_added"
"""The audit action: who, whose, how many templates were added and how many they have."""


@dataclass(frozen=True)
class TemplateAddition:
    """What the store checks and stores in one transaction."""

    person_id: uuid.UUID
    actor: Operator
    templates: tuple[NewTemplate, ...]
    threshold: float
    """A template at least this similar to one of the person's is their face; to
    another active person's, that person's face (MatchSettings.threshold)."""
    max_templates: int = MAX_TEMPLATES_PER_PERSON


@dataclass(frozen=True)
class PhotosAdded:
    person_id: uuid.UUID
    display_name: str
    added: int
    templates: int
    """The person's templates now, the new ones included."""


class PersonPhotosStore(DenialLog, Protocol):
    def add_templates(self, addition: TemplateAddition) -> PhotosAdded:
        """Store ``addition.templates`` for the person, with a ``person.photos_added``
        audit event (counts only), in one transaction under the enrollment lock, after
        checking there: the actor may enroll, the person is active (NotFound), their
        consent is in force (ConsentMissing), the limit (InvalidValue), each template
        is theirs (QualityRejected; NotAllowed when they have no template of its model)
        and no other active person's (AlreadyEnrolled)."""
        ...


class PhotoAdditionService:
    """Adds photos to an enrolled person. Thread-safe if the stores are."""

    def __init__(
        self,
        enrollment: EnrollmentService,
        identity: IdentityStore,
        photos: PersonPhotosStore,
        matching: MatchSettings,
    ) -> None:
        self._enrollment = enrollment
        self._identity = identity
        self._photos = photos
        self._matching = matching

    def add_photos(
        self,
        actor: Operator,
        person_id: uuid.UUID,
        images: Sequence[tuple[str, BGRImage]],
        template_model: str,
    ) -> PhotosAdded:
        """``images``: (label, photo) pairs, the label (a file name) named in refusals;
        ``template_model``: the engine's (FaceEngine.template_model).

        Raises NotAllowed (may not enroll; ConsentMissing: consent withdrawn;
        AlreadyEnrolled: a photo is another person's face), NotFound (no such
        active person), InvalidValue (no photos, too many) and QualityRejected (a
        photo fails the gate or is not the person)."""
        authorize(actor, Permission.ENROLL, self._photos)
        if not images:
            raise InvalidValue("give at least one photo to add")
        if len(images) > MAX_TEMPLATES_PER_PERSON:
            raise InvalidValue(
                f"{len(images)} photos; a person has at most {MAX_TEMPLATES_PER_PERSON} "
                "templates: choose the best ones"
            )
        faces = self._enrollment.faces(images)
        templates = [
            (label, NewTemplate(sample.embedding, template_model, sample.face.score))
            for label, sample in faces
        ]
        self._check_is_the_person(person_id, templates)
        self._check_nobody_else(person_id, templates)
        return self._photos.add_templates(
            TemplateAddition(
                person_id, actor, tuple(t for _, t in templates), self._matching.threshold
            )
        )

    def _check_is_the_person(
        self, person_id: uuid.UUID, templates: Sequence[tuple[str, NewTemplate]]
    ) -> None:
        model = templates[0][1].model
        found = self._identity.similarities_to_person(
            person_id, [t.embedding for _, t in templates], model
        )
        for (label, _), similarity in zip(templates, found, strict=True):
            if similarity == -1.0:
                return  # no template of this model: the store names the way out
            if not self._enrollment.is_same_face(similarity):
                raise QualityRejected(
                    f"{label} does not look like the person enrolled (similarity "
                    f"{similarity:.2f}, a match needs {self._matching.threshold:.2f}); "
                    "add photos of that person only",
                    [],
                )

    def _check_nobody_else(
        self, person_id: uuid.UUID, templates: Sequence[tuple[str, NewTemplate]]
    ) -> None:
        # One face, one identity: a photo of someone else would let them in as this person.
        for label, template in templates:
            found = search_people(
                self._identity, template.embedding, template.model, self._matching
            )
            others = [c for c in found if c.person_id != person_id]
            best = decide(others, self._matching).best
            if best is not None and self._enrollment.is_same_face(best.similarity):
                raise AlreadyEnrolled(
                    f"{label} is the face of another enrolled person, {best.display_name} "
                    f"({best.person_id}, similarity {best.similarity:.2f}); check whose "
                    "photos these are",
                    best.person_id,
                )
