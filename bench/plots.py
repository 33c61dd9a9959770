"""PNG figures for the report (matplotlib, Agg: no display needed)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from bench.end_to_end import EndToEndResult
from bench.inference import InferenceResult
from bench.kiosks import KiosksResult
from bench.search import SizeResult


def search_latency(sizes: list[SizeResult], path: Path) -> None:
    """p50 per method against gallery size, at each HNSW index's default ef_search."""
    figure, axes = plt.subplots(figsize=(7, 4.5))
    methods = sorted({m.method for s in sizes for m in s.methods})
    for method in methods:
        points = [
            (s.size, m.genuine.p50_ms)
            for s in sizes
            for m in s.methods
            if m.method == method and m.ef_search in (None, _default_ef(s, method))
        ]
        if points:
            axes.plot(*zip(*points, strict=True), marker="o", label=method)
    axes.set(
        xscale="log",
        yscale="log",
        xlabel="templates in the gallery",
        ylabel="p50 latency per search (ms)",
        title="1:N search",
    )
    axes.grid(True, which="both", alpha=0.3)
    axes.legend(fontsize=7)
    _save(figure, path)


def recall_tradeoff(size: SizeResult, path: Path) -> None:
    figure, axes = plt.subplots(figsize=(7, 4.5))
    for method in sorted({m.method for m in size.methods if m.ef_search is not None}):
        rows = sorted(
            (m for m in size.methods if m.method == method), key=lambda m: m.ef_search or 0
        )
        axes.plot(
            [m.genuine.p99_ms for m in rows],
            [m.recall_at_1 for m in rows],
            marker="o",
            label=method,
        )
        for m in rows:
            axes.annotate(f"ef {m.ef_search}", (m.genuine.p99_ms, m.recall_at_1), fontsize=7)
    axes.set(
        xlabel="p99 latency (ms)",
        ylabel="recall@1 against exact search",
        title=f"HNSW at {size.size:,} templates: recall against latency",
    )
    axes.grid(True, alpha=0.3)
    axes.legend(fontsize=7)
    _save(figure, path)


def inference(results: list[InferenceResult], path: Path) -> None:
    figure, axes = plt.subplots(figsize=(7, 4.5))
    labels = [
        f"{r.pack}\n{r.detector_size}px, {r.threads}t"
        + ("" if r.prelu_rewritten else "\nas shipped")
        for r in results
    ]
    detect = [r.detect.p50_ms for r in results]
    embed = [r.embed.p50_ms for r in results]
    axes.bar(labels, detect, label="detection")
    axes.bar(labels, embed, bottom=detect, label="alignment + embedding")
    axes.set(ylabel="p50 per frame (ms)", title="Inference per frame, one face")
    axes.tick_params(axis="x", labelsize=7)
    axes.legend(loc="upper center")
    _save(figure, path)


def kiosks(results: list[KiosksResult], path: Path) -> None:
    figure, left = plt.subplots(figsize=(7, 4.5))
    counts = [r.kiosks for r in results]
    left.plot(counts, [r.per_second for r in results], marker="o", color="tab:blue")
    left.set(
        xlabel="kiosks",
        ylabel="decisions per second (all kiosks)",
        title="Many kiosks on one database",
        xscale="log",
        xticks=counts,
    )
    left.set_xticklabels([str(c) for c in counts])
    right = left.twinx()
    right.plot(counts, [r.latency.p95_ms for r in results], marker="s", color="tab:red")
    right.set_ylabel("p95 latency, search + event (ms)", color="tab:red")
    _save(figure, path)


def end_to_end(result: EndToEndResult, path: Path) -> None:
    figure, axes = plt.subplots(figsize=(5, 4))
    shares = [result.detect_share, result.embed_share, result.search_share, result.record_share]
    axes.pie(shares, labels=["detection", "embedding", "search", "event"], autopct="%.0f%%")
    axes.set(title="Where a searched frame's time goes")
    _save(figure, path)


def _default_ef(size: SizeResult, method: str) -> int | None:
    from core.match_settings import MatchSettings

    default = MatchSettings().ef_search
    efs = {m.ef_search for m in size.methods if m.method == method}
    return default if default in efs else max((e for e in efs if e is not None), default=None)


def _save(figure: plt.Figure, path: Path) -> None:
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
