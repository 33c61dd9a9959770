"""kiosk-admin commands that read and verify the logs."""

from __future__ import annotations

import argparse
import uuid
from datetime import datetime

from admin.columns import columns
from admin.context import CommandContext
from admin.moments import bounded_moment
from admin.output import Report
from core.accounts.permissions import ROLE_PERMISSIONS, Permission
from core.administration.chains import ChainReport, LogsReport, short
from core.errors import AuditChainBroken
from core.log_records import ChainHead, LogFilter
from core.records import AccessOutcome
from storage.person_lookup import display_names


def audit(args: argparse.Namespace, ctx: CommandContext) -> Report:
    if args.action == "verify":
        return _verify(args, ctx)
    if args.action == "re-anchor":
        return _reanchor(args, ctx)
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
    if not report.intact:
        raise AuditChainBroken(
            "the audit log was tampered with: "
            + "; ".join(report.problems)
            + " (recovery: docs/security.md, 'When audit verify fails')"
        )
    return Report(_verify_data(report), "\n".join(report.summary()))


def _reanchor(args: argparse.Namespace, ctx: CommandContext) -> Report:
    before = ctx.audit.reanchor(ctx.login(args.operator))
    heads = ", ".join(
        f"{r.chain} at {r.end.count} event(s) ({short(r.end.hash)})"
        for r in (before.audit, before.access)
    )
    return Report(
        {"reanchored": True, "before": _verify_data(before)},
        f"re-anchored the {heads}; the problems found before: "
        + ("; ".join(before.problems) or "none"),
    )


def _verify_data(report: LogsReport) -> dict[str, object]:
    return {
        "intact": report.intact,
        "problems": report.problems,
        "anchor": {
            "status": report.anchor.status.value,
            "where": report.anchor.where,
            "problem": report.anchor.problem,
        },
        # Kept for scripts written before the access log was chained.
        "events": report.audit.checked,
        **{r.chain.value: _chain_data(r) for r in (report.audit, report.access)},
    }


def _chain_data(report: ChainReport) -> dict[str, object]:
    def head(found: ChainHead | None) -> dict[str, object] | None:
        return None if found is None else {"count": found.count, "hash": found.hash}

    return {
        "events": report.checked,
        "intact": report.broken is None,
        "problem": str(report.broken) if report.broken else None,
        "expected": head(report.expected),
        "found": head(report.found),
        "after_anchor": report.after_anchor,
    }


def access_log(args: argparse.Namespace, ctx: CommandContext) -> Report:
    only = LogFilter(
        since=args.since,
        until=args.until,
        kiosk_id=args.kiosk,
        outcome=AccessOutcome(args.outcome) if args.outcome else None,
    )
    actor = ctx.login(args.operator)
    events = ctx.audit.access_events(actor, args.limit, only)
    # Names only for those who may view people (admins); an auditor sees ids.
    named = Permission.VIEW_PEOPLE in ROLE_PERMISSIONS[actor.role]
    people = {e.person_id for e in events if e.person_id is not None}
    names = display_names(ctx.store.engine, actor, people, ctx.store.identity) if named else {}

    def name_of(person: uuid.UUID | None) -> str | None:
        if person is None:
            return None
        return names.get(person) or "(erased)"

    rows = []
    for e in events:
        row: list[object] = [
            f"{e.occurred_at:%Y-%m-%d %H:%M:%S%z}",
            e.kiosk_id,
            e.outcome.value,
            e.refusal.value if e.refusal else None,
            e.person_id,
        ]
        rows.append([*row, *([name_of(e.person_id)] if named else []), _similarity(e.similarity)])
    headers = ["TIME", "KIOSK", "OUTCOME", "REFUSED BY", "PERSON"]
    headers += ["NAME"] if named else []
    return Report(
        {
            "events": [
                {
                    "id": e.id,
                    "occurred_at": e.occurred_at.isoformat(),
                    "kiosk_id": e.kiosk_id,
                    "outcome": e.outcome.value,
                    # Which rule refused a recognised person (outcome "refused"), else None.
                    "refusal": e.refusal.value if e.refusal else None,
                    "person_id": str(e.person_id) if e.person_id else None,
                    **({"name": name_of(e.person_id)} if named else {}),
                    "similarity": e.similarity,
                    "latency_ms": round(e.latency_ms, 1),
                }
                for e in events
            ]
        },
        columns([*headers, "SIMILARITY"], rows) if events else "no access decisions match",
    )


def _similarity(value: float | None) -> str | None:
    return f"{value:.3f}" if value is not None else None


def moment(value: str) -> datetime:
    """An ISO 8601 date or time from the command line, 1970 to 2999 (admin.moments);
    local time unless it has a zone."""
    parsed = bounded_moment(value, "2026-11-20 or 2026-11-20T14:30")
    return parsed if parsed.tzinfo is not None else parsed.astimezone()
