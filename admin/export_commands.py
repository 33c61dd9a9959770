"""kiosk-admin export: people, consent, rules, operators and logs as CSV and JSON.

Each part goes only to an operator allowed to see it (storage.site_export); the
others are left out and the manifest says why. Templates leave only sealed with a
key file, for moving to another server, and only for admins.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from admin.context import CommandContext
from admin.export_files import TEMPLATES_FILE, ExportFolder
from admin.output import Report
from core.accounts.permissions import authorize
from core.errors import InvalidValue
from storage.sealed_stream import read_key_file
from storage.site_export import PART_PERMISSIONS, ExportPart, SqlSiteExport, allowed_parts


def export(args: argparse.Namespace, ctx: CommandContext) -> Report:
    if args.key_file is not None and not args.with_templates:
        raise InvalidValue("--key-file seals the templates: give it with --with-templates")
    if args.with_templates and args.key_file is None:
        raise InvalidValue(
            "templates leave only encrypted: give --key-file FILE with --with-templates "
            "(kiosk-admin backup-key makes one)"
        )
    key = read_key_file(args.key_file) if args.key_file is not None else None
    actor = ctx.login(args.operator)
    exporter = SqlSiteExport(ctx.store.engine)
    parts = allowed_parts(actor.role) - {ExportPart.TEMPLATES}
    if args.with_templates:
        authorize(actor, PART_PERMISSIONS[ExportPart.TEMPLATES], exporter)
        parts.add(ExportPart.TEMPLATES)
    left_out = {
        part.value: f"needs the permission to {PART_PERMISSIONS[part].value}"
        for part in sorted(set(ExportPart) - parts - {ExportPart.TEMPLATES})
    }
    folder = ExportFolder(args.out, key)
    try:
        counts = exporter.export(actor, parts, folder)
    except BaseException:
        folder.discard()
        raise
    manifest: dict[str, Any] = {
        "exported_at": datetime.now(UTC).isoformat(),
        "operator": actor.username,
        "source": ctx.store.location,
        "rows": {part.value: n for part, n in sorted(counts.items())},
        "left_out": left_out,
        "templates": f"{TEMPLATES_FILE}, encrypted with the key file"
        if ExportPart.TEMPLATES in parts
        else "not exported (--with-templates --key-file FILE)",
        "files": sorted(folder.files),
    }
    folder.manifest(manifest)
    lines = [f"exported to {args.out} (owner-only):"]
    lines += [f"  {part}: {n:,}" for part, n in manifest["rows"].items()]
    lines += [f"  {part}: left out, {why}" for part, why in left_out.items()]
    return Report(manifest, "\n".join(lines))


def add_commands(
    sub: Any, command: Callable[..., argparse.ArgumentParser], parser_class: Any
) -> None:
    p = command(
        sub,
        "export",
        export,
        "export people, consent records, rules, operators (no password hashes) and the logs "
        "you may read, as CSV and JSON, to a new owner-only folder",
    )
    p.add_argument("--out", required=True, type=Path, metavar="DIR", help="a new folder")
    p.add_argument(
        "--with-templates",
        action="store_true",
        help="add the templates, encrypted with --key-file (admins), to move to another server",
    )
    p.add_argument("--key-file", type=Path, metavar="FILE", help="the key sealing the templates")
