"""kiosk-admin door: see the doors, lock one down, release it, unlock it for a time.

A command is stored in the database; the kiosk whose door it is takes it within
its door_io.operator_poll_s and reports the door's state back."""

from __future__ import annotations

import argparse

from admin.context import CommandContext
from admin.output import Report
from core.access.door_commands import (
    DoorCommandKind,
    DoorCommandService,
    DoorReport,
    check_kiosk_id,
    last_heard,
)
from core.door_io_settings import DoorIoSettings
from storage.door_commands import SqlDoorCommands


def _service(ctx: CommandContext) -> DoorCommandService:
    return DoorCommandService(SqlDoorCommands(ctx.store.engine), ctx.settings.door_io)


def status(args: argparse.Namespace, ctx: CommandContext) -> Report:
    if args.kiosk is not None:
        check_kiosk_id(args.kiosk)  # before the password is asked for
    reports = _service(ctx).reports(ctx.login(args.operator), args.kiosk)
    settings = ctx.settings.door_io
    return Report(
        {"doors": [_as_data(report, settings) for report in reports]},
        "\n".join(_as_line(report, settings) for report in reports)
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
    service = _service(ctx)
    # Checked before the login: a mistyped value costs no password prompt.
    checked = service.check(kiosk_id=args.kiosk, kind=kind, reason=args.reason, seconds=seconds)
    command_id = service.request(
        ctx.login(args.operator),
        kiosk_id=checked.kiosk_id,
        kind=checked.kind,
        reason=checked.reason,
        seconds=checked.seconds,
    )
    what = f"unlock for {seconds:g} s" if seconds is not None else kind.value
    return Report(
        {"command_id": command_id, "kiosk_id": args.kiosk, "kind": kind.value, "seconds": seconds},
        f"{what} sent to {args.kiosk} (command {command_id}); "
        "kiosk-admin door status shows when it took effect",
    )


def _as_data(report: DoorReport, settings: DoorIoSettings) -> dict[str, object]:
    return {
        "kiosk_id": report.kiosk_id,
        "adapter": report.adapter,
        "unlocked": report.unlocked,
        "door_open": report.door_open,
        "lockdown": report.lockdown,
        "alarms": list(report.alarms),
        "fault": report.fault,
        "reported_at": report.reported_at.isoformat() if report.reported_at else None,
        "age_s": None if report.age_s is None else round(report.age_s, 1),
        "stale": report.is_stale(settings),
        "stopped": report.stopped,
        "failed_unlocks": report.failed_unlocks,
        "last_failed_unlock_at": (
            report.last_failed_unlock_at.isoformat() if report.last_failed_unlock_at else None
        ),
    }


def _as_line(report: DoorReport, settings: DoorIoSettings) -> str:
    parts = ["unlocked" if report.unlocked else "locked"]
    if report.door_open is not None:
        parts.append("open" if report.door_open else "closed")
    if report.lockdown:
        parts.append("LOCKDOWN")
    parts.extend(alarm.replace("_", " ").upper() for alarm in report.alarms)
    if report.fault:
        parts.append(f"FAULT: {report.fault}")
    if report.failed_unlocks:
        last = report.last_failed_unlock_at
        when = f", last {last:%Y-%m-%d %H:%M:%S%z}" if last else ""
        hours = settings.failed_unlocks_shown_s / 3600
        parts.append(f"UNLOCK FAILED {report.failed_unlocks}x in {hours:g} h{when}")
    at = f"{report.reported_at:%Y-%m-%d %H:%M:%S%z}" if report.reported_at else "-"
    state = f"{', '.join(parts)}  ({report.adapter}; reported {at})"
    if report.stopped:
        return f"{report.kiosk_id}  STOPPED (kiosk stopped cleanly); last state: {state}"
    if report.is_stale(settings) and report.age_s is not None:
        # The door may be otherwise by now: said before its last known state.
        return f"{report.kiosk_id}  STALE ({last_heard(report.age_s)}); last known: {state}"
    return f"{report.kiosk_id}  {state}"
