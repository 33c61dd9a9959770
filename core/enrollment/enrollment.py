"""Enrolling a person: consent, the quality gate, one face one identity, then the store.

An enrollment is four steps, each a method, so that a bulk import runs the very
same ones: ``details`` (the consent rule, the name, badge, groups and validity),
``faces`` (the quality gate on every image and one person in all of them; pure,
so it may run on several threads at once), ``probes`` (the faces as the models
of people not yet re-enrolled after a change of model pack see them) and
``enroll_faces`` (one face one identity, then the store). ``enroll`` runs them
for one person.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from core.accounts.permissions import Permission, authorize
from core.enrollment.consent import ConsentText, clean_consent_reference
from core.enrollment.model_change import probes_for
from core.enrollment.names import clean_display_name, clean_external_ref
from core.enrollment.refusals import refusal_reason
from core.errors import (
    AlreadyEnrolled,
    ConsentMissing,
    InputRejected,
    InvalidValue,
    KioskError,
    NotAllowed,
    QualityRejected,
    UnknownGroup,
)
from core.faces import BGRImage
from core.match_settings import MatchSettings
from core.matching.people_search import search_people
from core.records import (
    MAX_TEMPLATES_PER_PERSON,
    ConsentGrant,
    Enrollment,
    NewTemplate,
    Operator,
)
from core.rules.model import Validity, check_name
from core.store import IdentityStore
from core.vision.engine import FaceEngine, FaceSample

MAX_ENROLLMENT_IMAGES = MAX_TEMPLATES_PER_PERSON

LabelledSample = tuple[str, FaceSample]
"""A face that passed the quality gate, with the label of its image (a file name)."""

LabelledProbe = tuple[str, NewTemplate]
"""A face embedded by an earlier model pack's model, with the label of its image."""

# The refusals an enrollment audits as such (a refused permission is audited as a
# denial by authorize), an unknown group among them: an enrollment refused for any
# reason leaves a trace.
REFUSALS: tuple[type[KioskError], ...] = (NotAllowed, InvalidValue, InputRejected, UnknownGroup)


@dataclass(frozen=True)
class EnrollmentResult:
    person_id: uuid.UUID
    templates: int


