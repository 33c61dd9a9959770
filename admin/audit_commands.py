"""kiosk-admin commands that read and verify the logs."""

from __future__ import annotations

import argparse

from admin.context import CommandContext
from admin.output import Report
from core.errors import KioskError


class AuditChainBroken(KioskError):
    pass


def audit(args: argparse.Namespace, ctx: CommandContext) -> Report:
    if args.action == "verify":
        return _verify(args, ctx)
    events = ctx.audit.events(ctx.login(args.operator), args.limit)
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
        or "the audit log is empty",
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
    events = ctx.audit.access_events(ctx.login(args.operator), args.limit)
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
        or "no access decisions yet",
    )
