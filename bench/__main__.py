"""``kiosk-bench`` / ``python -m bench``: run the benchmarks, write the report."""

from __future__ import annotations

import argparse
import shlex
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench import machine, plots, report
from storage.vector_index import DEFAULT_INDEX, HnswParameters, Precision

EXIT_USAGE = 2
FULL_SIZES = [1_000, 10_000, 100_000]
# Small enough for CI's 2 minutes: the kiosk's graph alone takes 20-40 s to build at 10,000.
QUICK_SIZES = [1_000, 3_000]


def parse_arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="kiosk-bench",
        description="Measure inference, 1:N search, the kiosk end to end and many kiosks "
        "on one database; write report.md, results.json and PNG plots.",
    )
    parser.add_argument("--out", type=Path, default=Path("bench-report"), help="report folder")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="1,000 and 3,000 templates and a cheaper vector index, under 2 minutes",
    )
    parser.add_argument("--million", action="store_true", help="add a 1,000,000-template gallery")
    parser.add_argument(
        "--sizes", help="gallery sizes, comma separated (default 1000,10000,100000)"
    )
    parser.add_argument(
        "--generator",
        choices=("face-like", "uniform"),
        default="face-like",
        help="synthetic gallery (default face-like; uniform is HNSW's hardest case)",
    )
    parser.add_argument(
        "--index",
        action="append",
        default=[],
        metavar="TYPE:M:EF_CONSTRUCTION",
        help="an HNSW index to compare, e.g. halfvec:16:64 (repeatable)",
    )
    parser.add_argument("--ef-search", help="hnsw.ef_search values, comma separated")
    parser.add_argument(
        "--model-dir",
        action="append",
        default=[],
        type=Path,
        help="another model pack to measure beside buffalo_sc (repeatable)",
    )
    parser.add_argument(
        "--only",
        help="sections, comma separated: "
        "inference,search,e2e,kiosks,liveness,face-size,rules,import,retention,api",
    )
    args = parser.parse_args(argv)
    try:
        args.sizes = (
            _integers(args.sizes) if args.sizes else (QUICK_SIZES if args.quick else FULL_SIZES)
        )
        if args.million:
            args.sizes.append(1_000_000)
        args.indexes = [_index(text) for text in args.index] or _default_indexes(args.quick)
        args.ef_values = (
            _integers(args.ef_search)
            if args.ef_search
            else ([50, 100] if args.quick else [40, 50, 60, 100, 200])
        )
        args.sections = set(args.only.split(",")) if args.only else set(SECTIONS)
        unknown = args.sections - set(SECTIONS)
        if unknown:
            raise ValueError(
                f"unknown section {', '.join(sorted(unknown))}; choose from {', '.join(SECTIONS)}"
            )
        for folder in args.model_dir:
            if not folder.is_dir():
                raise ValueError(f"--model-dir {folder} is not a folder")
    except ValueError as error:
        parser.error(str(error))
    if args.out.exists() and not args.out.is_dir():
        parser.error(f"--out {args.out} is a file; name a folder")
    return args


SECTIONS = (
    "inference",
    "search",
    "e2e",
    "kiosks",
    "liveness",
    "face-size",
    "rules",
    "import",
    "retention",
    "api",
)
# Trials per package face and face size: a full run's 50 give 350 per size, enough to
# tell 99 % from less; a quick run's 3 only show the curve.
FACE_SIZE_TRIALS = 50
QUICK_FACE_SIZE_TRIALS = 3
QUICK_FACE_SIZES = (20, 32, 40, 44, 48, 56, 64, 80, 96, 120)
# People on the site of the retention section: a quick run's 100,000 would take about a
# minute and a half of its two (the site's load included), so it stores 10,000.
RETENTION_PEOPLE = 100_000
QUICK_RETENTION_PEOPLE = 10_000


def _integers(text: str) -> list[int]:
    try:
        values = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise ValueError(f"{text!r} is not a comma-separated list of whole numbers") from None
    if not values or min(values) < 1:
        raise ValueError(f"{text!r}: give positive whole numbers")
    return values


def _index(text: str) -> HnswParameters:
    parts = text.split(":")
    if len(parts) != 3 or parts[0] not in {p.value for p in Precision}:
        raise ValueError(
            f"--index {text!r}; expected vector:M:EF or halfvec:M:EF, e.g. halfvec:16:64"
        )
    m, ef_construction = _integers(f"{parts[1]},{parts[2]}")
    if not 2 <= m <= 100 or not 4 <= ef_construction <= 1000 or ef_construction < 2 * m:
        raise ValueError(f"--index {text!r}: m 2-100, ef_construction 4-1000 and at least 2*m")
    return HnswParameters(Precision(parts[0]), m, ef_construction)


def _default_indexes(quick: bool) -> list[HnswParameters]:
    """The kiosk's index at both precisions, side by side. A quick run builds the
    ``vector`` one sparser, to stay within its 2 minutes."""
    if quick:
        return [HnswParameters(Precision.SINGLE, m=16, ef_construction=64), DEFAULT_INDEX]
    m, ef_construction = DEFAULT_INDEX.m, DEFAULT_INDEX.ef_construction
    return [HnswParameters(precision, m, ef_construction) for precision in Precision]


