"""The folder a bulk import reads photos from, and nothing outside it.

A people file names photos relative to this folder. Whoever wrote the file (an HR
export, a spreadsheet passed around) does not choose which files root reads: an
absolute path, a ``..`` or a symbolic link leading out of the folder is refused,
so a row cannot point the import at /etc/shadow or another site's photos. The
photo is then read from the path with every link resolved, the one checked.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from core.errors import InvalidValue, cut


class PhotoFolder:
    """Resolves photo names in one folder; raises InvalidValue for any other place."""

    def __init__(self, folder: Path) -> None:
        """Raises InvalidValue when ``folder`` is not a folder."""
        try:
            self._root = folder.expanduser().resolve(strict=True)
        except (OSError, RuntimeError) as error:
            raise InvalidValue(
                f"photo folder {folder} cannot be opened: {getattr(error, 'strerror', error)}; "
                "give the folder that holds the photos the people file names"
            ) from error
        if not self._root.is_dir():
            raise InvalidValue(f"--photos {folder} is not a folder; give the photo folder")

    @property
    def root(self) -> Path:
        return self._root

    def path(self, name: str) -> Path:
        """The photo ``name`` ("ann.jpg", "2024/ann.jpg") with every link resolved.

        Raises InvalidValue for an absolute path, a ``..``, a NUL or a link that leads
        out of the folder. A missing file is left for the reading to report."""
        shown = cut(repr(name))
        if "\x00" in name:
            raise InvalidValue(f"photo {shown} holds a NUL character; give a file name")
        relative = PurePosixPath(name)
        if relative.is_absolute() or name.startswith("~"):
            raise InvalidValue(
                f"photo {shown} is not a name in the photo folder; give it relative to "
                f"the folder ({self._root}), not as an absolute path"
            )
        if ".." in relative.parts:
            raise InvalidValue(
                f'photo {shown} climbs out of the photo folder with ".."; give a name in it'
            )
        try:
            resolved = (self._root / relative).resolve()
        except (OSError, RuntimeError) as error:  # a loop of links
            raise InvalidValue(f"photo {shown} cannot be resolved: {error}") from error
        if not resolved.is_relative_to(self._root):
            raise InvalidValue(
                f"photo {shown} is a link that leads out of the photo folder, to "
                f"{cut(str(resolved))}; copy the photo into the folder instead"
            )
        return resolved
