"""kiosk-admin commands for the settings kept in the database."""

from __future__ import annotations

import argparse

from admin.context import CommandContext
from admin.output import Report
from core.administration.shared_settings import EDITABLE, parse_assignment, value_of


def show(args: argparse.Namespace, ctx: CommandContext) -> Report:
    effective = ctx.effective
    rows = [
        (setting.key, value_of(effective, setting.key), setting.scope.value, setting.label)
        for setting in EDITABLE
    ]
    width = max(len(key) for key, *_ in rows)
    return Report(
        {"kiosk_id": ctx.settings.kiosk_id, "settings": {key: value for key, value, *_ in rows}},
        f"settings in effect for {ctx.settings.kiosk_id}:\n"
        + "\n".join(
            f"  {key:<{width}}  {value!s:<12}  ({scope}) {label}"
            for key, value, scope, label in rows
        ),
    )


def set_values(args: argparse.Namespace, ctx: CommandContext) -> Report:
    values = dict(parse_assignment(text, ctx.settings) for text in args.assignments)
    changes = ctx.shared_settings.change(ctx.login(args.operator), values)
    return Report(
        {"changed": {c.key: {"old": c.old, "new": c.new} for c in changes}},
        "\n".join(f"{c.key}: {c.old} -> {c.new}" for c in changes)
        or "nothing changed: the values were already in effect",
    )
