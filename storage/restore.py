"""Restoring a backup: into a new data folder's embedded server, or an empty database.

A restore never goes over data: the data folder must be new or empty (it is
claimed by making its ``postgres`` folder, which a second restore then finds),
the database at a URL must hold no table. The archive is taken out of the backup
(opened with its key when sealed) into a file that has no name, then
``pg_restore`` runs in one transaction. A failed restore into a data folder
removes what it made there.

What it does to the hash chains (docs/operations.md): the restored chains end
where they ended when the backup was made. The anchor of the data folder the
backup came from, if it still exists, is further on and does not apply; the new
data folder gets an anchor of its own, made from the restored chains once every
link was recomputed and each head found to be the one the backup's manifest
recorded (``check_restored_chains``), before anything is appended. The restore is
then audited (``backup.restored``) and ``audit verify`` passes on the result.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from core import records
from core.accounts.permissions import Permission
from core.administration.chains import AnchorPoint, Chain, verify_access_chain, verify_chain
from core.errors import BackupFailed
from core.log_records import AnchoredChain, ChainHead
from core.settings import Settings
from core.store import DenialLog
from owned_files.folders import UnsafeEntry, make_folders, owned_folder
from storage import pg_programs
from storage.audit_log import access_entries, append_audit, audit_entries
from storage.backup import BACKUP_KIND, BackupManifest
from storage.backup_file import SealedHeader, copy_payload, open_for_reading, read_header
from storage.database import connect, ensure_database
from storage.embedded import DATABASE_NAME, EmbeddedServer
from storage.migrate import alembic_config
from storage.operator_authority import act_as
from storage.transactions import database_failures, transaction

RESTORED_ACTION = "backup.restored"
_PGDATA = "postgres"


@dataclass(frozen=True)
class Backup:
    """A backup file's header, read and checked before anything is restored."""

    path: Path
    header: SealedHeader
    manifest: BackupManifest


def read_backup(path: Path, key: bytes | None) -> Backup:
    """The backup at ``path``. Raises BackupFailed when it is not one, is sealed and no
    key is given, is not sealed and a key is given, or comes from a newer face-kiosk (a
    schema this one does not know)."""
    with open_for_reading(path) as file:
        header = read_header(file, BACKUP_KIND, str(path))
    manifest = BackupManifest.from_dict(header.manifest, str(path))
    if header.encrypted and key is None:
        raise BackupFailed(
            f"{path} is encrypted; give the key file it was made with: --key-file FILE", "key"
        )
    if not header.encrypted and key is not None:
        # Whoever gives a key believes the backup was sealed with it: going on would
        # hide that a clear copy of every template was kept where they thought none was.
        raise BackupFailed(f"{path} is not encrypted; leave out --key-file", "key")
    try:
        ScriptDirectory.from_config(alembic_config()).get_revision(manifest.schema_revision)
    except CommandError:
        raise BackupFailed(
            f"{path} was made by a newer face-kiosk (schema {manifest.schema_revision}); "
            "install that version or newer to restore it",
            "format",
        ) from None
    return Backup(path, header, manifest)


@contextlib.contextmanager
def restored_in_folder(
    backup: Backup, key: bytes | None, data_dir: Path, settings: Settings
) -> Iterator[EmbeddedServer]:
    """Restore ``backup`` into the embedded server of the new data folder ``data_dir``
    and yield that server, running. On any failure, inside the block too, the server
    is stopped and what the restore made in ``data_dir`` removed. Raises BackupFailed
    for a folder that is not new or empty, a wrong key, or a failed pg_restore."""
    claim = _claim(data_dir)
    server = EmbeddedServer(data_dir / _PGDATA, settings.embedded_server)
    try:
        with _archive(backup, key, data_dir) as archive:
            server.start()
            ensure_database(server.admin_url(), DATABASE_NAME)
            reach = pg_programs.embedded_reach(server, settings.embedded_server)
            pg_programs.restore(reach, archive, settings.backup.restore_timeout_s)
        yield server
    except BaseException:
        server.close()
        claim.discard()
        raise
    server.close()


def restore_to_url(
    backup: Backup, key: bytes | None, url: str, password: str | None, settings: Settings
) -> None:
    """Restore ``backup`` into the database at ``url``, which must hold no table (a
    second restore into it, or a kiosk that made its tables meanwhile, fails in
    pg_restore's one transaction and changes nothing). The archive is taken out into a
    nameless file of the temporary folder. Raises BackupFailed."""
    engine = connect(url, password)
    try:
        with database_failures(), engine.connect() as connection:
            tables = connection.scalar(
                text(
                    "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                    "WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN "
                    "('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'"
                )
            )
    finally:
        engine.dispose()
    reach = pg_programs.url_reach(url, password)
    if tables:
        raise BackupFailed(
            f"the database {reach.where} holds {tables} table(s); a restore goes into a new, "
            "empty database only: create one and name it with --database-url",
            "exists",
        )
    with _archive(backup, key, Path(tempfile.gettempdir())) as archive:
        pg_programs.restore(reach, archive, settings.backup.restore_timeout_s)


