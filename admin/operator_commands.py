"""kiosk-admin commands about operator accounts."""

from __future__ import annotations

import argparse

from admin.columns import columns
from admin.context import CommandContext
from admin.output import Report
from core.accounts.permissions import Permission, authorize
from core.records import Role


def add(args: argparse.Namespace, ctx: CommandContext) -> Report:
    actor = ctx.login(args.operator)
    # Refuse before asking for a password.
    authorize(actor, Permission.MANAGE_OPERATORS, ctx.store.operators)
    password = ctx.new_password(f"password for new operator {args.username}: ")
    created = ctx.operators.add(actor, args.username, Role(args.role), password)
    return Report(
        {"operator": created.username, "role": created.role.value},
        f"added operator {created.username} ({created.role.value})",
    )


def list_operators(args: argparse.Namespace, ctx: CommandContext) -> Report:
    found = ctx.operators.operators(ctx.login(args.operator))
    return Report(
        {
            "operators": [
                {
                    "username": o.username,
                    "role": o.role.value,
                    "disabled": o.disabled,
                    "created_at": o.created_at.isoformat(),
                }
                for o in found
            ]
        },
        columns(
            ["USERNAME", "ROLE", "STATE", "CREATED"],
            [
                [
                    o.username,
                    o.role.value,
                    "disabled" if o.disabled else "active",
                    f"{o.created_at:%Y-%m-%d %H:%M}",
                ]
                for o in found
            ],
        ),
    )


def disable(args: argparse.Namespace, ctx: CommandContext) -> Report:
    ctx.operators.set_disabled(ctx.login(args.operator), args.username, disabled=True)
    return Report({"operator": args.username, "disabled": True}, f"disabled {args.username}")


def enable(args: argparse.Namespace, ctx: CommandContext) -> Report:
    ctx.operators.set_disabled(ctx.login(args.operator), args.username, disabled=False)
    return Report({"operator": args.username, "disabled": False}, f"enabled {args.username}")


def reset_password(args: argparse.Namespace, ctx: CommandContext) -> Report:
    actor = ctx.login(args.operator)
    # Refuse before asking for a password.
    authorize(actor, Permission.MANAGE_OPERATORS, ctx.store.operators)
    password = ctx.new_password(f"new password for {args.username}: ")
    ctx.operators.reset_password(actor, args.username, password)
    return Report({"operator": args.username}, f"password of {args.username} reset")


def set_role(args: argparse.Namespace, ctx: CommandContext) -> Report:
    ctx.operators.set_role(ctx.login(args.operator), args.username, Role(args.role))
    return Report(
        {"operator": args.username, "role": args.role}, f"{args.username} is now {args.role}"
    )


def change_own_password(args: argparse.Namespace, ctx: CommandContext) -> Report:
    actor = ctx.login(args.operator)
    ctx.operators.change_own_password(actor, ctx.new_password("new password: "))
    return Report({"operator": actor.username}, f"password of {actor.username} changed")
