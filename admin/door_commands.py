"""kiosk-admin door: see the doors, lock one down, release it, unlock it for a time.

A command is stored in the database; the kiosk whose door it is takes it within
its door_io.operator_poll_s and reports the door's state back."""

from __future__ import annotations

import argparse

from admin.context import CommandContext
from admin.output import Report
from core.access.door_commands import DoorCommandKind, DoorCommandService, DoorReport
from storage.door_commands import SqlDoorCommands


def _service(ctx: CommandContext) -> DoorCommandService:
    return DoorCommandService(SqlDoorCommands(ctx.store.engine), ctx.settings.door_io)


def status(args: argparse.Namespace, ctx: CommandContext) -> Report:
    reports = _service(ctx).reports(ctx.login(args.operator))
    return Report(
        {"doors": [_as_data(report) for report in reports]},
        "\n".join(_as_line(report) for report in reports)
        or "no kiosk has reported door hardware (door_io.adapter is none everywhere)",
    )


def unlock(args: argparse.Namespace, ctx: CommandContext) -> Report:
    return _request(args, ctx, DoorCommandKind.UNLOCK, args.seconds)


def lockdown(args: argparse.Namespace, ctx: CommandContext) -> Report:
    return _request(args, ctx, DoorCommandKind.LOCKDOWN)


def release(args: argparse.Namespace, ctx: CommandContext) -> Report:
    return _request(args, ctx, DoorCommandKind.RELEASE)


def _request(
    args: argparse.Namespace,
    ctx: CommandContext,
    kind: DoorCommandKind,
    seconds: float | None = None,
) -> Report:
    command_id = _service(ctx).request(
        ctx.login(args.operator),
        kiosk_id=args.kiosk,
        kind=kind,
        reason=args.reason,
        seconds=seconds,
    )
    what = f"unlock for {seconds:g} s" if seconds is not None else kind.value
    return Report(
        {"command_id": command_id, "kiosk_id": args.kiosk, "kind": kind.value, "seconds": seconds},
        f"{what} sent to {args.kiosk} (command {command_id}); "
        "kiosk-admin door status shows when it took effect",
    )


def _as_data(report: DoorReport) -> dict[str, object]:
    return {
        "kiosk_id": report.kiosk_id,
        "adapter": report.adapter,
        "unlocked": report.unlocked,
        "door_open": report.door_open,
        "lockdown": report.lockdown,
        "alarms": list(report.alarms),
        "fault": report.fault,
        "reported_at": report.reported_at.isoformat() if report.reported_at else None,
    }


def _as_line(report: DoorReport) -> str:
    parts = ["unlocked" if report.unlocked else "locked"]
    if report.door_open is not None:
        parts.append("open" if report.door_open else "closed")
    if report.lockdown:
        parts.append("LOCKDOWN")
    parts.extend(alarm.replace("_", " ").upper() for alarm in report.alarms)
    if report.fault:
        parts.append(f"FAULT: {report.fault}")
    at = f"{report.reported_at:%Y-%m-%d %H:%M:%S%z}" if report.reported_at else "-"
    return f"{report.kiosk_id}  {', '.join(parts)}  ({report.adapter}; reported {at})"
