"""The recognition models of packs used before the one in use, loaded on first need.

After a change of model pack the gallery may still hold templates of the old model,
which only that model's embeddings can be compared with (core.enrollment.model_change).
The bundled buffalo_sc is always a candidate; other packs are named in
models.earlier_pack_dirs. Nothing is resolved or loaded until an enrollment needs it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

from core.errors import ModelPackError
from core.inference.modelpack import resolve_model_pack
from core.vision.engine import FaceEmbedder

log = logging.getLogger(__name__)


class EarlierModels:
    """Finds the embedder that made a template model's templates (OtherEmbedders).

    Owns a lock: the kiosk enrolls on worker threads, and each pack must be resolved
    (its files hashed) and each model loaded once, not once per thread."""

    def __init__(
        self, pack_dirs: Sequence[Path | None], load: Callable[[Path], FaceEmbedder]
    ) -> None:
        """``pack_dirs``: the candidate packs (None: the bundled one); ``load`` makes an
        embedder of a recognition model file (raises ModelPackError)."""
        self._pack_dirs = tuple(pack_dirs)
        self._load = load
        self._lock = threading.Lock()
        self._files: dict[str, Path] | None = None
        self._loaded: dict[str, FaceEmbedder] = {}

    def embedder_for(self, template_model: str) -> FaceEmbedder | None:
        with self._lock:
            if template_model in self._loaded:
                return self._loaded[template_model]
            if self._files is None:
                self._files = self._resolve()
            path = self._files.get(template_model)
            if path is None:
                return None
            try:
                embedder = self._load(path)
            except ModelPackError as error:
                log.warning("the earlier model %s cannot be used: %s", template_model, error)
                return None
            self._loaded[template_model] = embedder
            return embedder

    def _resolve(self) -> dict[str, Path]:
        files: dict[str, Path] = {}
        for folder in self._pack_dirs:
            try:
                pack = resolve_model_pack(folder)
            except ModelPackError as error:
                log.warning("earlier model pack %s skipped: %s", folder or "(bundled)", error)
                continue
            files.setdefault(pack.template_model, pack.recognition.path)
        return files
