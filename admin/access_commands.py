"""kiosk-admin people access, and the access options of kiosk-admin enroll: which
access groups a person is in and the days they may pass (core.rules)."""

from __future__ import annotations

import argparse
import uuid
from datetime import date, datetime
from zoneinfo import ZoneInfo

from admin.context import CommandContext
from admin.output import Report
from config.time_zone import door_time_zone
from core.errors import InvalidValue
from core.rules.model import Validity, check_name
from core.rules.person_validity import KEEP, Keep, ValidityChange, visitor_validity

ACCESS_OPTIONS = (
    "groups",
    "no_groups",
    "valid_from",
    "no_start",
    "valid_until",
    "no_end",
)
"""The options of ``people access`` (their argparse names)."""


def add_access_options(parser: argparse.ArgumentParser, *, enrolling: bool) -> None:
    """--groups, --valid-from, --valid-until; for people access also their "none"
    forms, for enroll --visitor."""
    groups = parser.add_mutually_exclusive_group()
    groups.add_argument(
        "--groups",
        type=group_names,
        metavar="A,B",
        help="the access groups, comma separated"
        + (" (default: the site's default group)" if enrolling else " (replaces them)"),
    )
    start = parser.add_mutually_exclusive_group()
    start.add_argument("--valid-from", type=day, metavar="DATE", help="first day they may pass")
    end = parser.add_mutually_exclusive_group()
    end.add_argument("--valid-until", type=day, metavar="DATE", help="last day they may pass")
    if enrolling:
        parser.add_argument(
            "--visitor",
            action="store_true",
            help="a visitor: without --valid-until they may pass rules.visitor_valid_days days",
        )
        return
    groups.add_argument("--no-groups", action="store_true", help="in no group: refused everywhere")
    start.add_argument("--no-start", action="store_true", help="no first day")
    end.add_argument("--no-end", action="store_true", help="no last day")


def enrollment_access(
    args: argparse.Namespace, ctx: CommandContext
) -> tuple[tuple[str, ...] | None, Validity]:
    """The groups and validity ``kiosk-admin enroll`` was given; a visitor's end
    date from rules.visitor_valid_days, counted from today in this kiosk's time
    zone (rules.time_zone). Raises InvalidValue."""
    until = args.valid_until
    try:
        if args.visitor:
            # The kiosk's own zone: where the visitor is enrolled is where "today" is.
            zone = door_time_zone(ctx.settings.rules.time_zone)
            today = datetime.now(ZoneInfo(zone)).date()
            validity = visitor_validity(
                args.valid_from,
                until,
                today=today,
                days=ctx.effective.rules.visitor_valid_days,
            )
        else:
            validity = Validity(args.valid_from, until)
    except ValueError as error:
        raise InvalidValue(str(error)) from error
    return args.groups, validity


def person_access(args: argparse.Namespace, ctx: CommandContext) -> Report:
    """Show a person's access (VIEW_PEOPLE), or change it (ASSIGN_ACCESS) when an
    option is given, then show it."""
    if args.person_id is None:
        raise InvalidValue("people access needs a person id: kiosk-admin people access PERSON_ID")
    operator = ctx.login(args.operator)
    groups = frozenset() if args.no_groups else args.groups
    change = ValidityChange(
        _end(args.valid_from, args.no_start), _end(args.valid_until, args.no_end)
    )
    if groups is not None or change.changes:
        try:
            ctx.store.rules.set_person_access(
                args.person_id,
                actor=operator,
                groups=frozenset(groups) if groups is not None else None,
                validity=change if change.changes else None,
            )
        except ValueError as error:
            raise InvalidValue(f"{error}; nothing was changed") from error
    names, validity = ctx.store.rules.person_access(args.person_id, actor=operator)
    return _access_report(args.person_id, names, validity)


def _end(value: date | None, none: bool) -> date | Keep | None:
    if none:
        return None
    return value if value is not None else KEEP


def _access_report(person: uuid.UUID, groups: frozenset[str], validity: Validity) -> Report:
    names = sorted(groups)
    return Report(
        {
            "person_id": str(person),
            "groups": names,
            "valid_from": _iso(validity.valid_from),
            "valid_until": _iso(validity.valid_until),
        },
        "\n".join(
            [
                f"person:  {person}",
                f"groups:  {', '.join(names) or 'none (refused at every door)'}",
                f"valid:   {validity_text(validity)}",
            ]
        ),
    )


def validity_text(validity: Validity) -> str:
    if validity.valid_from is None and validity.valid_until is None:
        return "always"
    parts = []
    if validity.valid_from is not None:
        parts.append(f"from {validity.valid_from}")
    if validity.valid_until is not None:
        parts.append(f"until {validity.valid_until} (that day included)")
    return " ".join(parts)


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day is not None else None


def group_names(value: str) -> tuple[str, ...]:
    """ "staff, cleaners" as ("cleaners", "staff"); each a valid group name."""
    names = {name.strip() for name in value.split(",") if name.strip()}
    if not names:
        raise argparse.ArgumentTypeError("give group names separated by commas, as staff,cleaners")
    try:
        return tuple(sorted(check_name("group", name) for name in names))
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from error


def day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{value!r} is not a date; write it as 2026-12-24"
        ) from None