def check_restored_chains(engine: Engine, manifest: BackupManifest) -> dict[str, ChainHead]:
    """Recompute both restored chains, link by link, and check that each holds the head
    the backup's manifest recorded at its place; their heads now (migrations may have
    appended). Raises BackupFailed ("chain") naming the first problem."""
    with Session(engine) as session, session.begin():
        audit = verify_chain(audit_entries(session), _backed_up(manifest, Chain.AUDIT))
        access = verify_access_chain(access_entries(session), _backed_up(manifest, Chain.ACCESS))
    for report in (audit, access):
        if report.broken is not None:
            raise BackupFailed(
                f"the restored {report.chain} log is not the one backed up: {report.broken}; "
                "restore another backup",
                "chain",
            )
    return {Chain.AUDIT.value: audit.end, Chain.ACCESS.value: access.end}


def record_restore(
    engine: Engine, actor: records.Operator, manifest: BackupManifest, denials: DenialLog
) -> None:
    """Audit the restore (``backup.restored``) as ``actor``, who must be allowed BACKUP."""
    with transaction(sessionmaker(engine)) as session:
        act_as(session, actor, Permission.BACKUP, denials)
        append_audit(
            session,
            actor.username,
            RESTORED_ACTION,
            manifest.kiosk_id,
            {
                "made_at": manifest.made_at.isoformat(),
                "schema_revision": manifest.schema_revision,
                **{f"{chain}_events": head.count for chain, head in manifest.heads.items()},
            },
        )


@contextlib.contextmanager
def _archive(backup: Backup, key: bytes | None, folder: Path) -> Iterator[BinaryIO]:
    """The backup's pg_dump archive, clear, in a file of ``folder`` that has no name (it
    goes when closed, a crash included)."""
    with tempfile.TemporaryFile(dir=folder) as archive, open_for_reading(backup.path) as file:
        header = read_header(file, BACKUP_KIND, str(backup.path))
        try:
            copy_payload(file, header, key, archive, str(backup.path))
            archive.flush()
        except OSError as error:
            raise BackupFailed(
                f"cannot take the archive out of {backup.path}: {error.strerror}; free space "
                f"in {folder}",
                "disk",
            ) from error
        yield archive


class _Claim:
    """A data folder this restore uses: made by it, or found empty."""

    def __init__(self, data_dir: Path, made: bool) -> None:
        self._data_dir = data_dir
        self._made = made

    def discard(self) -> None:
        """Remove what the restore made (the server stopped first), never a link's target."""
        with contextlib.suppress(FileNotFoundError, UnsafeEntry):
            with owned_folder(self._data_dir) as folder:
                for name in os.listdir(folder):
                    info = os.stat(name, dir_fd=folder, follow_symlinks=False)
                    if stat.S_ISDIR(info.st_mode):
                        shutil.rmtree(name, dir_fd=folder)
                    else:
                        os.unlink(name, dir_fd=folder)
            if self._made:
                with owned_folder(self._data_dir.parent) as parent:
                    os.rmdir(self._data_dir.name, dir_fd=parent)


def _claim(data_dir: Path) -> _Claim:
    """Claim ``data_dir`` for a restore: new (made here, 0700) or empty."""
    refused = BackupFailed(
        f"{data_dir} holds files; a restore goes into a new or empty data folder only: name "
        "one with --data-dir (move kiosk.toml in afterwards)",
        "exists",
    )
    try:
        made = False
        if not os.path.lexists(data_dir):
            make_folders(data_dir.parent)
            with contextlib.suppress(FileExistsError), owned_folder(data_dir.parent) as parent:
                os.mkdir(data_dir.name, 0o700, dir_fd=parent)
                made = True
        with owned_folder(data_dir) as folder:
            if os.listdir(folder):
                raise refused
            # The claim: a second restore into this folder finds it taken.
            os.mkdir(_PGDATA, 0o700, dir_fd=folder)
    except FileExistsError:
        raise refused from None
    except (UnsafeEntry, OSError) as error:
        raise BackupFailed(f"cannot use {data_dir} for the restore: {error}", "folder") from error
    return _Claim(data_dir, made)


def _backed_up(manifest: BackupManifest, chain: Chain) -> AnchorPoint | None:
    """The head the backup recorded, as a point the restored chain must pass through;
    events after it are allowed (the migrations of a newer version may append)."""
    head = manifest.heads.get(chain.value)
    return AnchorPoint(AnchoredChain(head)) if head is not None else None
