"""kiosk-admin api-keys: keys for kiosk-server's machine clients (admins).

The key is printed once, when it is made; only its SHA-256 is kept."""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from admin.context import CommandContext
from admin.output import Report
from core.accounts.api_keys import ApiKeyInfo, ApiKeyService, check_key_name
from core.errors import InvalidValue
from core.records import Role
from storage.api_key_store import SqlApiKeyStore

_DAYS = re.compile(r"^(\d{1,5})d$")


def _service(ctx: CommandContext) -> ApiKeyService:
    return ApiKeyService(SqlApiKeyStore(ctx.store.engine))


def create(args: argparse.Namespace, ctx: CommandContext) -> Report:
    name = check_key_name(args.name)  # before the password is asked for
    expires_at = expiry(args.expires, ctx.settings.api.api_key_max_days)
    made = _service(ctx).create(ctx.login(args.operator), name, Role(args.role), expires_at)
    data = {**key_data(made.info), "key": made.secret}
    return Report(
        data,
        f"API key {made.info.name} ({made.info.role.value}, account {made.info.account}) "
        f"expires {made.info.expires_at.astimezone():%Y-%m-%d %H:%M%z}; it is shown only "
        f"now, keep it in the client's secret store:\n{made.secret}",
    )


def list_keys(args: argparse.Namespace, ctx: CommandContext) -> Report:
    found = _service(ctx).keys(ctx.login(args.operator))
    return Report(
        {"api_keys": [key_data(info) for info in found]},
        "\n".join(_line(info) for info in found) or "no API keys yet",
    )


def revoke(args: argparse.Namespace, ctx: CommandContext) -> Report:
    info = _service(ctx).revoke(ctx.login(args.operator), args.name)
    return Report(key_data(info), f"API key {info.name} revoked; it is refused from now on")


def key_data(info: ApiKeyInfo) -> dict[str, object]:
    return {
        "name": info.name,
        "account": info.account,
        "role": info.role.value,
        "created_by": info.created_by,
        "created_at": info.created_at.isoformat(),
        "expires_at": info.expires_at.isoformat(),
        "revoked_at": info.revoked_at.isoformat() if info.revoked_at else None,
        "revoked_by": info.revoked_by,
    }


def _line(info: ApiKeyInfo) -> str:
    state = (
        f"revoked {info.revoked_at.astimezone():%Y-%m-%d %H:%M} by {info.revoked_by}"
        if info.revoked_at
        else f"expires {info.expires_at.astimezone():%Y-%m-%d %H:%M%z}"
    )
    return f"{info.name}  {info.role.value}  {state}  (made by {info.created_by})"


def expiry(value: str, max_days: int, now: datetime | None = None) -> datetime:
    """``90d`` (days from now) or an ISO date or time (local unless it has a zone; a
    date means the start of that day), at most ``max_days`` (api.api_key_max_days)
    ahead. Raises InvalidValue."""
    now = now or datetime.now().astimezone()
    days = _DAYS.match(value.strip())
    if days:
        moment = now + timedelta(days=int(days.group(1)))
    else:
        try:
            parsed = datetime.fromisoformat(value.strip())
        except ValueError:
            raise InvalidValue(
                f"--expires {value!r} is neither a number of days (90d) nor a date (2027-03-31)"
            ) from None
        moment = parsed if parsed.tzinfo is not None else parsed.astimezone()
    if moment <= now:
        raise InvalidValue(f"--expires {value!r} is not in the future")
    if moment > now + timedelta(days=max_days):
        raise InvalidValue(
            f"--expires {value!r} is more than {max_days} days ahead (api.api_key_max_days)"
        )
    return moment


def add_commands(
    sub: Any, command: Callable[..., argparse.ArgumentParser], parser_class: Any
) -> None:
    """The ``api-keys`` group under kiosk-admin's subcommands ``sub``."""
    group = sub.add_parser(
        "api-keys",
        help="keys for kiosk-server's machine clients (admins)",
        description="API keys: each acts with a role through an account of its own "
        "(apikey.NAME); the key is shown once, only its hash is kept",
    )
    actions = group.add_subparsers(required=True, metavar="ACTION", parser_class=parser_class)
    p = command(actions, "create", create, "make a key, shown once")
    p.add_argument("name", metavar="NAME", help="what the key is for, e.g. hr-sync")
    p.add_argument("--role", required=True, choices=[r.value for r in Role])
    p.add_argument(
        "--expires",
        required=True,
        metavar="WHEN",
        help="90d (days from now) or a date such as 2027-03-31",
    )
    command(actions, "list", list_keys, "every key, with its role, expiry or revocation")
    p = command(actions, "revoke", revoke, "revoke a key: refused from the next request on")
    p.add_argument("name", metavar="NAME")
