"""kiosk-admin backup, restore and backup-key: the whole database, while kiosks run.

docs/operations.md says how and when to use them, and what a restore does to the
audit chains and their anchor.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from admin.context import CommandContext
from admin.output import Report, progress
from core.accounts.permissions import Permission, authorize
from core.administration.chains import short
from core.errors import AuditChainBroken
from storage.backup import BackupManifest, backup_source, make_backup
from storage.database import describe_url
from storage.restore import (
    Backup,
    check_restored_chains,
    read_backup,
    record_restore,
    restore_to_url,
    restored_in_folder,
)
from storage.sealed_stream import new_key_file, read_key_file


def backup(args: argparse.Namespace, ctx: CommandContext) -> Report:
    key = read_key_file(args.key_file) if args.key_file else None
    actor = ctx.login(args.operator)
    authorize(actor, Permission.BACKUP, ctx.store.audit)  # the store checks again
    source = backup_source(
        ctx.store,
        ctx.location.database_url,
        ctx.database_password(),
        ctx.settings.kiosk_id,
        ctx.settings.embedded_server,
    )
    made = make_backup(
        source, args.out, key, actor=actor, timeout_s=ctx.settings.backup.dump_timeout_s
    )
    manifest = made.manifest
    lines = [
        f"backup written to {made.path}: {made.size:,} bytes, {_events(manifest)}, "
        f"schema {manifest.schema_revision}",
        "encrypted with the key file: keep the key apart from the backups"
        if made.encrypted
        else "NOT encrypted: it holds every template and operator's password hash; keep it "
        "where only admins can read it, or give --key-file",
    ]
    if manifest.anchor_check not in ("matched", "none"):
        lines.append(f"warning: {manifest.anchor_check}")
    if not made.audited:
        lines.append("warning: the database did not take the backup's audit event")
    return Report(
        {
            "backup": str(made.path),
            "bytes": made.size,
            "encrypted": made.encrypted,
            "audited": made.audited,
            "manifest": manifest.to_dict(),
        },
        "\n".join(lines),
    )


def restore(args: argparse.Namespace, ctx: CommandContext) -> Report:
    key = read_key_file(args.key_file) if args.key_file else None
    found = read_backup(args.file, key)
    url = ctx.location.database_url
    if url is not None:
        progress(f"restoring {args.file} into {describe_url(url)}")
        restore_to_url(found, key, url, ctx.database_password(), ctx.settings)
        return _finish(args, ctx, found)
    progress(f"restoring {args.file} into the new data folder {ctx.location.data_dir}")
    with restored_in_folder(found, key, ctx.location.data_dir, ctx.settings):
        try:
            return _finish(args, ctx, found)
        except BaseException:
            ctx.close()  # the store leaves the server before the folder is removed
            raise


def _finish(args: argparse.Namespace, ctx: CommandContext, found: Backup) -> Report:
    """Migrate, check the restored chains against the manifest and anchor them here,
    before anything is appended; then log in, audit the restore and verify."""
    store = ctx.store
    heads = check_restored_chains(store.engine, found.manifest)
    kept = store.anchor.replace(heads)
    actor = ctx.login(args.operator)
    record_restore(store.engine, actor, found.manifest, store.audit)
    report = ctx.audit.verify(actor)
    if not report.intact:
        raise AuditChainBroken(
            "restored, but audit verify fails: " + "; ".join(report.problems) + " (restore "
            "another backup; docs/operations.md)"
        )
    manifest = found.manifest
    text = [
        f"restored the backup of {manifest.made_at:%Y-%m-%d %H:%M:%S%z} from {manifest.source} "
        f"into {store.location}: {_events(manifest)}",
        f"schema {manifest.schema_revision} brought up to date",
        f"anchored the restored chains in {store.anchor.where} ({kept})",
        *report.summary(),
        "audit verify: intact",
    ]
    return Report(
        {
            "restored": str(args.file),
            "into": store.location,
            "manifest": manifest.to_dict(),
            "anchored": {c: {"count": h.count, "hash": h.hash} for c, h in heads.items()},
            "verify": {"intact": report.intact, "summary": report.summary()},
        },
        "\n".join(text),
    )


def backup_key(args: argparse.Namespace, ctx: CommandContext) -> Report:
    new_key_file(args.out)
    return Report(
        {"key_file": str(args.out)},
        f"wrote a new key to {args.out} (mode 0600); keep a copy away from the backups: "
        "without it an encrypted backup cannot be restored",
    )


def _events(manifest: BackupManifest) -> str:
    return ", ".join(
        f"{head.count:,} {chain} events (head {short(head.hash)})"
        for chain, head in sorted(manifest.heads.items())
    )


def add_commands(
    sub: Any, command: Callable[..., argparse.ArgumentParser], parser_class: Any
) -> None:
    """backup, restore and backup-key under kiosk-admin's subcommands ``sub``."""
    p = command(
        sub,
        "backup",
        backup,
        "back the database up to a new file while kiosks run (admins): pg_dump of one "
        "snapshot, owner-only, encrypted with --key-file",
    )
    p.add_argument("--out", required=True, type=Path, metavar="FILE", help="a new file")
    p.add_argument("--key-file", type=Path, metavar="FILE", help="encrypt with this key")
    p = command(
        sub,
        "restore",
        restore,
        "restore a backup into a new data folder (--data-dir) or an empty database "
        "(--database-url), anchor its chains there and run audit verify (admins of the "
        "backup)",
    )
    p.add_argument("file", type=Path, metavar="FILE", help="the backup")
    p.add_argument("--key-file", type=Path, metavar="FILE", help="the key it was made with")
    p = command(
        sub,
        "backup-key",
        backup_key,
        "write a new random key file for encrypted backups and exports (0600)",
        operator=False,
    )
    p.add_argument("--out", required=True, type=Path, metavar="FILE", help="a new file")