@dataclass(frozen=True)
class EnrollmentDetails:
    """A person's details as ``EnrollmentService.details`` checked them."""

    display_name: str
    external_ref: str | None
    consent: ConsentText
    form_reference: str | None
    """The signed consent form's reference; None: consent given in person."""
    groups: tuple[str, ...] | None
    validity: Validity


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
        form_reference: str | None = None,
    ) -> EnrollmentResult:
        """Every image must pass the quality gate, or nothing is stored.

        ``groups``: the access groups the person joins (None: the site's default
        group); ``validity``: the days they may pass (core.rules.model.Validity);
        ``form_reference``: the signed consent form's, when consent was given on
        paper rather than read out and witnessed by ``operator``.

        Raises NotAllowed (no permission; ConsentMissing: no consent;
        AlreadyEnrolled: the face or the external reference already enrolled),
        NotFound (a group that does not exist), InvalidValue (name, badge, no
        images or more than MAX_ENROLLMENT_IMAGES)
        and QualityRejected (an image fails the gate, or shows someone else).

        A refusal other than the permission's (which is audited as a denial) is
        audited with its reason before it is raised."""
        authorize(operator, Permission.ENROLL, self._store)
        try:
            details = self.details(
                display_name,
                external_ref,
                consent,
                consent_given,
                groups=groups,
                validity=validity,
                form_reference=form_reference,
            )
            faces = self.faces(images)
            probes = self.probes(images, faces)
            return self._enroll(operator, details, faces, probes, dry_run=False)
        except REFUSALS as refused:
            self.record_refusal(operator, refused, len(images))
            raise

    def details(
        self,
        display_name: str,
        external_ref: str | None,
        consent: ConsentText,
        consent_given: bool,
        *,
        groups: Sequence[str] | None = None,
        validity: Validity | None = None,
        form_reference: str | None = None,
    ) -> EnrollmentDetails:
        """The consent rule, then the details cleaned; raises ConsentMissing or
        InvalidValue. Touches no store: a bulk import checks every row first."""
        if not consent_given:
            raise ConsentMissing(
                "enrollment needs the person's recorded consent to the consent text "
                f"({consent.version}): read it to them and confirm it, or give the "
                "reference of the consent form they signed"
            )
        names: tuple[str, ...] | None = None
        if groups is not None:
            try:
                names = tuple(sorted({check_name("group", g) for g in groups}))
            except ValueError as error:
                raise InvalidValue(str(error)) from error
        return EnrollmentDetails(
            display_name=clean_display_name(display_name),
            external_ref=clean_external_ref(external_ref),
            consent=consent,
            form_reference=clean_consent_reference(form_reference),
            groups=names,
            validity=validity if validity is not None else Validity(),
        )

    def faces(self, images: Sequence[tuple[str, BGRImage]]) -> tuple[LabelledSample, ...]:
        """Each image's one face through the whole quality gate, all of one person.

        Raises InvalidValue (no images, or more than MAX_ENROLLMENT_IMAGES) and
        QualityRejected. Pure: no store, no audit; safe from several threads."""
        if not images:
            raise InvalidValue("enrollment needs at least one image")
        if len(images) > MAX_ENROLLMENT_IMAGES:
            raise InvalidValue(
                f"{len(images)} images; enrollment takes at most {MAX_ENROLLMENT_IMAGES}"
            )
        samples = tuple(
            (label, self._engine.enrollment_sample(image, label)) for label, image in images
        )
        self._check_same_person(samples)
        return samples

    def probes(
        self, images: Sequence[tuple[str, BGRImage]], faces: Sequence[LabelledSample]
    ) -> tuple[LabelledProbe, ...]:
        """``faces`` (from ``faces(images)``) embedded by each model that people not yet
        re-enrolled after a change of model pack were enrolled with; () when there are
        none (core.enrollment.model_change). Raises ReenrollmentPending when such a
        model is not installed here. Reads the store; safe from several threads."""
        return probes_for(
            self._engine,
            self._store,
            [
                (label, image, sample)
                for (label, image), (_, sample) in zip(images, faces, strict=True)
            ],
        )

    def enroll_faces(
        self,
        operator: Operator,
        details: EnrollmentDetails,
        faces: Sequence[LabelledSample],
        probes: Sequence[LabelledProbe] = (),
        *,
        dry_run: bool = False,
        early_check: bool = True,
    ) -> EnrollmentResult:
        """The last step of ``enroll``, for faces already through ``faces``: one face
        one identity, then the store. Raises as ``enroll``; a refusal is audited
        unless ``dry_run``, which stores nothing (the person id is the one they
        would have had).

        ``early_check``: the quick search through the index before the store's
        exact check under its lock. Only the store's check decides; the early one
        names the photo in its refusal. A bulk import leaves it out: it costs a
        search or two per photo, and the store's check follows at once."""
        authorize(operator, Permission.ENROLL, self._store)
        try:
            return self._enroll(
                operator, details, faces, probes, dry_run=dry_run, early_check=early_check
            )
        except REFUSALS as refused:
            if not dry_run:
                self.record_refusal(operator, refused, len(faces))
            raise

    def is_enrolled_as(self, faces: Sequence[LabelledSample], person_id: uuid.UUID) -> bool:
        """Whether every one of ``faces`` is the enrolled person ``person_id``'s face,
        compared exactly with their templates (a bulk import's "already enrolled")."""
        found = self._store.similarities_to_person(
            person_id, [sample.embedding for _, sample in faces], self._engine.template_model
        )
        return all(self.is_same_face(similarity) for similarity in found)

    def is_same_face(self, similarity: float) -> bool:
        """Whether two faces this similar are one face (one face, one identity)."""
        return similarity >= self._matching.threshold

    def record_refusal(self, operator: Operator, refused: KioskError, images: int) -> None:
        """Audit a refused enrollment: who, the refusal's code and the image count."""
        self._store.record_refused_enrollment(operator, refusal_reason(refused), images)

    def _enroll(
        self,
        operator: Operator,
        details: EnrollmentDetails,
        faces: Sequence[LabelledSample],
        probes: Sequence[LabelledProbe],
        *,
        dry_run: bool,
        early_check: bool = True,
    ) -> EnrollmentResult:
        if early_check:
            model = self._engine.template_model
            self._check_not_enrolled(
                [(label, NewTemplate(s.embedding, model, s.face.score)) for label, s in faces]
                + list(probes)
            )
        consent = details.consent
        enrollment = Enrollment(
            display_name=details.display_name,
            external_ref=details.external_ref,
            consent=ConsentGrant(consent.version, consent.sha256, operator, details.form_reference),
            templates=tuple(
                NewTemplate(sample.embedding, self._engine.template_model, sample.face.score)
                for _, sample in faces
            ),
            probes=tuple(probe for _, probe in probes),
            groups=details.groups,
            valid_from=details.validity.valid_from,
            valid_until=details.validity.valid_until,
            # The store checks again under its lock: the check above is only the quick
            # answer, two enrollments of one face may pass it at the same moment.
            duplicate_threshold=self._matching.threshold,
        )
        person_id = self._store.enroll(enrollment, dry_run=dry_run)
        return EnrollmentResult(person_id, len(faces))

    def _check_same_person(self, samples: Sequence[LabelledSample]) -> None:
        first_label, first = samples[0]
        for label, sample in samples[1:]:
            similarity = float(np.dot(first.embedding, sample.embedding))
            if not self.is_same_face(similarity):
                raise QualityRejected(
                    f"{label} does not look like the same person as {first_label} "
                    f"(similarity {similarity:.2f}); use photos of one person only",
                    [],
                )

    def _check_not_enrolled(self, templates: Sequence[LabelledProbe]) -> None:
        # A second identity for one face would make both ambiguous at the door.
        for label, template in templates:
            found = search_people(self._store, template.embedding, template.model, self._matching)
            best = found.decision.best
            if best is not None and self.is_same_face(best.similarity):
                # Say what happened, not "delete them": the enrolled person is
                # usually the right one, and the photo the mistake.
                raise AlreadyEnrolled(
                    f"{label}: this photo's face is already enrolled as {best.display_name} "
                    f"({best.person_id}, similarity {best.similarity:.2f}); one face has "
                    "one identity: check that the photo shows the person you mean to enroll",
                    best.person_id,
                    display_name=best.display_name,
                )
