"""Enrolling a person: consent, the quality gate, one face one identity, then the store."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from core.accounts.permissions import Permission, authorize
from core.enrollment.consent import ConsentText
from core.enrollment.model_change import probes_for
from core.enrollment.names import clean_display_name, clean_external_ref
from core.enrollment.refusals import refusal_reason
from core.errors import (
    AlreadyEnrolled,
    ConsentMissing,
    InputRejected,
    InvalidValue,
    NotAllowed,
    QualityRejected,
)
from core.faces import BGRImage
from core.matching.match_rule import decide
from core.matching.people_search import search_people
from core.records import (
    MAX_TEMPLATES_PER_PERSON,
    ConsentGrant,
    Enrollment,
    NewTemplate,
    Operator,
)
from core.rules.model import Validity, check_name
from core.settings import MatchSettings
from core.store import IdentityStore
from core.vision.engine import FaceEngine, FaceSample

MAX_ENROLLMENT_IMAGES = MAX_TEMPLATES_PER_PERSON


@dataclass(frozen=True)
class EnrollmentResult:
    person_id: uuid.UUID
    templates: int


class EnrollmentService:
    """Enrolls people after recorded consent. Thread-safe if the store is."""

    def __init__(self, engine: FaceEngine, store: IdentityStore, matching: MatchSettings) -> None:
        self._engine = engine
        self._store = store
        self._matching = matching

    def enroll(
        self,
        operator: Operator,
        display_name: str,
        external_ref: str | None,
        images: Sequence[tuple[str, BGRImage]],
        consent: ConsentText,
        consent_given: bool,
        *,
        groups: Sequence[str] | None = None,
        validity: Validity | None = None,
    ) -> EnrollmentResult:
        """Every image must pass the quality gate, or nothing is stored.

        ``groups``: the access groups the person joins (None: the site's default
        group); ``validity``: the days they may pass (core.rules.model.Validity).

        Raises NotAllowed (no permission; ConsentMissing: no consent;
        AlreadyEnrolled: the face or the external reference already enrolled),
        NotFound (a group that does not exist), InvalidValue (name, badge, no
        images or more than MAX_ENROLLMENT_IMAGES)
        and QualityRejected (an image fails the gate, or shows someone else).

        A refusal other than the permission's (which is audited as a denial) is
        audited with its reason before it is raised."""
        authorize(operator, Permission.ENROLL, self._store)
        try:
            access = _access(groups, validity)
            return self._enroll(
                operator, display_name, external_ref, images, consent, consent_given, access
            )
        except (NotAllowed, InvalidValue, InputRejected) as refused:
            self._store.record_refused_enrollment(operator, refusal_reason(refused), len(images))
            raise

    def _enroll(
        self,
        operator: Operator,
        display_name: str,
        external_ref: str | None,
        images: Sequence[tuple[str, BGRImage]],
        consent: ConsentText,
        consent_given: bool,
        access: tuple[tuple[str, ...] | None, Validity],
    ) -> EnrollmentResult:
        if not consent_given:
            raise ConsentMissing(
                "enrollment needs the person's recorded consent: read them the consent "
                f"text ({consent.version}) and confirm it"
            )
        name = clean_display_name(display_name)
        reference = clean_external_ref(external_ref)
        if not images:
            raise InvalidValue("enrollment needs at least one image")
        if len(images) > MAX_ENROLLMENT_IMAGES:
            raise InvalidValue(
                f"{len(images)} images; enrollment takes at most {MAX_ENROLLMENT_IMAGES}"
            )
        samples = [(label, self._engine.enrollment_sample(image, label)) for label, image in images]
        self._check_same_person(samples)
        # People enrolled with an earlier model pack are compared through its model.
        probes = probes_for(
            self._engine,
            self._store,
            [
                (label, image, sample)
                for (label, image), (_, sample) in zip(images, samples, strict=True)
            ],
        )
        model = self._engine.template_model
        self._check_not_enrolled(
            [(label, NewTemplate(s.embedding, model, s.face.score)) for label, s in samples]
            + list(probes)
        )
        enrollment = Enrollment(
            display_name=name,
            external_ref=reference,
            consent=ConsentGrant(consent.version, consent.sha256, operator),
            templates=tuple(
                NewTemplate(sample.embedding, self._engine.template_model, sample.face.score)
                for _, sample in samples
            ),
            probes=tuple(probe for _, probe in probes),
            groups=access[0],
            valid_from=access[1].valid_from,
            valid_until=access[1].valid_until,
            # The store checks again under its lock: the check above is only the quick
            # answer, two enrollments of one face may pass it at the same moment.
            duplicate_threshold=self._matching.threshold,
        )
        return EnrollmentResult(self._store.enroll(enrollment), len(samples))

    def _check_same_person(self, samples: Sequence[tuple[str, FaceSample]]) -> None:
        first_label, first = samples[0]
        for label, sample in samples[1:]:
            similarity = float(np.dot(first.embedding, sample.embedding))
            if similarity < self._matching.threshold:
                raise QualityRejected(
                    f"{label} does not look like the same person as {first_label} "
                    f"(similarity {similarity:.2f}); use photos of one person only",
                    [],
                )

    def _check_not_enrolled(self, templates: Sequence[tuple[str, NewTemplate]]) -> None:
        # A second identity for one face would make both ambiguous at the door.
        for label, template in templates:
            found = search_people(self._store, template.embedding, template.model, self._matching)
            best = decide(found, self._matching).best
            if best is not None and best.similarity >= self._matching.threshold:
                raise AlreadyEnrolled(
                    f"{label} already matches enrolled person {best.display_name} "
                    f"({best.person_id}, similarity {best.similarity:.2f}); "
                    "delete that person before enrolling again"
                )


def _access(
    groups: Sequence[str] | None, validity: Validity | None
) -> tuple[tuple[str, ...] | None, Validity]:
    """The groups, checked as names (InvalidValue), each once; the validity as given."""
    names: tuple[str, ...] | None = None
    if groups is not None:
        try:
            names = tuple(sorted({check_name("group", g) for g in groups}))
        except ValueError as error:
            raise InvalidValue(str(error)) from error
    return names, validity if validity is not None else Validity()
