"""Embeddings of calibration images, cached by file content so reruns are fast."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import numpy as np

from core.errors import UnsafeDataEntry
from core.faces import Embedding
from owned_files.entries import replace_file
from owned_files.folders import UnsafeEntry, make_folders


class EmbeddingCache:
    """One file per model and detector configuration, keyed by each image's SHA-256.

    Holds templates of the calibration photos, so it lives in the data folder
    with owner-only permissions, and ``--no-cache`` keeps nothing at all.
    Failures to acquire are cached too, with their reason.
    """

    def __init__(self, path: Path | None) -> None:
        self._path = path
        self._vectors: dict[str, Embedding] = {}
        self._failures: dict[str, str] = {}
        self.hits = 0
        if path is not None and path.is_file():
            self._load(path)

    def _load(self, path: Path) -> None:
        try:
            with np.load(path, allow_pickle=False) as data:
                self._vectors = dict(zip(data["keys"].tolist(), data["vectors"], strict=True))
                self._failures = dict(
                    zip(data["failed"].tolist(), data["reasons"].tolist(), strict=True)
                )
        except (OSError, ValueError, KeyError):
            self._vectors, self._failures = {}, {}  # unreadable: start again, it is only a cache

    @staticmethod
    def key(image_bytes: bytes) -> str:
        return hashlib.sha256(image_bytes).hexdigest()

    def get(self, key: str) -> Embedding | str | None:
        """The embedding, the reason it failed, or None when not cached."""
        found: Embedding | str | None = self._vectors.get(key, self._failures.get(key))
        if found is not None:
            self.hits += 1
        return found

    def put(self, key: str, result: Embedding | str) -> None:
        if isinstance(result, str):
            self._failures[key] = result
        else:
            self._vectors[key] = result

    def save(self) -> None:
        """Write the cache whole, owner-only, never through a link (owned_files): a
        crash leaves the old cache, never half of one. Raises UnsafeDataEntry for a link
        in the cache's place or on the way to it."""
        if self._path is None:
            return
        keys = list(self._vectors)
        vectors = (
            np.stack([self._vectors[k] for k in keys]).astype(np.float32)
            if keys
            else np.empty((0, 0), dtype=np.float32)
        )
        packed = io.BytesIO()
        np.savez(
            packed,
            keys=np.asarray(keys, dtype=str),
            vectors=vectors,
            failed=np.asarray(list(self._failures), dtype=str),
            reasons=np.asarray(list(self._failures.values()), dtype=str),
        )
        try:
            make_folders(self._path.parent, 0o700)
            replace_file(self._path, packed.getvalue())
        except UnsafeEntry as error:
            raise UnsafeDataEntry(str(error)) from error
