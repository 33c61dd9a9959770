"""Owner-only folders and files: what the kiosk keeps names people."""

from __future__ import annotations

import logging
import os
import stat

from owned_files.tree import narrow_tree

_log = logging.getLogger(__name__)

FOLDER_MODE = 0o700
FILE_MODE = 0o600
# PostgreSQL keeps its data folder owner-only itself, and refuses to start otherwise.
_POSTGRES_MARKER = "PG_VERSION"


def owner_only(folder: int) -> None:
    """Tighten the folder ``folder`` (a descriptor) and everything under it that this
    account owns: folders to 0700, files to 0600 (only ever narrower). Links are not
    followed (owned_files.tree); what another account owns is left alone, and so is a
    PostgreSQL data folder's content. Each entry it had to narrow is logged as a
    warning: what it held (a secret file, say) may already have been read."""
    narrowed = narrow_tree(folder, folder_mode=FOLDER_MODE, file_mode=FILE_MODE, skip=is_postgres)
    for path, mode in narrowed:
        _log.warning(
            "%s in the data folder had mode %04o and was made owner-only; whatever it "
            "holds may have been read by other accounts: if it is a secret, replace it",
            path,
            mode,
        )


def is_postgres(parent: int, name: str) -> bool:
    """Whether the folder ``name`` in ``parent`` (a descriptor) holds a PostgreSQL
    database. Only a look: the walk that acts on the answer never follows a link."""
    try:
        os.stat(f"{name}/{_POSTGRES_MARKER}", dir_fd=parent, follow_symlinks=False)
    except OSError:
        return False
    return True


def widen_to_group_search(folder: int) -> None:
    """The folder ``folder`` (a descriptor) 0710."""
    os.fchmod(folder, FOLDER_MODE | stat.S_IXGRP)
