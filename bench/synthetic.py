"""Synthetic templates and queries for the search benchmarks.

Two galleries, one template per identity, all unit vectors in 512 dimensions:

``uniform``: independent random unit vectors. The hardest case for HNSW: no
template is nearer to another than chance, so the graph gives the search no
direction until it lands on the answer itself.

``face-like``: vectors with the shape of real face embeddings. ArcFace
templates of different people are not spread evenly over the sphere; their
variance falls off over the dimensions, and they share a common direction.
Components have variance proportional to ``i ** -0.7`` (about 128 effective
dimensions) around a shared mean of squared length 0.075. That gives impostor
similarities with mean 0.07 and standard deviation 0.08, the mean buffalo_sc
gives on the package photos (0.069, see the calibration report).

A genuine query is an enrolled template plus isotropic Gaussian noise, scaled
so that its cosine similarity to that template is drawn uniformly from
0.60-0.70, what a second look at the same face scores with buffalo_sc at the
door. For a unit vector ``t`` and noise ``n`` with independent N(0, s^2)
components, cos(t, t + n) is close to 1 / sqrt(1 + d s^2), so
``s = sqrt((1/c^2 - 1) / d)`` gives similarity ``c``. An impostor query is a
fresh identity from the same gallery distribution: nobody enrolled.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from core.inference.modelpack import EMBEDDING_DIMENSION

Vectors = npt.NDArray[np.float32]
GENERATORS = ("face-like", "uniform")
GENUINE_SIMILARITY = (0.60, 0.70)
SPECTRUM_POWER = 0.7
SHARED_MEAN_SQUARED = 0.075


@dataclass(frozen=True)
class Queries:
    genuine: Vectors
    sources: npt.NDArray[np.int64]
    """Row of the gallery each genuine query was made from."""
    impostor: Vectors


def identities(rng: np.random.Generator, count: int, generator: str) -> Vectors:
    if generator not in GENERATORS:
        raise ValueError(f"generator {generator!r}; expected one of {', '.join(GENERATORS)}")
    vectors = rng.standard_normal((count, EMBEDDING_DIMENSION), dtype=np.float32)
    if generator == "face-like":
        # The shape is fixed (seed 0) so every gallery and query shares it.
        shape = np.random.default_rng(0)
        spectrum = np.arange(1, EMBEDDING_DIMENSION + 1, dtype=np.float64) ** -SPECTRUM_POWER
        spectrum /= spectrum.sum()
        mean = shape.standard_normal(EMBEDDING_DIMENSION)
        mean *= np.sqrt(SHARED_MEAN_SQUARED) / np.linalg.norm(mean)
        vectors = vectors * np.sqrt(spectrum).astype(np.float32) + mean.astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors.astype(np.float32)


def gallery(size: int, generator: str, seed: int = 7) -> Vectors:
    return identities(np.random.default_rng(seed), size, generator)


def queries(
    templates: Vectors, genuine: int, impostor: int, generator: str, seed: int = 11
) -> Queries:
    rng = np.random.default_rng(seed)
    sources = rng.integers(0, len(templates), genuine)
    similarity = rng.uniform(*GENUINE_SIMILARITY, genuine)
    scale = np.sqrt((1.0 / similarity**2 - 1.0) / EMBEDDING_DIMENSION).astype(np.float32)
    noise = rng.standard_normal((genuine, EMBEDDING_DIMENSION), dtype=np.float32)
    noisy = templates[sources] + noise * scale[:, None]
    noisy /= np.linalg.norm(noisy, axis=1, keepdims=True)
    return Queries(noisy.astype(np.float32), sources, identities(rng, impostor, generator))


def impostor_similarity(templates: Vectors, pairs: int = 1000) -> tuple[float, float]:
    """Mean and standard deviation of similarities between different identities."""
    half = min(pairs, len(templates) // 2)
    scores = templates[:half] @ templates[half : 2 * half].T
    return float(scores.mean()), float(scores.std())
