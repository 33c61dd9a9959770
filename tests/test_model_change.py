"""A change of model pack (issue 27, photos 6): identify says who must be re-enrolled,
``people --model`` lists them, and one face keeps one identity across models.

"Another model" is the bundled recognizer with a fixed random rotation of its output
appended, built at test time: as good as the original, but in another embedding
space, so its embeddings and the original's cannot be compared, as with any two
different models.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from core.accounts.operators import Authenticator
from core.enrollment.consent import current_consent
from core.errors import AlreadyEnrolled, ReenrollmentPending
from core.inference.insightface_backend import load_engine
from core.inference.modelpack import resolve_model_pack
from core.records import ConsentGrant, Enrollment, NewTemplate
from core.settings import ModelSettings, SecuritySettings, Settings
from core.vision.engine import FaceEngine
from storage import schema
from storage.identity_store import SqlIdentityStore
from storage.operator_store import SqlOperatorStore
from tests.cli_fixtures import as_json
from tests.conftest import good_stranger
from tests.photo_cases import Gallery, bgr_of

BUNDLED_MODEL = "w600k_mbf@9cc6e4a75f0e"


@pytest.fixture(scope="session")
def turned_pack(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A pack with the bundled detector and a recognizer whose embeddings are turned."""
    import onnx
    from onnx import helper, numpy_helper

    bundled = resolve_model_pack(None)
    folder = tmp_path_factory.mktemp("turned_pack")
    shutil.copy(bundled.detection.path, folder / bundled.detection.path.name)
    model = onnx.load(str(bundled.recognition.path))
    graph = model.graph
    (output,) = graph.output
    turn, _ = np.linalg.qr(np.random.default_rng(27).normal(size=(512, 512)))
    graph.initializer.append(numpy_helper.from_array(turn.astype(np.float32), "turn"))
    graph.node.append(helper.make_node("MatMul", [output.name, "turn"], ["turned"]))
    turned = onnx.ValueInfoProto()
    turned.CopyFrom(output)
    turned.name = "turned"
    graph.output.remove(output)
    graph.output.append(turned)
    onnx.save(model, str(folder / "w600k_turned.onnx"))
    return folder


@pytest.fixture(scope="session")
def turned_engine(turned_pack: Path) -> FaceEngine:
    return load_engine(Settings(models=ModelSettings(pack_dir=turned_pack)))


def test_the_turned_pack_is_another_model(
    face_engine: FaceEngine, turned_engine: FaceEngine, yaoming_jpg: Path, photos: Path
) -> None:
    assert face_engine.template_model == BUNDLED_MODEL
    assert turned_engine.template_model.startswith("w600k_turned@")
    yao, crop = bgr_of(yaoming_jpg), bgr_of(photos / "yaoming_in_players.jpg")
    for engine in (face_engine, turned_engine):
        same = engine.identification_sample(yao, "a").embedding
        assert float(same @ engine.identification_sample(crop, "b").embedding) > 0.5
    across = face_engine.identification_sample(yao, "a").embedding
    assert abs(float(across @ turned_engine.identification_sample(yao, "a").embedding)) < 0.3


# ---- kiosk-admin, as an operator meets it --------------------------------------------------


def test_identify_with_another_model_says_who_must_be_re_enrolled(
    admin_cli, turned_pack: Path, turned_engine: FaceEngine, yaoming_jpg: Path
) -> None:  # type: ignore[no-untyped-def]
    enrolled = admin_cli(
        "enroll", "--operator", "alice", "--name", "Yao Ming", "--image", yaoming_jpg, "--consent"
    )
    assert enrolled.returncode == 0, enrolled.stderr
    result = admin_cli(
        "--model-dir", turned_pack, "identify", "--operator", "alice", "--image", yaoming_jpg
    )
    assert result.returncode == 0, result.stderr
    assert "nobody is enrolled yet" not in result.stdout
    assert (
        f"nobody is enrolled with the model in use ({turned_engine.template_model})"
        in result.stdout
    )
    assert (
        f"1 person is enrolled with another model ({BUNDLED_MODEL}) and cannot be recognised"
        in result.stdout
    )
    assert "kiosk-admin people --model" in result.stdout
    data = as_json(
        admin_cli(
            "--json", "--model-dir", turned_pack, "identify", "--operator", "alice",
            "--image", yaoming_jpg,
        )
    )  # fmt: skip
    assert (data["reason"], data["to_reenroll"]) == ("empty_gallery", 1)
    # With the model they were enrolled with, nothing is said.
    same = admin_cli("identify", "--operator", "alice", "--image", yaoming_jpg)
    assert same.stdout.startswith("match: Yao Ming")
    assert "re-enroll" not in same.stdout


