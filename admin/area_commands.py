"""kiosk-admin areas: who an anti-passback area counts as inside, and clearing it.

The areas themselves come from the rules file (kiosk-admin rules import)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from admin.commands import person_id
from admin.context import CommandContext
from admin.output import Report
from storage.area_presence import SqlAreaPresence


def _store(ctx: CommandContext) -> SqlAreaPresence:
    return SqlAreaPresence(ctx.store.engine, ctx.settings.rules.presence_lock_wait_ms)


def inside(args: argparse.Namespace, ctx: CommandContext) -> Report:
    people = _store(ctx).inside(args.area, actor=ctx.login(args.operator), at=datetime.now(UTC))
    rows = [
        {
            "person_id": str(p.person_id),
            "inside_since": p.inside_since.isoformat(),
            "door": p.door,
            "counts_until": p.counts_until.isoformat(),
        }
        for p in people
    ]
    lines = [
        f"{p.person_id}  since {p.inside_since.astimezone():%Y-%m-%d %H:%M:%S%z} through "
        f"{p.door} (until {p.counts_until.astimezone():%Y-%m-%d %H:%M%z})"
        for p in people
    ]
    return Report(
        {"area": args.area, "inside": rows},
        "\n".join(lines) or f"nobody counts as inside {args.area}",
    )


def reset(args: argparse.Namespace, ctx: CommandContext) -> Report:
    who = args.person
    cleared = _store(ctx).reset(
        args.area, actor=ctx.login(args.operator), at=datetime.now(UTC), person_id=who
    )
    whom = f"person {who}" if who is not None else "everyone"
    text = f"{whom} now counts as outside {args.area}; {cleared} counted as inside before"
    return Report(
        {"area": args.area, "person_id": str(who) if who else None, "cleared": cleared}, text
    )


def add_commands(
    sub: Any, command: Callable[..., argparse.ArgumentParser], parser_class: Any
) -> None:
    """The ``areas`` group under kiosk-admin's subcommands ``sub``."""
    group = sub.add_parser(
        "areas",
        help="who is inside an anti-passback area; clear a person's presence (admins)",
        description="anti-passback areas: the rules file defines them, these commands "
        "show and clear who each counts as inside",
    )
    actions = group.add_subparsers(required=True, metavar="ACTION", parser_class=parser_class)
    p = command(actions, "inside", inside, "who the area counts as inside now")
    p.add_argument("area", metavar="AREA")
    p = command(
        actions,
        "reset",
        reset,
        "count a person (or everyone) as outside the area, e.g. one who went out behind "
        "someone else without using the exit door; audited",
    )
    p.add_argument("area", metavar="AREA")
    p.add_argument("--person", type=person_id, metavar="ID", help="only this person")
