"""kiosk-admin calibrate: error rates on a labelled dataset, and a threshold from a target."""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
from collections import Counter
from pathlib import Path

from admin.calibration_report import write_report
from admin.calibration_results import ModelRun, run_summary
from admin.context import CommandContext
from admin.embedding_cache import EmbeddingCache
from admin.output import Report, progress
from core.accounts.permissions import Permission, authorize
from core.calibration.dataset import (
    Identity,
    Pair,
    read_lfw_pairs,
    scan_dataset,
    scores_for_dataset,
    scores_for_pairs,
)
from core.calibration.rates import (
    REPORTED_FMRS,
    checked_scores,
    equal_error_rate,
    false_positive_identification_rate,
    fmr_at,
    fnmr_at,
    threshold_for_fmr,
)
from core.errors import ImageRejected, InputRejected, InvalidValue
from core.faces import Embedding
from core.inference.modelpack import resolve_model_pack
from core.records import Operator
from core.settings import Settings
from core.vision.engine import FaceEngine
from core.vision.imagefile import decode_image_bytes
from core.vision.quality import enrollment_issues
from owned_files.folders import make_folders
from owned_files.inputs import read_regular

_PROGRESS_EVERY = 25


def calibrate(args: argparse.Namespace, ctx: CommandContext) -> Report:
    if args.apply and not args.operator:
        raise InvalidValue("--apply changes the shared threshold: give --operator (an admin)")
    operator = ctx.login(args.operator) if args.apply else None
    if operator is not None:
        # Before hours of embedding.
        authorize(operator, Permission.CHANGE_SETTINGS, ctx.store.settings)
    _writable_folder(args.out)  # before hours of embedding, not after
    identities = scan_dataset(args.dataset)
    pairs = read_lfw_pairs(args.pairs, args.dataset) if args.pairs else None
    gallery = (
        args.gallery_size if args.gallery_size is not None else ctx.store.identity.count_people()
    )
    current = ctx.effective.matching.threshold
    cache_dir = None if args.no_cache else ctx.location.data_dir / "calibration-cache"
    from core.inference.insightface_backend import load_engine

    runs: list[ModelRun] = []
    for pack_dir in [ctx.settings.models.pack_dir, *(args.compare_model_dir or [])]:
        models = ctx.settings.models.model_copy(update={"pack_dir": pack_dir})
        settings = ctx.settings.model_copy(update={"models": models})
        pack = resolve_model_pack(pack_dir)
        name = pack_dir.name if pack_dir is not None else pack.name  # as the user named it
        label = name if all(run.label != name for run in runs) else f"{name}-{len(runs) + 1}"
        engine = load_engine(settings, pack)  # the pack resolved and hashed once
        runs.append(
            _run(label, engine, settings, identities, pairs, args, gallery, current, cache_dir)
        )
    files = write_report(args.out, args.dataset, identities, pairs is not None, gallery, runs)
    data = {
        "report": {name: str(path) for name, path in files.items()},
        "models": {run.label: run_summary(run) for run in runs},
    }
    lines = [f"report: {files['markdown']}"] + [_line(run) for run in runs]
    if operator is not None:
        lines.append(_apply(ctx, operator, runs[0], data))
    return Report(data, "\n".join(lines))


def _writable_folder(folder: Path) -> None:
    try:
        make_folders(folder)  # a link on the way is refused (owned_files)
    except OSError as error:
        raise InvalidValue(
            f"--out {folder} cannot be a report folder ({error.strerror or error}); "
            "give a folder that can be created or written"
        ) from error
    if not os.access(folder, os.W_OK):
        raise InvalidValue(f"--out {folder} is not writable; give another folder")


def _run(
    label: str,
    engine: FaceEngine,
    settings: Settings,
    identities: tuple[Identity, ...],
    pairs: tuple[Pair, ...] | None,
    args: argparse.Namespace,
    gallery: int,
    current: float,
    cache_dir: Path | None,
) -> ModelRun:
    cache = EmbeddingCache(_cache_path(cache_dir, settings, engine) if cache_dir else None)
    embeddings, failures = _embed_all(engine, settings, identities, pairs, cache)
    cache.save()
    images = len(embeddings) + sum(failures.values())
    if pairs is not None:
        genuine, impostor, skipped = scores_for_pairs(pairs, embeddings)
    else:
        genuine, impostor = scores_for_dataset(identities, embeddings, args.max_impostor)
        skipped = 0
    genuine = checked_scores(genuine, "same-person")
    impostor = checked_scores(impostor, "different-person")
    eer, eer_threshold = equal_error_rate(genuine, impostor)
    target = threshold_for_fmr(genuine, impostor, args.target_fmr)
    return ModelRun(
        label=label,
        template_model=engine.template_model,
        images=images,
        acquired=len(embeddings),
        failures=dict(failures),
        genuine=genuine,
        impostor=impostor,
        skipped_pairs=skipped,
        eer=eer,
        eer_threshold=eer_threshold,
        points=tuple(threshold_for_fmr(genuine, impostor, fmr) for fmr in REPORTED_FMRS),
        target=target,
        fpir_at_gallery=false_positive_identification_rate(target.fmr, gallery),
        current_threshold=current,
        current_fmr=fmr_at(impostor, current),
        current_fnmr=fnmr_at(genuine, current),
    )


