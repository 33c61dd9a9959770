"""Latency summaries: percentiles in milliseconds."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np


@dataclass(frozen=True)
class Latency:
    count: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    mean_ms: float

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


def summarize(milliseconds: Sequence[float]) -> Latency:
    if not milliseconds:
        nan = float("nan")
        return Latency(0, nan, nan, nan, nan)
    values = np.asarray(milliseconds, dtype=np.float64)
    p50, p95, p99 = np.percentile(values, [50, 95, 99])
    return Latency(len(values), float(p50), float(p95), float(p99), float(values.mean()))
