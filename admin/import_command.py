"""kiosk-admin import: enroll the people of a CSV file, each row as a single enrollment.

Everything that can be refused without a password is refused first (the file,
the photo folder, the report's place: exit 2), then the operator logs in, the
models load with onnxruntime's threads shared out among the workers, and the rows
run through core.enrollment.bulk_import. Exit 0 when every row went in (enrolled,
or already enrolled), 3 when some were refused.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from admin.context import CommandContext
from admin.import_report import ReportFile, row_data
from admin.output import Report, progress_bar
from core.accounts.permissions import Permission, authorize
from core.enrollment.bulk_import import PeopleImport
from core.enrollment.enrollment import EnrollmentService
from core.enrollment.import_faces import photo_faces, pool_size, usable_cores
from core.enrollment.import_rows import RowOutcome, RowResult, summary
from core.enrollment.people_file import RawRow, parse_people_file
from core.enrollment.photo_folder import PhotoFolder
from core.errors import InvalidValue
from core.import_settings import ImportSettings
from core.settings import Settings
from core.vision.engine import FaceEngine
from owned_files.inputs import NotARegularFile, read_regular

EXIT_ALL_IN = 0
EXIT_SOME_REFUSED = 3
# Refused rows listed on the terminal; the report file and --json list every row.
_SHOWN_REFUSALS = 50


def import_people(args: argparse.Namespace, ctx: CommandContext) -> Report:
    limits = ctx.settings.bulk_import
    rows = read_people_file(args.people_file, limits)
    photos = PhotoFolder(args.photos)
    if args.replace_report and args.report is None:
        raise InvalidValue("--replace-report goes with --report FILE")
    report_file = (
        ReportFile(args.report, replace=args.replace_report) if args.report is not None else None
    )
    operator = ctx.login(args.operator)
    # Before the models load; every row's enrollment checks again.
    authorize(operator, Permission.ENROLL, ctx.store.identity)
    workers, threads = pool_size(limits.workers, usable_cores())
    engine = _engine(ctx.settings, threads)
    service = EnrollmentService(engine, ctx.store.identity, ctx.effective.matching)
    people_import = PeopleImport(
        service,
        ctx.store.identity,
        operator,
        photos,
        photo_faces(service, ctx.settings.images),
        workers=workers,
        rows_ahead=limits.rows_ahead_per_worker,
        dry_run=args.dry_run,
    )
    results: list[RowResult] = []
    counts = summary(results)
    try:
        with progress_bar(len(rows), "person") as step:

            def done(result: RowResult) -> None:
                results.append(result)
                counts[result.outcome.value] += 1
                step({k: v for k, v in counts.items() if v})

            people_import.run(rows, done)
    finally:
        # Also after an interrupt or a database failure: the rows decided so far.
        if report_file is not None:
            report_file.write(results)
    return _report(results, args, workers, threads, report_file)


def _engine(settings: Settings, threads: int) -> FaceEngine:
    """The models with at most ``threads`` onnxruntime threads per call: the workers
    share the cores out, so together they do not ask for more than there are."""
    from core.inference.insightface_backend import load_engine

    chosen = settings.models.intra_op_threads
    models = settings.models.model_copy(
        update={"intra_op_threads": threads if chosen == 0 else min(chosen, threads)}
    )
    return load_engine(settings.model_copy(update={"models": models}))


def _report(
    results: list[RowResult],
    args: argparse.Namespace,
    workers: int,
    threads: int,
    report_file: ReportFile | None,
) -> Report:
    counts = summary(results)
    refused = [r for r in results if r.outcome is RowOutcome.REFUSED]
    enrolled, already, would = (
        counts[o.value]
        for o in (RowOutcome.ENROLLED, RowOutcome.ALREADY_ENROLLED, RowOutcome.WOULD_ENROLL)
    )
    if args.dry_run:
        headline = (
            f"dry run, nothing stored: {would} would be enrolled, {already} already "
            f"enrolled, {len(refused)} refused of {len(results)} rows"
        )
    else:
        headline = (
            f"{enrolled} enrolled, {already} already enrolled, {len(refused)} refused "
            f"of {len(results)} rows"
        )
    lines = [headline]
    lines += [
        f"  row {r.row} (badge {r.badge or '-'}): {r.reason}" for r in refused[:_SHOWN_REFUSALS]
    ]
    if len(refused) > _SHOWN_REFUSALS:
        lines.append(f"  ... and {len(refused) - _SHOWN_REFUSALS} more refused rows")
    if report_file is not None:
        lines.append(f"report: {report_file.path}")
    elif refused:
        lines.append("give --report FILE for every row's outcome in a file")
    data: dict[str, object] = {
        "dry_run": args.dry_run,
        "rows": len(results),
        **counts,
        "went_in": enrolled + already,
        "workers": workers,
        "threads_per_worker": threads,
        "report": str(report_file.path) if report_file is not None else None,
        "results": [row_data(r) for r in results],
    }
    return Report(data, "\n".join(lines), EXIT_SOME_REFUSED if refused else EXIT_ALL_IN)


def read_people_file(path: Path, limits: ImportSettings) -> tuple[RawRow, ...]:
    """Every non-empty row of the people file ``path``: a regular file (a FIFO or a
    device is refused, never waited on) of at most ``bulk_import.max_file_bytes``.
    Raises InvalidValue naming the file and the fix."""
    try:
        data = read_regular(path, limits.max_file_bytes)
    except NotARegularFile as error:
        raise InvalidValue(f"{error}; give the people file (CSV)") from error
    except OSError as error:
        raise InvalidValue(f"{path} cannot be read: {error.strerror or error}") from error
    if len(data) > limits.max_file_bytes:
        raise InvalidValue(
            f"{path} is larger than {limits.max_file_bytes:,} bytes "
            "(bulk_import.max_file_bytes); split it into smaller files"
        )
    return parse_people_file(data, str(path), limits)
