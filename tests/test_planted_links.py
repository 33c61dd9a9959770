"""Root never chmods, chowns or writes through a link planted on the way to the data
folder, in its place, or in the place of a folder it hands to the database server's
account (owned_files; issue 26, the planted-link findings).

Each case plants a real link, or a real folder, as a second local account would,
aimed at a folder of root's standing for /etc, and checks that root refused by name
and left the target exactly as it was."""

from __future__ import annotations

import os
import pwd
import stat
from pathlib import Path

import pytest
from PySide6.QtWidgets import QApplication

from admin import cli as admin_cli_main
from config import environment
from config.environment import secure_data_dir
from core.errors import UnsafeDataEntry
from kiosk import app as kiosk_app
from owned_files.folders import UnsafeEntry
from storage.embedded import EmbeddedServer
from storage.server_account import ServerAccount, give_to, grant_search
from tests.cli_fixtures import run
from tests.local_attacker import as_user, planted, state


def account_of(user: pwd.struct_passwd) -> ServerAccount:
    groups = frozenset(os.getgrouplist(user.pw_name, user.pw_gid))
    return ServerAccount(user.pw_uid, user.pw_gid, user.pw_name, groups)


def one_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    return lines[0]


# ---- 1. the data folder is a link ------------------------------------------------------------


@pytest.mark.slow  # runs kiosk or kiosk-admin as a process of its own
@pytest.mark.parametrize("given_by", ["--data-dir", "KIOSK_DATA_DIR"])
def test_a_data_folder_that_is_a_link_is_refused_and_its_target_left_alone(
    tmp_path: Path, mallory: pwd.struct_passwd, root_folder: Path, given_by: str
) -> None:
    before = state(root_folder)
    home = tmp_path / "mal"
    home.mkdir()
    link = home / "kiosk"
    link.symlink_to(root_folder)
    planted(mallory, home, link)

    if given_by == "--data-dir":
        result = run("--data-dir", link, "settings", "show", password=None, data_dir=tmp_path)
    else:
        result = run("settings", "show", password=None, data_dir=link)

    assert result.returncode != 0
    line = one_line(result.stderr)
    assert f"the data folder {link} is a symbolic link (to {root_folder})" in line
    assert "--data-dir" in line
    assert "KIOSK_DATA_DIR" in line
    assert state(root_folder) == before


def test_the_default_data_folder_replaced_by_a_link_is_refused_by_both_front_ends(
    root_folder: Path, capsys: pytest.CaptureFixture[str], qapp: QApplication
) -> None:
    """Root's default folder (a folder of the test's, tests/isolation.py) made a link to
    /etc: neither kiosk-admin nor the kiosk tightens /etc to owner-only. (With ``qapp``
    there is an application already: a kiosk that went on would fail to make its own,
    rather than run its window until the test times out.)"""
    if os.geteuid() != 0:
        pytest.skip("the default data folder is /var/lib/face-kiosk only for root")
    before = state(root_folder)
    default = environment.ROOT_DATA_DIR
    default.parent.mkdir(parents=True)
    default.symlink_to(root_folder)

    admin_exit = admin_cli_main.main(["settings", "show"], environ={})
    admin_error = one_line(capsys.readouterr().err)
    kiosk_exit = kiosk_app.main([])
    kiosk_error = one_line(capsys.readouterr().err)

    assert (admin_exit, kiosk_exit) == (admin_cli_main.EXIT_USAGE, kiosk_app.EXIT_USAGE)
    for line in (admin_error, kiosk_error):
        assert f"the data folder {default} is a symbolic link" in line
        assert "put a folder in the link's place" in line
    assert state(root_folder) == before


def test_a_link_above_the_data_folder_that_another_account_owns_is_not_passed(
    tmp_path: Path, mallory: pwd.struct_passwd, root_folder: Path
) -> None:
    """mal/kiosk -> /etc, with the data folder "sub" below it: the walk to the data
    folder stops at mallory's link."""
    before = state(root_folder)
    home = tmp_path / "mal"
    home.mkdir()
    (home / "kiosk").symlink_to(root_folder)
    planted(mallory, home, home / "kiosk")

    with pytest.raises(UnsafeDataEntry, match=r"kiosk is a symbolic link another account could"):
        secure_data_dir(home / "kiosk" / "sub")

    assert state(root_folder) == before


