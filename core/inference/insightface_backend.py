"""InsightFace's SCRFD detector and ArcFace embedder behind our Protocols.

The only module that touches insightface and onnxruntime. Each model file is
loaded by explicit path, so InsightFace never looks for (or fetches) a pack
under ``~/.insightface``.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from core.errors import ConfigurationError, ModelPackError
from core.faces import BGRImage, DetectedFace, Embedding, Points106
from core.inference.earlier_models import EarlierModels
from core.inference.modelpack import (
    EMBEDDING_DIMENSION,
    LANDMARKS_FILE,
    ModelPack,
    resolve_model_pack,
)
from core.inference.prelu_rewrite import rewrite_prelu
from core.settings import LivenessMode, ModelSettings, Settings
from core.vision.engine import FaceEngine

log = logging.getLogger(__name__)

# onnxruntime severity: 3 = errors only; its warnings are not for operators.
_ORT_LOG_ERRORS_ONLY = 3


# SCRFD's coarsest feature map has stride 32: both input sides must be multiples of it.
_SCRFD_STRIDE = 32


def detector_input(height: int, width: int, side: int) -> tuple[int, int]:
    """(width, height) of the detector input for an image of ``height`` x ``width``.

    The longer edge is scaled to ``side`` and the shorter edge is rounded up to the
    stride. A square input would pad a 4:3 camera frame with a fifth of black rows,
    which the detector searches too; the image is scaled exactly as in a square input.
    """
    if width >= height:
        return side, min(side, _stride_multiple(side * height / width))
    return min(side, _stride_multiple(side * width / height)), side


def _stride_multiple(length: float) -> int:
    return max(1, math.ceil(length / _SCRFD_STRIDE)) * _SCRFD_STRIDE


class ScrfdDetector:
    def __init__(self, model: Any, input_size: int, threshold: float) -> None:
        self._model = model
        self._side = input_size
        self._threshold = threshold

    @property
    def input_size(self) -> int:
        return self._side

    def with_input_size(self, size: int) -> ScrfdDetector:
        return ScrfdDetector(self._model, size, self._threshold)

    def detect(self, image: BGRImage) -> list[DetectedFace]:
        # Size and threshold go with each call: SCRFD keeps no per-call state then.
        height, width = image.shape[:2]
        boxes, landmarks = self._model.detect(
            image,
            input_size=detector_input(height, width, self._side),
            det_thresh=self._threshold,
        )
        if landmarks is None:
            raise ModelPackError(
                "the detection model gives no facial landmarks; use an SCRFD *kps model"
            )
        return [
            DetectedFace(
                box=(float(b[0]), float(b[1]), float(b[2]), float(b[3])),
                landmarks=np.asarray(points, dtype=np.float32),
                score=float(b[4]),
            )
            for b, points in zip(boxes, landmarks, strict=True)
        ]


class ArcFaceEmbedder:
    def __init__(self, model: Any) -> None:
        self._model = model

    @property
    def dimension(self) -> int:
        return EMBEDDING_DIMENSION

    def embed(self, aligned: BGRImage) -> Embedding:
        return np.asarray(self._model.get_feat(aligned), dtype=np.float32).ravel()


class Landmarker106:
    def __init__(self, model: Any) -> None:
        self._model = model

    def landmarks_106(self, image: BGRImage, face: DetectedFace) -> Points106:
        from insightface.app.common import Face

        # The model crops around the box itself; the Face dict is only its argument.
        found = self._model.get(image, Face(bbox=np.asarray(face.box, dtype=np.float32)))
        return np.asarray(found, dtype=np.float32).reshape(106, 2)


def load_engine(
    settings: Settings, pack: ModelPack | None = None, detector_input_size: int | None = None
) -> FaceEngine:
    """Resolve, verify and load the model pack once; warm it up so frame one is fast.

    ``detector_input_size`` overrides the photo size in settings (the kiosk
    passes its camera size), so the warm-up runs at the size that will be used."""
    if pack is None:
        pack = resolve_model_pack(settings.models.pack_dir)
    models = settings.models
    input_size = detector_input_size or models.detector_input_size
    providers = check_providers(models.providers)
    detector_model = _load(pack.detection.path, "detection", providers, models)
    embedder = load_recognizer(pack.recognition.path, providers, models)
    landmarker = None
    if settings.liveness.mode is not LivenessMode.OFF:
        if pack.landmarks is None:
            raise ModelPackError(
                f"liveness.mode is {settings.liveness.mode.value}, which needs the 106-point "
                f"landmark model {LANDMARKS_FILE} in {pack.directory}; add it, or set "
                "liveness.mode = off"
            )
        landmarker = Landmarker106(_load(pack.landmarks.path, "landmark_2d_106", providers, models))
    engine = FaceEngine(
        ScrfdDetector(detector_model, input_size, models.detection_threshold),
        embedder,
        settings.quality,
        pack.template_model,
        settings.images.max_pixels,
        landmarker,
        photo_border=models.photo_border,
        photo_edge_margin=models.photo_edge_margin,
        other_embedders=EarlierModels(
            (None, *models.earlier_pack_dirs),
            lambda path: load_recognizer(path, providers, models),
        ),
    )
    warm_up = np.zeros((input_size * 3 // 4, input_size, 3), np.uint8)  # a 4:3 camera frame
    engine.detect(warm_up)
    log.info("loaded model pack %s from %s on %s", pack.name, pack.directory, providers)
    return engine


def load_recognizer(path: Path, providers: list[str], models: ModelSettings) -> ArcFaceEmbedder:
    """The recognition model in ``path``; raises ModelPackError if it is none, or gives
    embeddings of another size than the store's templates."""
    model = _load(path, "recognition", providers, models)
    output_shape = model.session.get_outputs()[0].shape
    if output_shape[-1] != EMBEDDING_DIMENSION:
        raise ModelPackError(
            f"{path.name} gives {output_shape[-1]}-d embeddings; "
            f"the store holds {EMBEDDING_DIMENSION}-d templates"
        )
    return ArcFaceEmbedder(model)


