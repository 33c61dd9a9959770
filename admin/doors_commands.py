"""kiosk-admin doors: the kiosks as doors of the access rules (name, time zone,
holiday calendar, mode). ``kiosk-admin door`` (admin/door_commands.py) is the
door hardware: lockdown, release, unlock."""

from __future__ import annotations

import argparse

from admin.context import CommandContext
from admin.output import Report
from core.errors import InvalidValue
from core.rules.model import Door, DoorMode, check_time_zone


def list_doors(args: argparse.Namespace, ctx: CommandContext) -> Report:
    doors = ctx.store.rules.doors(actor=ctx.login(args.operator))
    return Report(
        {"doors": [door_data(door) for door in doors]},
        "\n".join(_line(door) for door in doors)
        or "no doors yet: a kiosk makes its door when it first starts",
    )


def rename(args: argparse.Namespace, ctx: CommandContext) -> Report:
    return _change(args, ctx, display_name=" ".join(args.name.split()))


def set_door(args: argparse.Namespace, ctx: CommandContext) -> Report:
    if not (args.time_zone or args.calendar or args.no_calendar or args.mode):
        raise InvalidValue(
            "doors set changes nothing without --time-zone, --calendar, --no-calendar or --mode"
        )
    if args.time_zone:
        try:  # before the password is asked for
            check_time_zone(args.time_zone)
        except ValueError as error:
            raise InvalidValue(f"{error}; nothing was changed") from error
    return _change(
        args,
        ctx,
        time_zone=args.time_zone,
        calendar=args.calendar,
        clear_calendar=args.no_calendar,
        mode=DoorMode(args.mode) if args.mode else None,
    )


def _change(
    args: argparse.Namespace,
    ctx: CommandContext,
    *,
    display_name: str | None = None,
    time_zone: str | None = None,
    calendar: str | None = None,
    clear_calendar: bool = False,
    mode: DoorMode | None = None,
) -> Report:
    operator = ctx.login(args.operator)
    try:
        door = ctx.store.rules.update_door(
            args.kiosk_id,
            actor=operator,
            display_name=display_name,
            time_zone=time_zone,
            calendar=calendar,
            clear_calendar=clear_calendar,
            mode=mode,
        )
    except ValueError as error:  # the door's own checks (core.rules.model.Door)
        raise InvalidValue(f"{error}; nothing was changed") from error
    return Report(door_data(door), f"door changed: {_line(door)}")


def door_data(door: Door) -> dict[str, object]:
    return {
        "kiosk_id": door.kiosk_id,
        "name": door.display_name,
        "time_zone": door.time_zone,
        "calendar": door.calendar,
        "mode": door.mode.value,
    }


def _line(door: Door) -> str:
    calendar = f"holidays: {door.calendar}" if door.calendar else "no holidays"
    return (
        f"{door.kiosk_id}  {door.display_name!r}  {door.time_zone}  {calendar}  {door.mode.value}"
    )