def _embed_all(
    engine: FaceEngine,
    settings: Settings,
    identities: tuple[Identity, ...],
    pairs: tuple[Pair, ...] | None,
    cache: EmbeddingCache,
) -> tuple[dict[Path, Embedding], Counter[str]]:
    # With a pairs file only the images it names are compared, so only they are embedded.
    paths = sorted(
        {p for pair in pairs for p in (pair.first, pair.second)}
        if pairs is not None
        else {path for identity in identities for path in identity.images}
    )
    embeddings: dict[Path, Embedding] = {}
    failures: Counter[str] = Counter()
    for done, path in enumerate(paths, start=1):
        data = _read_bounded(path, settings)
        if data is None:
            result: Embedding | str = "unreadable image"
        else:
            key = EmbeddingCache.key(data)
            cached = cache.get(key)
            result = cached if cached is not None else _embed_one(engine, settings, path, data)
            if cached is None:
                cache.put(key, result)
        if isinstance(result, str):
            failures[result] += 1
        else:
            embeddings[path] = result
        if done % _PROGRESS_EVERY == 0 or done == len(paths):
            progress(
                f"{engine.template_model}: {done}/{len(paths)} images, "
                f"{sum(failures.values())} failed to acquire, {cache.hits} from the cache"
            )
    return embeddings, failures


def _read_bounded(path: Path, settings: Settings) -> bytes | None:
    """The file's bytes, read once for both the cache key and decoding; None if unreadable."""
    try:
        # One over: too big is caught. A FIFO or a device is unreadable, never waited on.
        return read_regular(path, settings.images.max_file_bytes)
    except OSError:
        return None


def _embed_one(engine: FaceEngine, settings: Settings, path: Path, data: bytes) -> Embedding | str:
    """The largest face's embedding, or why the image cannot be used (FTA)."""
    try:
        image = decode_image_bytes(data, str(path), settings.images)
    except ImageRejected:
        return "unreadable image"
    try:
        faces = engine.detect(image)
        if not faces:
            return "no_face"
        sample = engine.sample(image, max(faces, key=lambda face: face.area))
    except InputRejected:
        return "unusable image"
    issues = enrollment_issues(sample.measurements, settings.quality)
    return issues[0].check.value if issues else sample.embedding


def _cache_path(cache_dir: Path, settings: Settings, engine: FaceEngine) -> Path:
    detector = json.dumps(
        [
            settings.models.detector_input_size,
            settings.models.detection_threshold,
            settings.quality.model_dump(mode="json"),
        ],
    )
    fingerprint = hashlib.sha256(detector.encode()).hexdigest()[:12]
    return cache_dir / f"{engine.template_model}-{fingerprint}.npz"


def _apply(ctx: CommandContext, operator: Operator, run: ModelRun, data: dict[str, object]) -> str:
    target = run.target
    if not target.supported:
        raise InvalidValue(
            f"the dataset has {run.impostor.size} different-person comparisons; a target FMR of "
            f"{target.target_fmr:g} needs at least {math.ceil(3 / target.target_fmr)}. "
            "Nothing was changed: use a larger dataset or a higher --target-fmr"
        )
    # Rounded up, so the stored threshold keeps the FMR at or under the target.
    threshold = math.ceil(target.threshold * 1000) / 1000
    changes = ctx.shared_settings.change(operator, {"matching.threshold": threshold})
    data["applied"] = {c.key: {"old": c.old, "new": c.new} for c in changes}
    if not changes:
        return f"threshold already {threshold}; nothing changed"
    return f"applied: matching.threshold {changes[0].old} -> {changes[0].new} (audited)"


def _line(run: ModelRun) -> str:
    target = run.target
    support = "" if target.supported else " (NOT supported by this dataset's size)"
    return (
        f"{run.label}: EER {run.eer:.2%}; threshold {target.threshold:.3f} gives "
        f"FMR {target.fmr:.2g} (target {target.target_fmr:g}){support} and FNMR "
        f"{target.fnmr:.2%}; {run.acquired}/{run.images} images acquired"
    )