def progress(message: str) -> None:
    print(f"kiosk-bench: {message}", file=sys.stderr, flush=True)  # noqa: T201


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_arguments(argv)
    began = time.perf_counter()
    args.out.mkdir(parents=True, exist_ok=True)
    command = "kiosk-bench " + shlex.join(sys.argv[1:] if argv is None else list(argv))
    results: dict[str, Any] = {"machine": machine.describe(), "command": command}
    sections: list[str] = []
    with tempfile.TemporaryDirectory(prefix="kiosk-bench-") as scratch:
        if "inference" in args.sections:
            sections.append(_inference(args, results))
        if "search" in args.sections:
            sections.append(_search(args, results, Path(scratch)))
        if "e2e" in args.sections:
            sections.append(_end_to_end(args, results))
        if "kiosks" in args.sections:
            sections.append(_kiosks(args, results, Path(scratch)))
        if "liveness" in args.sections:
            sections.append(_liveness(args, results))
        if "face-size" in args.sections:
            sections.append(_face_size(args, results))
        if "rules" in args.sections:
            sections.append(_rules(args, results, Path(scratch)))
        if "import" in args.sections:
            sections.append(_import(args, results, Path(scratch)))
        if "retention" in args.sections:
            sections.append(_retention(args, results, Path(scratch)))
        if "api" in args.sections:
            sections.append(_api(args, results, Path(scratch)))
    seconds = time.perf_counter() - began
    results["seconds"] = seconds
    head = [
        "# kiosk-bench report",
        report.machine_section(results["machine"], command, seconds),
    ]
    (args.out / "report.md").write_text("\n\n".join(head + sections) + "\n", encoding="utf-8")
    report.write_json(args.out / "results.json", results)
    print(_summary(results))  # noqa: T201 - the summary is the command's output
    print(f"report: {args.out / 'report.md'}")  # noqa: T201
    return 0


def _api(args: argparse.Namespace, results: dict[str, Any], scratch: Path) -> str:
    import importlib.util

    from bench import api_load
    from bench.photos import package_photo

    if importlib.util.find_spec("locust") is None:
        return "## HTTP API (kiosk-server, Locust)\n\nskipped: install the bench extra (locust)"
    progress("api (kiosk-server under Locust)")
    found = api_load.run(
        scratch, package_photo("yaoming.jpg"), users=8, seconds=20 if args.quick else 60
    )
    results["api"] = found.as_dict()
    return api_load.section(found)


def _inference(args: argparse.Namespace, results: dict[str, Any]) -> str:
    from bench import inference

    progress("inference")
    found = inference.run(
        [None, *args.model_dir],
        [1, 2],
        [640, 480, 320],
        20 if args.quick else 200,
        as_shipped=not args.quick,  # a comparison for the full report; it adds a process
    )
    results["inference"] = found
    plots.inference(found, args.out / "inference.png")
    return report.inference_section(found)


def _search(args: argparse.Namespace, results: dict[str, Any], scratch: Path) -> str:
    from bench import search
    from core.match_settings import MatchSettings

    plan = search.SearchPlan(
        sizes=args.sizes,
        indexes=args.indexes,
        ef_search=args.ef_values,
        genuine_queries=100 if args.quick else 500,
        impostor_queries=25 if args.quick else 100,
        # A quick run scans naively only a few times: the scan is slow by design.
        naive_budget=10_000 if args.quick else 200_000,
        generator=args.generator,
        matching=MatchSettings(),
    )
    found = search.run(scratch / "search", plan, progress)
    results["search"] = found
    plots.search_latency(found, args.out / "search_latency.png")
    plots.recall_tradeoff(found[-1], args.out / "search_recall.png")
    return report.search_section(found, args.generator)


def _end_to_end(args: argparse.Namespace, results: dict[str, Any]) -> str:
    from bench import end_to_end

    progress("end to end through the kiosk")
    found = end_to_end.run(1_000 if args.quick else 10_000, 8 if args.quick else 60, 30.0)
    results["end_to_end"] = found
    plots.end_to_end(found, args.out / "end_to_end.png")
    return report.end_to_end_section(found)


def _kiosks(args: argparse.Namespace, results: dict[str, Any], scratch: Path) -> str:
    from bench import kiosks
    from bench.database import bench_database

    ramp = [1, 2] if args.quick else [1, 2, 4, 8, 16]
    gallery = 1_000 if args.quick else 10_000
    progress(f"many kiosks: {ramp}")
    with bench_database(scratch / "kiosks") as engine:
        url = engine.url.render_as_string(hide_password=False)
        found = kiosks.run(engine, url, scratch, ramp, 3 if args.quick else 15, gallery)
    results["kiosks"] = found
    plots.kiosks(found, args.out / "kiosks.png")
    return report.kiosks_section(found, gallery)