def test_people_model_lists_who_must_be_re_enrolled(
    admin_cli, turned_pack: Path, turned_engine: FaceEngine, yaoming_jpg: Path
) -> None:  # type: ignore[no-untyped-def]
    enrolled = admin_cli(
        "enroll", "--operator", "alice", "--name", "Yao Ming", "--image", yaoming_jpg,
        "--external-ref", "B-7", "--consent",
    )  # fmt: skip
    assert enrolled.returncode == 0, enrolled.stderr
    waiting = admin_cli("--model-dir", turned_pack, "people", "--operator", "alice", "--model")
    assert waiting.returncode == 0, waiting.stderr
    assert f"enrolled with other models than {turned_engine.template_model}" in waiting.stdout
    heading, row = waiting.stdout.splitlines()[1:3]
    assert heading.split() == ["ID", "NAME", "REFERENCE", "MODELS"]
    assert row.split()[1:] == ["Yao", "Ming", "B-7", BUNDLED_MODEL]
    data = as_json(
        admin_cli("--json", "--model-dir", turned_pack, "people", "--operator", "alice", "--model")
    )
    assert [p["name"] for p in data["people"]] == ["Yao Ming"]
    assert data["people"][0]["template_models"] == [BUNDLED_MODEL]
    # Named explicitly, and with the pack they were enrolled with: nobody waits.
    named = admin_cli("people", "--operator", "alice", "--model", turned_engine.template_model)
    assert "Yao Ming" in named.stdout
    none = admin_cli("people", "--operator", "alice", "--model")
    assert none.stdout.startswith("everyone enrolled has templates of the model in use")


def test_one_face_cannot_be_enrolled_twice_across_a_change_of_pack(
    admin_cli, turned_pack: Path, yaoming_jpg: Path, photos: Path
) -> None:  # type: ignore[no-untyped-def]
    enrolled = admin_cli(
        "enroll", "--operator", "alice", "--name", "Yao Ming", "--image", yaoming_jpg, "--consent"
    )
    assert enrolled.returncode == 0, enrolled.stderr
    again = admin_cli(
        "--model-dir", turned_pack, "enroll", "--operator", "alice", "--name", "Someone Else",
        "--image", photos / "yaoming_mirrored.jpg", "--consent",
    )  # fmt: skip
    assert again.returncode != 0
    assert "already enrolled as Yao Ming" in again.stderr


# ---- the services and the store ---------------------------------------------------------------


def test_enrollment_goes_on_during_the_change_and_compares_through_the_old_model(
    face_engine: FaceEngine,
    turned_engine: FaceEngine,
    identity_store: SqlIdentityStore,
    operator_store: SqlOperatorStore,
    db_engine: Engine,
    yaoming_jpg: Path,
    t1_jpg: Path,
) -> None:
    old = Gallery(face_engine, identity_store, operator_store, Settings())
    new = old.seen_by(turned_engine)
    yao = bgr_of(yaoming_jpg)
    old.enroll("Yao Ming", ("yaoming.jpg", yao))
    # Someone new is enrolled while Yao Ming still waits: nothing is blocked...
    stranger = new.enroll("Stranger", ("stranger.jpg", good_stranger(face_engine, bgr_of(t1_jpg))))
    # ...and only the new model's templates are kept; the old model's view was a probe.
    with Session(db_engine) as session:
        kept = session.scalars(
            select(schema.FaceTemplate.model).where(
                schema.FaceTemplate.person_id == stranger.person_id
            )
        ).all()
    assert kept == [turned_engine.template_model]
    # Re-enrolling Yao Ming with the new pack: delete, enroll again; then recognised.
    assert new.identified_name(yao) is None
    person = identity_store.people("Yao Ming", 1, actor=old.admin)[0]
    identity_store.delete_person(person.id, old.admin)
    new.enroll("Yao Ming", ("yaoming.jpg", yao))
    assert new.identified_name(yao) == "Yao Ming"
    assert identity_store.reenrollment_needed(turned_engine.template_model).people == 0


