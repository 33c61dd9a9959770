"""kiosk-admin commands for the settings kept in the database.

A per-kiosk setting (camera.source, camera.folder_fps) always names its kiosk: the one
given with ``--kiosk``; else the only kiosk that has used the database, or, when none
has, this machine's (kiosk.id, KIOSK_ID or kiosk-<hostname>). With several kiosks on
the database ``--kiosk`` is required: a camera set for the wrong door is a door that
keeps its old camera while kiosk-admin said it changed.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from typing import Any

from admin.context import CommandContext
from admin.output import Report
from core.administration.shared_settings import (
    EDITABLE,
    EDITABLE_KEYS,
    Scope,
    SettingsService,
    parse_assignment,
    value_of,
)
from core.errors import InvalidValue, NotFound
from core.settings import Settings
from storage import kiosk_registry

PER_KIOSK_KEYS = tuple(s.key for s in EDITABLE if s.scope is Scope.THIS_KIOSK)


def add_kiosk_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--kiosk",
        metavar="KIOSK_ID",
        help=f"the kiosk whose own settings ({', '.join(PER_KIOSK_KEYS)}) are meant; "
        "required when several kiosks use the database (kiosk-admin kiosks lists them)",
    )


def show(args: argparse.Namespace, ctx: CommandContext) -> Report:
    kiosk, how = _chosen_kiosk(ctx, args.kiosk, required=False)
    effective = (
        ctx.effective if kiosk == ctx.settings.kiosk_id else _service(ctx, kiosk).effective()
    )
    rows = [
        (setting.key, value_of(effective, setting.key), setting.scope.value, setting.label)
        for setting in EDITABLE
    ]
    width = max(len(key) for key, *_ in rows)
    return Report(
        {"kiosk_id": kiosk, "settings": {key: value for key, value, *_ in rows}},
        f"settings in effect for kiosk {kiosk} ({how}):\n"
        + "\n".join(
            f"  {key:<{width}}  {value!s:<12}  ({scope}) {label}"
            for key, value, scope, label in rows
        ),
    )


def set_values(args: argparse.Namespace, ctx: CommandContext) -> Report:
    values = dict(parse_assignment(text, ctx.settings) for text in args.assignments)
    per_kiosk = [key for key in values if EDITABLE_KEYS[key].scope is Scope.THIS_KIOSK]
    if args.kiosk is not None and not per_kiosk:
        raise InvalidValue(
            f"--kiosk names the kiosk of {', '.join(PER_KIOSK_KEYS)}; "
            f"{', '.join(values)} apply to every kiosk: leave --kiosk out"
        )
    kiosk, how = (
        _chosen_kiosk(ctx, args.kiosk, required=True) if per_kiosk else (ctx.settings.kiosk_id, "")
    )
    changes = _service(ctx, kiosk).change(ctx.login(args.operator), values)
    lines = [f"{c.key}: {c.old} -> {c.new}" for c in changes] or [
        "nothing changed: the values were already in effect"
    ]
    data: dict[str, Any] = {"changed": {c.key: {"old": c.old, "new": c.new} for c in changes}}
    if per_kiosk:
        data["kiosk_id"] = kiosk
        lines.insert(0, f"{', '.join(per_kiosk)} for kiosk {kiosk} ({how}):")
    return Report(data, "\n".join(lines))


def _chosen_kiosk(ctx: CommandContext, given: str | None, *, required: bool) -> tuple[str, str]:
    """The kiosk meant, and how it was chosen (for the output).

    Raises NotFound for a ``given`` id no kiosk has used here (other than this
    machine's own, which may be set before its kiosk first starts), and InvalidValue
    when ``required`` and several kiosks use the database but none was given."""
    own = ctx.settings.kiosk_id
    known = [kiosk.id for kiosk in kiosk_registry.kiosks(ctx.store.engine)]
    if given is not None:
        if given not in known and given != own:
            raise NotFound(
                f"no kiosk {given!r} has used this database (kiosks: {_listed(known)}); "
                "give one of those, or this machine's own"
            )
        return given, "this machine's" if given == own else "given with --kiosk"
    if len(known) > 1:
        if not required:
            return own, f"this machine's; --kiosk for another of {_listed(known)}"
        raise InvalidValue(
            f"{', '.join(PER_KIOSK_KEYS)} belong to one kiosk and {len(known)} kiosks use "
            f"this database ({_listed(known)}): name one with --kiosk KIOSK_ID"
        )
    if len(known) == 1:
        return known[0], "the only kiosk that uses this database"
    return own, "this machine's; no kiosk has used this database yet"


def _service(ctx: CommandContext, kiosk: str) -> SettingsService:
    """The settings service of ``kiosk``. For another kiosk than this machine's, the
    per-kiosk settings start from their defaults: this machine's kiosk.toml is not
    that kiosk's."""
    if kiosk == ctx.settings.kiosk_id:
        return ctx.shared_settings
    sections = {key.partition(".")[0] for key in PER_KIOSK_KEYS}
    defaults = Settings()
    base = ctx.settings.model_copy(
        update={"kiosk_id": kiosk} | {name: getattr(defaults, name) for name in sections}
    )
    return SettingsService(ctx.store.settings, base)


def _listed(kiosks: Iterable[str]) -> str:
    return ", ".join(kiosks) or "none"