def test_a_link_root_made_above_the_data_folder_is_followed(tmp_path: Path) -> None:
    """The administrator's own link (a data disk mounted elsewhere) still works."""
    disk = tmp_path / "disk"
    (disk / "data" / "logs").mkdir(parents=True)
    (disk / "data" / "logs").chmod(0o755)
    (tmp_path / "srv").symlink_to(disk)

    secure_data_dir(tmp_path / "srv" / "data")

    assert stat.S_IMODE((disk / "data").stat().st_mode) == 0o700
    assert stat.S_IMODE((disk / "data" / "logs").stat().st_mode) == 0o700


# ---- 2. the folders above the data folder ----------------------------------------------------


def test_making_the_path_passable_stops_at_a_planted_link_and_leaves_its_target(
    open_tmp: Path, mallory: pwd.struct_passwd, server_user: pwd.struct_passwd, root_folder: Path
) -> None:
    """grant_search would give the server's account a way through a folder of root's
    closed to it (0700): through mallory's link it must not."""
    root_folder.chmod(0o700)
    before = state(root_folder)
    home = open_tmp / "mal"
    home.mkdir()
    (home / "x").symlink_to(root_folder)
    planted(mallory, home, home / "x")

    with pytest.raises(UnsafeEntry, match=r"x is a symbolic link another account could change"):
        grant_search(home / "x" / "sub", account_of(server_user))

    assert state(root_folder) == before


def test_making_the_path_passable_follows_roots_own_link_and_opens_the_real_folders(
    open_tmp: Path, server_user: pwd.struct_passwd
) -> None:
    disk = open_tmp / "disk"
    data = disk / "data"
    data.mkdir(parents=True, mode=0o700)
    disk.chmod(0o700)
    (data / "probe").write_text("passable\n")
    (data / "probe").chmod(0o644)
    (open_tmp / "srv").symlink_to(disk)
    through_link = open_tmp / "srv" / "data" / "probe"
    assert as_user(server_user, "cat", str(through_link)).returncode != 0

    grant_search(open_tmp / "srv" / "data", account_of(server_user))

    assert as_user(server_user, "cat", str(through_link)).stdout == "passable\n"
    listing = as_user(server_user, "ls", str(data))
    assert listing.returncode != 0, "search only, never read"


# ---- 3. folders handed to the database server's account --------------------------------------


def test_a_folder_handed_to_the_server_is_never_a_link(
    tmp_path: Path, mallory: pwd.struct_passwd, server_user: pwd.struct_passwd, root_folder: Path
) -> None:
    before = state(root_folder)
    data = tmp_path / "data"
    data.mkdir()
    (data / "postgres").symlink_to(root_folder)
    planted(mallory, data, data / "postgres")

    with pytest.raises(UnsafeEntry, match=r"postgres is a symbolic link"):
        give_to(data / "postgres", account_of(server_user))

    assert state(root_folder) == before


def test_a_folder_another_account_put_in_place_is_not_handed_to_the_server(
    tmp_path: Path, mallory: pwd.struct_passwd, server_user: pwd.struct_passwd
) -> None:
    folder = tmp_path / "kiosk-pg-socket"
    folder.mkdir(mode=0o700)
    planted(mallory, folder)

    with pytest.raises(UnsafeEntry, match="belongs to another account"):
        give_to(folder, account_of(server_user))

    assert folder.stat().st_uid == mallory.pw_uid


def test_an_empty_database_folder_of_another_account_is_not_taken_over(
    open_tmp: Path, mallory: pwd.struct_passwd
) -> None:
    """The data folder's owner made data/postgres: root neither gives it to the
    server's account nor makes a database in it."""
    data = open_tmp / "data"
    (data / "postgres").mkdir(parents=True)
    data.chmod(0o755)
    planted(mallory, data, data / "postgres")

    with EmbeddedServer(data / "postgres") as server, pytest.raises(UnsafeDataEntry) as refused:
        server.start()

    assert f"{data / 'postgres'} belongs to another account" in str(refused.value)
    assert (data / "postgres").stat().st_uid == mallory.pw_uid
    assert not any((data / "postgres").iterdir())
