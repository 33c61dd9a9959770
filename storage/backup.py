"""A consistent backup of the database while kiosks run on it.

One REPEATABLE READ transaction exports its snapshot (``pg_export_snapshot``) and,
in that snapshot, reads the head of each hash chain (its count and last hash),
the schema's revision and the server's version; ``pg_dump`` then dumps that very
snapshot (``--snapshot``) while the transaction stays open. So the heads in the
backup's manifest are those of the events in the archive, whatever the doors
append meanwhile, and a restore can check that it got them all
(storage/restore.py). Before the snapshot, the anchor kept in this data folder is
read: its heads were committed before it, so they must be in the archive, and the
manifest says whether they were.

The archive is pg_dump's custom format, without owners or grants (it restores
into any server), written by storage/backup_file.py: owner-only, sealed with a key
file when one is given, never over an existing file. The backup is audited
(``backup.made``, or ``backup.failed`` with a short reason code; never a path).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, text
from sqlalchemy.orm import sessionmaker

from core import log_records, records
from core.accounts.permissions import Permission
from core.administration.chains import GENESIS_HASH, Chain, short
from core.errors import BackupFailed, KioskError, StoreError
from core.log_records import AnchorStatus, ChainHead
from core.settings import EmbeddedServerSettings
from core.store import DenialLog
from storage import pg_programs
from storage.audit_log import SYSTEM_ACTOR, append_audit, write_apart
from storage.backup_file import SealedHeader, refuse_existing, written
from storage.chain_anchor import ChainAnchor
from storage.operator_authority import act_as
from storage.pg_programs import DatabaseReach
from storage.store import OpenStore
from storage.transactions import database_failures, transaction

log = logging.getLogger(__name__)

BACKUP_KIND = "backup"
MADE_ACTION = "backup.made"
FAILED_ACTION = "backup.failed"
_CHAIN_TABLES = {Chain.AUDIT.value: "audit_events", Chain.ACCESS.value: "access_events"}


@dataclass(frozen=True)
class BackupManifest:
    """What a backup says about itself, in clear at its start (no personal data)."""

    made_at: datetime
    kiosk_id: str
    """Who made it: the kiosk's id, or kiosk-admin's."""
    source: str
    """The database it was made from, for people: a folder or a URL without password."""
    schema_revision: str
    server_version: str
    heads: dict[str, ChainHead]
    """Chain name -> its head in the archive."""
    anchor_check: str
    """"matched", "none" (nothing anchored where it was made) or the problem found."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "made_at": self.made_at.isoformat(),
            "kiosk_id": self.kiosk_id,
            "source": self.source,
            "schema_revision": self.schema_revision,
            "server_version": self.server_version,
            "heads": {c: {"count": h.count, "hash": h.hash} for c, h in self.heads.items()},
            "anchor_check": self.anchor_check,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], what: str) -> BackupManifest:
        """Raises BackupFailed when ``data`` is not a manifest."""
        try:
            heads = {
                chain: ChainHead(int(head["count"]), str(head["hash"]))
                for chain, head in data["heads"].items()
            }
            return cls(
                datetime.fromisoformat(data["made_at"]),
                str(data["kiosk_id"]),
                str(data["source"]),
                str(data["schema_revision"]),
                str(data["server_version"]),
                heads,
                str(data["anchor_check"]),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            raise BackupFailed(
                f"{what} is damaged: its manifest is incomplete", "format"
            ) from error


@dataclass(frozen=True)
class BackupSource:
    """The database a backup is made of, and what audits it."""

    engine: Engine
    reach: DatabaseReach
    anchor: ChainAnchor | None
    kiosk_id: str
    denials: DenialLog
    """Where a refused operator is recorded (the store's audit log)."""


@dataclass(frozen=True)
class BackupMade:
    path: Path
    manifest: BackupManifest
    size: int
    """Bytes of the file."""
    encrypted: bool
    audited: bool
    """False when the database refused the audit event after the file was written."""


def backup_source(
    store: OpenStore,
    database_url: str | None,
    password: str | None,
    kiosk_id: str,
    server_settings: EmbeddedServerSettings | None = None,
) -> BackupSource:
    """What backs up ``store``: its embedded server as the server's account, or the
    server at ``database_url`` with ``password`` (storage.secrets found it)."""
    if store.server is not None:
        reach = pg_programs.embedded_reach(store.server, server_settings)
    else:
        assert database_url is not None, "a store without a server has a URL"
        reach = pg_programs.url_reach(database_url, password)
    return BackupSource(store.engine, reach, store.anchor, kiosk_id, store.audit)


def make_backup(
    source: BackupSource,
    out: Path,
    key: bytes | None,
    *,
    actor: records.Operator | None,
    timeout_s: float,
    stop: threading.Event | None = None,
) -> BackupMade:
    """Back the database up to ``out``, sealed with ``key`` when given. ``actor`` must be
    allowed BACKUP (None: the kiosk's own scheduled backup, audited as the system).

    Raises NotAllowed or SessionExpired for an operator who may not, BackupFailed
    naming the problem and the fix, StoreError when the database cannot be reached.
    A failure after the authorization is audited as ``backup.failed``. ``stop`` set
    stops pg_dump (the kiosk closing)."""
    sessions = sessionmaker(source.engine)
    if actor is not None:
        with transaction(sessions) as session:
            act_as(session, actor, Permission.BACKUP, source.denials)
    try:
        refuse_existing(out)
        made = _dump(source, out, key, timeout_s, stop)
    except KioskError as error:
        record_failure(source, actor, error)
        raise
    audited = True
    try:
        with transaction(sessions) as session:
            if actor is not None:
                act_as(session, actor, Permission.BACKUP, source.denials)
            append_audit(session, _actor_name(actor), MADE_ACTION, source.kiosk_id, _details(made))
    except StoreError as error:
        log.warning("the backup was made but not audited: %s", error)
        audited = False
    return BackupMade(made.path, made.manifest, made.size, made.encrypted, audited)


def record_failure(source: BackupSource, actor: records.Operator | None, error: KioskError) -> None:
    """Audit a failed backup (``backup.failed``) with a short reason code, never a path;
    a database that cannot take it loses it with a warning."""
    code = error.code if isinstance(error, BackupFailed) else "database"
    write_apart(
        sessionmaker(source.engine),
        lambda session: append_audit(
            session, _actor_name(actor), FAILED_ACTION, source.kiosk_id, {"reason": code}
        ),
        FAILED_ACTION,
    )


def _dump(
    source: BackupSource,
    out: Path,
    key: bytes | None,
    timeout_s: float,
    stop: threading.Event | None,
) -> BackupMade:
    # The anchor before the snapshot: every head it holds was committed before it.
    anchored = source.anchor.read() if source.anchor is not None else None
    with database_failures(), source.engine.connect() as connection:
        connection = connection.execution_options(isolation_level="REPEATABLE READ")
        with connection.begin():
            snapshot = str(connection.scalar(text("SELECT pg_export_snapshot()")))
            heads = {chain: _head(connection, table) for chain, table in _CHAIN_TABLES.items()}
            manifest = BackupManifest(
                made_at=datetime.now(UTC),
                kiosk_id=source.kiosk_id,
                source=source.reach.where,
                schema_revision=str(
                    connection.scalar(text("SELECT version_num FROM alembic_version"))
                ),
                server_version=str(connection.scalar(text("SHOW server_version"))),
                heads=heads,
                anchor_check=_anchor_check(connection, anchored),
            )
            header = SealedHeader(BACKUP_KIND, manifest.to_dict(), key is not None)
            with written(out, header, key) as payload:
                pg_programs.dump(source.reach, snapshot, payload.write, timeout_s, stop)
    return BackupMade(out, manifest, out.stat().st_size, key is not None, audited=False)


def _head(connection: Connection, table: str) -> ChainHead:
    row = connection.execute(
        text(f"SELECT seq, hash FROM {table} ORDER BY seq DESC LIMIT 1")
    ).first()
    return ChainHead(0, GENESIS_HASH) if row is None else ChainHead(int(row.seq), str(row.hash))


def _anchor_check(connection: Connection, anchored: log_records.AnchorReading | None) -> str:
    if anchored is None or anchored.status is AnchorStatus.NONE:
        return "none"
    if anchored.status is AnchorStatus.UNTRUSTED:
        return f"the anchor cannot be trusted: {anchored.problem}"
    for chain, head in anchored.heads.items():
        table = _CHAIN_TABLES.get(chain)
        if table is None or head.count == 0:
            continue
        found = connection.scalar(
            text(f"SELECT hash FROM {table} WHERE seq = :seq"),
            {"seq": head.count},
        )
        if found != head.hash:
            return (
                f"the {chain} log does not hold the head anchored where the backup was made "
                f"(event {head.count}, {short(head.hash)}): run kiosk-admin audit verify there"
            )
    return "matched"


def _details(made: BackupMade) -> dict[str, Any]:
    check = made.manifest.anchor_check
    return {
        "encrypted": made.encrypted,
        "bytes": made.size,
        "schema_revision": made.manifest.schema_revision,
        **{f"{chain}_events": head.count for chain, head in made.manifest.heads.items()},
        "anchor_check": check if check in ("matched", "none") else "problem",
    }


def _actor_name(actor: records.Operator | None) -> str:
    return SYSTEM_ACTOR if actor is None else actor.username
