"""kiosk-admin commands that read and verify the logs."""

from __future__ import annotations

import argparse
from datetime import datetime

from admin.context import CommandContext
from admin.output import Report
from core.errors import KioskError
from core.records import AccessOutcome, LogFilter


class AuditChainBroken(KioskError):
    pass


def audit(args: argparse.Namespace, ctx: CommandContext) -> Report:
    if args.action == "verify":
        return _verify(args, ctx)
    only = LogFilter(since=args.since, until=args.until, actor=args.actor, action=args.only_action)
    events = ctx.audit.events(ctx.login(args.operator), args.limit, only)
    return Report(
        {
            "events": [
                {
                    "id": e.id,
                    "occurred_at": e.occurred_at.isoformat(),
                    "actor": e.actor,
                    "action": e.action,
                    "target": e.target,
                    "details": e.details,
                }
                for e in events
            ]
        },
        "\n".join(
            f"{e.occurred_at:%Y-%m-%d %H:%M:%S%z}  {e.actor}  {e.action}  {e.target or '-'}"
            for e in events
        )
        or "no audit events match",
    )


def _verify(args: argparse.Namespace, ctx: CommandContext) -> Report:
    report = ctx.audit.verify(ctx.login(args.operator))
    if report.broken is not None:
        raise AuditChainBroken(
            f"the audit log was tampered with: {report.broken} "
            f"({report.checked} event(s) before it are intact)"
        )
    return Report(
        {"intact": True, "events": report.checked},
        f"audit log intact: {report.checked} event(s), every hash chains to the one before",
    )


def access_log(args: argparse.Namespace, ctx: CommandContext) -> Report:
    only = LogFilter(
        since=args.since,
        until=args.until,
        kiosk_id=args.kiosk,
        outcome=AccessOutcome(args.outcome) if args.outcome else None,
    )
    events = ctx.audit.access_events(ctx.login(args.operator), args.limit, only)
    return Report(
        {
            "events": [
                {
                    "id": e.id,
                    "occurred_at": e.occurred_at.isoformat(),
                    "kiosk_id": e.kiosk_id,
                    "outcome": e.outcome.value,
                    "person_id": str(e.person_id) if e.person_id else None,
                    "similarity": e.similarity,
                    "latency_ms": round(e.latency_ms, 1),
                }
                for e in events
            ]
        },
        "\n".join(
            f"{e.occurred_at:%Y-%m-%d %H:%M:%S%z}  {e.kiosk_id}  {e.outcome.value}  "
            f"{e.person_id or '-'}"
            for e in events
        )
        or "no access decisions match",
    )


def moment(value: str) -> datetime:
    """An ISO 8601 date or time from the command line; local time unless it has a zone."""
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as error:
        raise argparse.ArgumentTypeError(
            f"{value!r} is not a date or time; write e.g. 2026-11-20 or 2026-11-20T14:30"
        ) from error
    return parsed if parsed.tzinfo is not None else parsed.astimezone()
