"""The command lines of kiosk-admin rules and doors (issue 25), kept out of admin/cli.py."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from admin import doors_commands, rules_commands
from admin.commands import person_id
from core.rules.model import DoorMode

CommandMaker = Callable[..., argparse.ArgumentParser]
"""admin.cli's ``command(group, name, run, summary, operator=True)``."""


def add_rules_commands(sub: Any, command: CommandMaker, parser_class: type) -> None:
    group = sub.add_parser(
        "rules",
        help="the access rules: export, import and check them",
        description="the access rules as one TOML file (docs/access-rules.md), and what "
        "they decide for a person at a door",
    )
    actions = group.add_subparsers(required=True, metavar="ACTION", parser_class=parser_class)
    p = command(
        actions,
        "export",
        rules_commands.export,
        "every door, schedule, holiday calendar, group and membership as a rules file",
    )
    p.add_argument(
        "--out", type=Path, metavar="FILE", help="write it here, owner-only (default: print it)"
    )
    p = command(
        actions,
        "import",
        rules_commands.import_,
        "make the stored rules a rules file's, checked as a whole, in one transaction (admins)",
    )
    p.add_argument("file", type=Path, metavar="FILE")
    p.add_argument("--dry-run", action="store_true", help="only say what would change")
    p.add_argument(
        "--force",
        action="store_true",
        help="import even a file exported before the stored rules last changed (it undoes "
        "those changes, e.g. removes people enrolled since from its groups)",
    )
    p = command(
        actions,
        "check",
        rules_commands.check,
        "what a door would decide for a person at a moment, and why (records nothing); "
        "exit 0 allowed, 4 refused",
    )
    p.add_argument("--person", required=True, type=person_id, metavar="PERSON_ID")
    p.add_argument("--door", required=True, metavar="KIOSK_ID")
    p.add_argument(
        "--at",
        type=rules_commands.moment,
        metavar="TIME",
        help="e.g. 2026-12-24T22:00, the door's local time unless it has an offset (default: now)",
    )

    group = sub.add_parser(
        "doors",
        help="the kiosks as doors of the access rules: list, rename, set",
        description="each kiosk's door: its name, time zone, holiday calendar and mode "
        "(the door hardware: kiosk-admin door)",
    )
    actions = group.add_subparsers(required=True, metavar="ACTION", parser_class=parser_class)
    command(actions, "list", doors_commands.list_doors, "every door")
    p = command(actions, "rename", doors_commands.rename, "give a door another name (admins)")
    p.add_argument("kiosk_id", metavar="KIOSK_ID")
    p.add_argument("name", metavar="NAME")
    p = command(
        actions,
        "set",
        doors_commands.set_door,
        "change a door's time zone, holiday calendar or mode (admins)",
    )
    p.add_argument("kiosk_id", metavar="KIOSK_ID")
    p.add_argument("--time-zone", metavar="ZONE", help='an IANA name, as "Europe/Berlin"')
    calendar = p.add_mutually_exclusive_group()
    calendar.add_argument("--calendar", metavar="NAME", help="a holiday calendar of the rules")
    calendar.add_argument("--no-calendar", action="store_true", help="no holidays at this door")
    p.add_argument("--mode", choices=[m.value for m in DoorMode])
