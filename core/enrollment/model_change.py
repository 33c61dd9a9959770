"""Keeping one face one identity across a change of model pack.

Templates of different models cannot be compared, so the choice was between refusing
every enrollment until the gallery is re-enrolled with the new model, and comparing a
new face with each model present. Refusing would block the re-enrollment itself (a
re-enrolled person is a new enrollment, refused while anyone else waits), so a new
face is compared through every model the gallery's unmigrated people were enrolled
with: aligned once, embedded by each of those models (FaceEngine.embed_as), and
checked against their templates by the store under its enrollment lock. Only when
such a model is not installed here is the enrollment refused, naming the way out.
"""

from __future__ import annotations

from collections.abc import Sequence

from core.enrollment.reenrollment import unchecked_models_refusal
from core.faces import BGRImage
from core.records import NewTemplate
from core.store import IdentityStore
from core.vision.engine import FaceEngine, FaceSample


def probes_for(
    engine: FaceEngine,
    store: IdentityStore,
    samples: Sequence[tuple[str, BGRImage, FaceSample]],
) -> tuple[tuple[str, NewTemplate], ...]:
    """Each (label, photo, sample)'s face embedded by each model that people lacking the
    engine's model are enrolled with, with its label; () when everyone has templates
    of the engine's model.

    Raises ReenrollmentPending if one of those models is not installed here."""
    need = store.reenrollment_needed(engine.template_model)
    if need.people == 0:
        return ()
    probes: list[tuple[str, NewTemplate]] = []
    missing: list[str] = []
    for model in need.their_models:
        for label, photo, sample in samples:
            embedding = engine.embed_as(model, photo, sample.face)
            if embedding is None:
                missing.append(model)
                break
            probes.append((label, NewTemplate(embedding, model, sample.face.score)))
    if missing:
        raise unchecked_models_refusal(need, missing, installed=False)
    return tuple(probes)
