"""A calibration dataset: a folder per identity (the LFW layout), its pairs and scores."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.calibration.rates import Scores
from core.errors import InvalidValue
from core.faces import Embedding
from core.vision.imagefile import IMAGE_SUFFIXES
from owned_files.inputs import read_regular

# LFW's pairs.txt is about 100 KB; a file many times that is not one.
_MAX_PAIRS_BYTES = 16 * 1024 * 1024


@dataclass(frozen=True)
class Identity:
    name: str
    images: tuple[Path, ...]


@dataclass(frozen=True)
class Pair:
    first: Path
    second: Path
    genuine: bool


def scan_dataset(root: Path) -> tuple[Identity, ...]:
    """Every sub-folder with at least one image is an identity; names sort the order."""
    if not root.is_dir():
        raise InvalidValue(
            f"dataset {root} is not a folder; give a folder with one sub-folder per person"
        )
    identities = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        images = tuple(
            sorted(
                p
                for p in folder.iterdir()
                if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith(".")
            )
        )
        if images:
            identities.append(Identity(folder.name, images))
    if len(identities) < 2:
        raise InvalidValue(
            f"dataset {root} has {len(identities)} person folder(s) with images; "
            "calibration needs at least 2 (one sub-folder of photos per person)"
        )
    if all(len(identity.images) < 2 for identity in identities):
        raise InvalidValue(
            f"no person in {root} has 2 or more images, so there is no genuine pair; "
            "add several photos per person"
        )
    return tuple(identities)


def read_lfw_pairs(path: Path, root: Path) -> tuple[Pair, ...]:
    """LFW's pairs.txt: a header line, then ``name n1 n2`` (same person) or
    ``name1 n1 name2 n2`` (different people); image n of name is
    ``name/name_{n:04d}.jpg`` under ``root``."""
    try:
        data = read_regular(path, _MAX_PAIRS_BYTES)
        if len(data) > _MAX_PAIRS_BYTES:
            raise InvalidValue(f"{path} is larger than a pairs file can be; is it pairs.txt?")
        lines = data.decode("utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise InvalidValue(f"cannot read pairs file {path}: {error}") from error
    pairs = []
    for number, line in enumerate(lines[1:], start=2):
        fields = line.split()
        if not fields:
            continue
        try:
            if len(fields) == 3:
                name, a, b = fields
                pairs.append(Pair(_lfw(root, name, a), _lfw(root, name, b), genuine=True))
            elif len(fields) == 4:
                name1, a, name2, b = fields
                pairs.append(Pair(_lfw(root, name1, a), _lfw(root, name2, b), genuine=False))
            else:
                raise ValueError(f"{len(fields)} fields")
        except ValueError as error:
            raise InvalidValue(
                f"{path} line {number}: {error}; expected 'name n1 n2' or 'name1 n1 name2 n2'"
            ) from error
    if not any(p.genuine for p in pairs) or all(p.genuine for p in pairs):
        raise InvalidValue(f"{path} needs both same-person and different-person pairs")
    return tuple(pairs)


def _lfw(root: Path, name: str, number: str) -> Path:
    index = int(number)
    if index < 1:
        raise ValueError(f"image number {number} must be 1 or more")
    path = root / name / f"{name}_{index:04d}.jpg"
    if not path.is_file():
        raise ValueError(f"{path} is missing")
    return path


def scores_for_pairs(
    pairs: Sequence[Pair], embeddings: Mapping[Path, Embedding]
) -> tuple[Scores, Scores, int]:
    """(genuine, impostor, pairs skipped because an image failed to acquire)."""
    genuine: list[float] = []
    impostor: list[float] = []
    skipped = 0
    for pair in pairs:
        a, b = embeddings.get(pair.first), embeddings.get(pair.second)
        if a is None or b is None:
            skipped += 1
            continue
        (genuine if pair.genuine else impostor).append(float(np.dot(a, b)))
    return np.asarray(genuine), np.asarray(impostor), skipped


def scores_for_dataset(
    identities: Sequence[Identity],
    embeddings: Mapping[Path, Embedding],
    max_impostor: int,
    seed: int = 0,
) -> tuple[Scores, Scores]:
    """Every genuine comparison, and every impostor comparison, or a seeded random
    sample of ``max_impostor`` of them when there are more (so reruns agree)."""
    vectors, labels = [], []
    for label, identity in enumerate(identities):
        for path in identity.images:
            if path in embeddings:
                vectors.append(embeddings[path])
                labels.append(label)
    if not vectors:
        return np.empty(0), np.empty(0)
    matrix = np.stack(vectors).astype(np.float32)
    owner = np.asarray(labels)
    genuine = []
    for label in np.unique(owner):
        own = matrix[owner == label]
        genuine.append((own @ own.T)[np.triu_indices(len(own), k=1)])
    counts = np.bincount(owner)
    total_impostor = (len(owner) ** 2 - int(np.sum(counts**2))) // 2
    if total_impostor <= max_impostor:
        impostor = _every_impostor(matrix, owner)
    else:
        impostor = _sampled_impostor(matrix, owner, max_impostor, seed)
    return np.concatenate(genuine).astype(np.float64), impostor.astype(np.float64)


def _every_impostor(matrix: np.ndarray, owner: np.ndarray, block: int = 1024) -> Scores:
    parts = []
    for start in range(0, len(matrix), block):
        rows = slice(start, start + block)
        similarity = matrix[rows] @ matrix.T
        row_index = np.arange(start, min(start + block, len(matrix)))[:, None]
        keep = (np.arange(len(matrix))[None, :] > row_index) & (
            owner[rows][:, None] != owner[None, :]
        )
        parts.append(similarity[keep])
    return np.concatenate(parts) if parts else np.empty(0)


def _sampled_impostor(matrix: np.ndarray, owner: np.ndarray, wanted: int, seed: int) -> Scores:
    rng = np.random.default_rng(seed)
    parts: list[np.ndarray] = []
    found = 0
    while found < wanted:
        first = rng.integers(0, len(matrix), size=wanted)
        second = rng.integers(0, len(matrix), size=wanted)
        different = owner[first] != owner[second]
        first, second = first[different], second[different]
        parts.append(np.einsum("ij,ij->i", matrix[first], matrix[second]))
        found += len(first)
    return np.concatenate(parts)[:wanted]
