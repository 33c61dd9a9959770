"""Which links the walk to a folder passes (owned_files.folders): only those nobody but
root (or this account) could have made or could change, never the folder asked for."""

from __future__ import annotations

import os
import pwd
import stat
from pathlib import Path

import pytest

from owned_files.folders import UnsafeEntry, make_folders, owned_folder
from tests.local_attacker import planted


def reached(path: Path) -> tuple[int, int]:
    """(device, inode) of the folder the walk to ``path`` ends on."""
    with owned_folder(path) as descriptor:
        info = os.fstat(descriptor)
    return info.st_dev, info.st_ino


def identity(path: Path) -> tuple[int, int]:
    info = path.stat()
    return info.st_dev, info.st_ino


@pytest.fixture
def target(tmp_path: Path) -> Path:
    folder = tmp_path / "target" / "inside"
    folder.mkdir(parents=True)
    return folder.parent


def test_roots_link_in_a_folder_only_root_writes_is_passed(tmp_path: Path, target: Path) -> None:
    (tmp_path / "absolute").symlink_to(target)
    (tmp_path / "relative").symlink_to("target/../target")
    assert reached(tmp_path / "absolute" / "inside") == identity(target / "inside")
    assert reached(tmp_path / "relative" / "inside") == identity(target / "inside")


def test_a_link_in_a_folder_others_may_write_is_not_passed(tmp_path: Path, target: Path) -> None:
    """Whoever may write the folder may replace the link, even one root made."""
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    (shared / "x").symlink_to(target)
    with pytest.raises(UnsafeEntry, match="x is a symbolic link another account could change"):
        reached(shared / "x" / "inside")


def test_in_a_sticky_folder_only_a_link_of_roots_is_passed(
    tmp_path: Path, target: Path, mallory: pwd.struct_passwd
) -> None:
    """As in /tmp: others may add names there but not rename or remove root's."""
    public = tmp_path / "public"
    public.mkdir()
    public.chmod(0o1777)
    (public / "roots").symlink_to(target)
    (public / "theirs").symlink_to(target)
    planted(mallory, public / "theirs")
    assert reached(public / "roots" / "inside") == identity(target / "inside")
    with pytest.raises(UnsafeEntry, match="theirs is a symbolic link another account"):
        reached(public / "theirs" / "inside")


def test_the_folder_asked_for_is_never_a_link_even_roots(tmp_path: Path, target: Path) -> None:
    (tmp_path / "link").symlink_to(target)
    with pytest.raises(UnsafeEntry, match=r"link is a symbolic link; .*remove it"):
        reached(tmp_path / "link")


def test_a_file_on_the_way_is_named(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    with pytest.raises(UnsafeEntry, match=rf"{tmp_path / 'file'} is not a folder"):
        reached(tmp_path / "file" / "below")


def test_links_that_loop_end_the_walk(tmp_path: Path) -> None:
    (tmp_path / "a").symlink_to("b")
    (tmp_path / "b").symlink_to("a")
    with pytest.raises(UnsafeEntry, match="more than 40 symbolic links"):
        reached(tmp_path / "a" / "c")


def test_missing_folders_are_made_the_last_with_its_mode(tmp_path: Path) -> None:
    make_folders(tmp_path / "one" / "two", 0o700)
    assert stat.S_IMODE((tmp_path / "one" / "two").stat().st_mode) == 0o700
    assert (tmp_path / "one").is_dir()
    with pytest.raises(FileNotFoundError):
        reached(tmp_path / "three")