def check_providers(requested: Sequence[str]) -> list[str]:
    import onnxruntime

    available = onnxruntime.get_available_providers()
    for name in requested:
        if name not in available:
            hint = (
                "install onnxruntime-gpu in place of onnxruntime, with a matching CUDA"
                if name.startswith(("CUDA", "Tensorrt"))
                else "check the spelling"
            )
            raise ConfigurationError(
                f"onnxruntime provider {name} is not available here "
                f"(available: {', '.join(available)}); {hint}, or use CPUExecutionProvider"
            )
    return list(requested)


def _faster_session(path: Path, original: Any, options: Any, providers: list[str]) -> Any:
    """A session of the model with its PReLUs rewritten, if it has any and the
    rewritten model answers a probe as the original does; otherwise None."""
    import onnxruntime

    probe = _probe_input(original)
    if probe is None:
        return None
    try:
        rewritten = rewrite_prelu(path.read_bytes())
        if rewritten is None:
            return None
        session = onnxruntime.InferenceSession(rewritten, options, providers=providers)
        want, got = original.run(None, probe), session.run(None, probe)
    except Exception as error:  # noqa: BLE001 - the original loaded; keep it rather than stop
        log.warning("%s: the PReLU rewrite failed (%s); running it unchanged", path.name, error)
        return None
    for expected, actual in zip(want, got, strict=True):
        scale = max(float(np.abs(expected).max()), 1e-6)
        if expected.shape != actual.shape or float(np.abs(expected - actual).max()) > 1e-4 * scale:
            log.warning("%s: the PReLU rewrite changed its output; running it unchanged", path.name)
            return None
    return session


def _probe_input(session: Any) -> dict[str, np.ndarray] | None:
    """A fixed random input for a float model with one input of fixed size (any
    batch); None for others, which are then left unchanged."""
    inputs = session.get_inputs()
    if len(inputs) != 1 or inputs[0].type != "tensor(float)":
        return None
    _batch, *rest = inputs[0].shape
    if not all(isinstance(size, int) and size > 0 for size in rest):
        return None
    shape = [1, *rest]
    values = np.random.default_rng(0).uniform(-1.0, 1.0, shape).astype(np.float32)
    return {inputs[0].name: values}


def _load(path: Path, role: str, providers: list[str], models: ModelSettings) -> Any:
    import onnxruntime
    from insightface.model_zoo import model_zoo

    onnxruntime.set_default_logger_severity(_ORT_LOG_ERRORS_ONLY)
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = models.intra_op_threads
    # The pool's threads spin while a run lasts, and stop when it ends. A thread that
    # sleeps between operators must be woken by the kernel, which in a virtual machine
    # costs more than the operator; one that spins on after the run takes the core the
    # other session, the camera, the GUI and PostgreSQL need (33 against 20 ms for
    # detection plus embedding with 2 threads, when spinning went on after each run).
    options.add_session_config_entry("session.intra_op.allow_spinning", "1")
    options.add_session_config_entry("session.force_spinning_stop", "1")
    options.log_severity_level = _ORT_LOG_ERRORS_ONLY
    try:
        model = model_zoo.get_model(str(path), providers=providers, sess_options=options)
    except Exception as error:
        raise ModelPackError(f"{path} could not be loaded as a {role} model ({error})") from error
    if model is None or model.taskname != role:
        raise ModelPackError(f"{path} is not a {role} model")
    if models.rewrite_prelu:
        faster = _faster_session(path, model.session, options, providers)
        if faster is not None:
            model.session = faster
    active = model.session.get_providers()
    if providers[0] not in active:
        raise ConfigurationError(
            f"onnxruntime could not start {providers[0]} for {path.name} and fell back to "
            f"{', '.join(active)}; check the driver and CUDA libraries, or use CPUExecutionProvider"
        )
    return model