def _liveness(args: argparse.Namespace, results: dict[str, Any]) -> str:
    from bench import liveness
    from core.inference.insightface_backend import load_engine
    from core.settings import LivenessMode, LivenessSettings, Settings

    settings = Settings(liveness=LivenessSettings(mode=LivenessMode.BOTH))
    engine = load_engine(settings, detector_input_size=settings.models.camera_detector_input_size)
    found = liveness.run(engine, 1 if args.quick else 20, progress)
    results["liveness"] = found
    return report.liveness_section(found)


def _face_size(args: argparse.Namespace, results: dict[str, Any]) -> str:
    from bench import face_size
    from core.inference.insightface_backend import load_engine
    from core.settings import Settings

    settings = Settings()
    photos = load_engine(settings)
    door = photos.with_detector_size(settings.models.camera_detector_input_size)
    trials = QUICK_FACE_SIZE_TRIALS if args.quick else FACE_SIZE_TRIALS
    progress(f"the smallest face the door matches: {trials} trials per face and size")
    sizes = QUICK_FACE_SIZES if args.quick else face_size.SIZES
    found = face_size.run(photos, door, trials, progress, sizes=sizes)
    results["face_size"] = found
    return face_size.section(found)


def _rules(args: argparse.Namespace, results: dict[str, Any], scratch: Path) -> str:
    from bench import rules
    from bench.database import bench_database

    progress("access rules: 10,000 people, 100 groups, 20 doors")
    with bench_database(scratch / "rules") as engine:
        found = rules.run(engine, 10_000, 100, 20, 1_000 if args.quick else 10_000)
    results["rules"] = found
    return report.rules_section(found)


def _import(args: argparse.Namespace, results: dict[str, Any], scratch: Path) -> str:
    from bench import people_import
    from bench.database import bench_database
    from core.enrollment.import_faces import usable_cores

    with bench_database(scratch / "import") as engine:
        found = people_import.run(
            engine,
            scratch,
            # The 1,000 people; a quick run's minute holds a third of them.
            write_people=300 if args.quick else 1_000,
            face_people=20 if args.quick else 200,
            end_to_end_people=40 if args.quick else 1_000,
            cores=usable_cores(),
            progress=progress,
        )
    results["import"] = found
    return report.import_section(found)


def _retention(args: argparse.Namespace, results: dict[str, Any], scratch: Path) -> str:
    from bench import retention
    from bench.database import bench_database

    people = QUICK_RETENTION_PEOPLE if args.quick else RETENTION_PEOPLE
    progress(f"retention at scale: {people:,} people")
    with bench_database(scratch / "retention") as engine:
        found = retention.run(engine, people, people // 50, 20 if args.quick else 100)
    results["retention"] = found
    return report.retention_section(found)


def _summary(results: dict[str, Any]) -> str:
    lines = [f"kiosk-bench finished in {results['seconds'] / 60:.1f} min"]
    for row in results.get("inference", []):
        lines.append(
            f"  inference {row.pack} {row.detector_size}px {row.threads}t: "
            f"total p50 {row.total.p50_ms:.1f} ms"
        )
    for size in results.get("search", []):
        for m in size.methods:
            lines.append(
                f"  search {size.size:>9,} {m.method} ef={m.ef_search or '-'}: "
                f"p50 {m.genuine.p50_ms:.2f} ms, p99 {m.genuine.p99_ms:.2f} ms, "
                f"recall@1 {m.recall_at_1:.3f}"
            )
    if "end_to_end" in results:
        e = results["end_to_end"]
        lines.append(
            f"  end to end: searched frame p50 {e.searched_frame.p50_ms:.1f} ms, "
            f"{e.processed_fps:.1f} fps, kiosk RSS {e.resident_mb:.0f} MB, "
            f"face to lock p50 {e.door_latency.p50_ms:.0f} ms"
        )
    for row in results.get("kiosks", []):
        lines.append(
            f"  {row.kiosks:>2} kiosks: {row.per_second:.0f}/s, p95 {row.latency.p95_ms:.1f} ms, "
            f"busy {row.busy}, events {row.events_stored}/{row.events_expected}"
        )
    for row in results.get("liveness", []):
        lines.append(
            f"  liveness {row.mode:<5} {row.sequence:<11}: {row.passed}/{row.attempts} passed"
        )
    if "face_size" in results:
        found = results["face_size"]
        lines.append(
            f"  smallest face matched reliably at the door: {found.minimum_px or 'none'} px"
            + ("" if found.enough_trials else " (too few trials to decide)")
        )
    if "rules" in results:
        r = results["rules"]
        lines.append(
            f"  access rules: check p50 {r.check.p50_ms:.2f} ms, p99 {r.check.p99_ms:.2f} ms "
            f"(evaluation alone p99 {r.evaluation.p99_ms:.3f} ms)"
        )
    if "import" in results:
        for rate in results["import"].rates:
            lines.append(
                f"  import {rate.stage}: {rate.per_minute:,.0f} people/min "
                f"({rate.workers} worker(s) x {rate.threads_per_worker} thread(s))"
            )
    if "retention" in results:
        r = results["retention"]
        lines.append(
            f"  retention: {r.purged:,} of {r.people:,} people purged in {r.purge_s:.1f} s, "
            f"a withdrawal p50 {r.withdrawal.p50_ms:.1f} ms"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
