"""Per-frame inference latency and the loaded engine's memory.

Each (model pack, onnxruntime threads, PReLU rewrite) runs in a fresh
process, so its resident memory is the engine's alone and settings cannot leak
between runs. One run per pack loads the models unchanged (1 thread), the
baseline for the PReLU rewrite the kiosk makes at load; a quick run leaves it out.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bench.stats import Latency, summarize

GROUP_PHOTOS = {"t1.jpg": 6, "players.jpg": 22}


@dataclass(frozen=True)
class InferenceResult:
    pack: str
    threads: int
    prelu_rewritten: bool
    detector_size: int
    detect: Latency
    embed: Latency
    """Alignment, embedding and the quality measurements of the one face."""
    total: Latency
    similarity_to_640: float
    """The face's template at this size against the template at 640: what a smaller
    detector input costs in landmark precision."""
    faces_found: dict[str, int]
    engine_mb: float
    process_mb: float


def run(
    packs: list[Path | None],
    threads: list[int],
    sizes: list[int],
    frames: int,
    as_shipped: bool = True,
) -> list[InferenceResult]:
    """Each pack rewritten at each thread count, and as shipped on one thread when
    ``as_shipped``; every configuration in a fresh process."""
    results = []
    configurations = [(count, True) for count in threads] + ([(1, False)] if as_shipped else [])
    for pack in packs:
        for count, rewrite in configurations:
            request = {
                "pack": str(pack) if pack else None,
                "threads": count,
                "rewrite_prelu": rewrite,
                "sizes": sizes,
                "frames": frames,
            }
            done = subprocess.run(
                [sys.executable, "-m", "bench.inference", json.dumps(request)],
                capture_output=True,
                text=True,
                check=False,
                timeout=1800,
            )
            if done.returncode != 0:
                raise RuntimeError(f"inference run {request} failed:\n{done.stderr[-2000:]}")
            for row in json.loads(done.stdout.strip().splitlines()[-1]):
                results.append(_result(row))
    return results


def _result(row: dict[str, Any]) -> InferenceResult:
    latencies = {key: Latency(**row[key]) for key in ("detect", "embed", "total")}
    return InferenceResult(
        row["pack"],
        row["threads"],
        row["prelu_rewritten"],
        row["detector_size"],
        latencies["detect"],
        latencies["embed"],
        latencies["total"],
        row["similarity_to_640"],
        row["faces_found"],
        row["engine_mb"],
        row["process_mb"],
    )


def _measure(request: dict[str, Any]) -> list[dict[str, Any]]:
    from bench.memory import resident_mb
    from bench.photos import door_frame, package_photo
    from core.inference.insightface_backend import load_engine
    from core.inference.modelpack import resolve_model_pack
    from core.settings import ImageLimits, ModelSettings, Settings
    from core.vision.imagefile import read_image_file

    pack_dir = Path(request["pack"]) if request["pack"] else None
    pack = resolve_model_pack(pack_dir)
    before = resident_mb()
    settings = Settings(
        models=ModelSettings(
            pack_dir=pack_dir,
            intra_op_threads=request["threads"],
            rewrite_prelu=request["rewrite_prelu"],
        )
    )
    engine = load_engine(settings, pack)
    engine_mb = resident_mb() - before
    frame = door_frame()
    groups = {name: read_image_file(package_photo(name), ImageLimits()) for name in GROUP_PHOTOS}
    at_640 = engine.with_detector_size(640)
    reference = at_640.sample(frame, max(at_640.detect(frame), key=lambda f: f.area)).embedding
    rows = []
    for size in request["sizes"]:
        sized = engine.with_detector_size(size)
        detect_ms, embed_ms = [], []
        for number in range(request["frames"] + 3):
            started = time.perf_counter()
            faces = sized.detect(frame)
            detected = time.perf_counter()
            sample = sized.sample(frame, max(faces, key=lambda f: f.area))
            embedded = time.perf_counter()
            if number >= 3:  # the first calls at a new size allocate buffers
                detect_ms.append((detected - started) * 1000)
                embed_ms.append((embedded - detected) * 1000)
        total_ms = [d + e for d, e in zip(detect_ms, embed_ms, strict=True)]
        rows.append(
            {
                "pack": pack.name,
                "threads": request["threads"],
                "prelu_rewritten": request["rewrite_prelu"],
                "detector_size": size,
                "detect": summarize(detect_ms).as_dict(),
                "embed": summarize(embed_ms).as_dict(),
                "total": summarize(total_ms).as_dict(),
                "similarity_to_640": float(np.dot(sample.embedding, reference)),
                "faces_found": {n: len(sized.detect(img)) for n, img in groups.items()},
                "engine_mb": engine_mb,
                "process_mb": resident_mb(),
            }
        )
    return rows


if __name__ == "__main__":
    print(json.dumps(_measure(json.loads(sys.argv[1]))))  # noqa: T201 - the parent reads it