def test_a_model_not_installed_here_refuses_enrollment_until_named(
    face_engine: FaceEngine,
    turned_engine: FaceEngine,
    turned_pack: Path,
    identity_store: SqlIdentityStore,
    operator_store: SqlOperatorStore,
    yaoming_jpg: Path,
    photos: Path,
    t1_jpg: Path,
) -> None:
    # Enrolled with the turned pack, then the site goes back to the bundled one, which
    # cannot see the turned model's templates.
    turned = Gallery(turned_engine, identity_store, operator_store, Settings())
    turned.enroll("Yao Ming", ("yaoming.jpg", bgr_of(yaoming_jpg)))
    bundled = turned.seen_by(face_engine)
    stranger = good_stranger(face_engine, bgr_of(t1_jpg))
    with pytest.raises(ReenrollmentPending) as refused:
        bundled.enroll("Stranger", ("stranger.jpg", stranger))
    message = str(refused.value)
    assert f"1 person is enrolled only with the model {turned_engine.template_model}" in message
    assert "models.earlier_pack_dirs" in message
    assert "kiosk-admin people --model" in message
    # Named as an earlier pack, its model compares: the same face is refused as such,
    # and someone else is enrolled.
    knowing = bundled.seen_by(
        load_engine(Settings(models=ModelSettings(earlier_pack_dirs=(turned_pack,))))
    )
    with pytest.raises(AlreadyEnrolled, match="already enrolled as Yao Ming"):
        knowing.enroll("Someone Else", ("mirrored.jpg", bgr_of(photos / "yaoming_mirrored.jpg")))
    assert knowing.enroll("Stranger", ("stranger.jpg", stranger)).templates == 1


def test_the_store_refuses_an_enrollment_not_compared_with_every_model(
    identity_store: SqlIdentityStore, operator_store: SqlOperatorStore
) -> None:
    # The service's look before the lock is only the quick answer: an enrollment that
    # passed it while someone was enrolled with another model is refused under the lock.
    admin = Authenticator(operator_store, SecuritySettings(), "k").create_first_admin(
        "alice", "tall-ladder-orange-77"
    )
    rng = np.random.default_rng(6)

    def enrollment(name: str, model: str, probes: tuple[NewTemplate, ...] = ()) -> Enrollment:
        vector = rng.normal(size=512).astype(np.float32)
        template = NewTemplate(vector / np.linalg.norm(vector), model, 0.8)
        consent = current_consent()
        return Enrollment(
            name, None, ConsentGrant(consent.version, consent.sha256, admin), (template,),
            probes=probes,
        )  # fmt: skip

    identity_store.enroll(enrollment("Enrolled Before", "old-model@1"))
    with pytest.raises(ReenrollmentPending, match=r"only with the model old-model@1"):
        identity_store.enroll(enrollment("Someone New", "new-model@2"))
    probe = enrollment("probe", "old-model@1").templates[0]
    assert identity_store.enroll(enrollment("Someone New", "new-model@2", (probe,)))
    assert identity_store.reenrollment_needed("new-model@2").people == 1


def test_enrollment_refused_for_a_model_change_is_audited_with_its_reason(
    face_engine: FaceEngine,
    turned_engine: FaceEngine,
    identity_store: SqlIdentityStore,
    operator_store: SqlOperatorStore,
    db_engine: Engine,
    yaoming_jpg: Path,
    t1_jpg: Path,
) -> None:
    turned = Gallery(turned_engine, identity_store, operator_store, Settings())
    turned.enroll("Yao Ming", ("yaoming.jpg", bgr_of(yaoming_jpg)))
    with pytest.raises(ReenrollmentPending):
        turned.seen_by(face_engine).enroll(
            "Stranger", ("s.jpg", good_stranger(face_engine, bgr_of(t1_jpg)))
        )
    with Session(db_engine) as session:
        refused = session.scalars(
            select(schema.AuditEvent).where(schema.AuditEvent.action == "person.enroll_refused")
        ).one()
    assert refused.details["reason"] == "reenrollment_pending"
