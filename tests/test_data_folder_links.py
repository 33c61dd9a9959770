"""Root at work in a data folder another local user owns never writes, chmods or chowns
through a link that user planted: the entry is refused, by name, and its target is left
as it was (core.owned_files)."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.errors import UnsafeDataEntry
from core.owned_files import open_file
from core.settings import TelemetrySettings
from storage.server_access import write_private
from telemetry.json_log import LOG_FILE, log_to_files
from tests.cli_fixtures import run


@pytest.fixture
def mallory() -> Iterator[pwd.struct_passwd]:
    """A second local user, made for the test and removed after it."""
    if os.geteuid() != 0:
        pytest.skip("the attack needs root writing into another user's folder")
    if shutil.which("useradd") is None:
        pytest.skip("useradd is not installed")
    name = f"kmal{uuid.uuid4().hex[:8]}"
    subprocess.run(["useradd", "--no-create-home", name], check=True, capture_output=True)
    try:
        yield pwd.getpwnam(name)
    finally:
        subprocess.run(["userdel", name], check=True, capture_output=True)


@pytest.fixture
def root_file(tmp_path: Path) -> Path:
    """A file only root may read, that the planted links point at."""
    secret = tmp_path / "rootfile"
    secret.write_text("s\n")
    secret.chmod(0o600)
    return secret


def planted(user: pwd.struct_passwd, *entries: Path) -> None:
    """The entries belong to ``user``, as if that user had made them (links included)."""
    for entry in entries:
        os.lchown(entry, user.pw_uid, user.pw_gid)


def untouched(target: Path) -> tuple[int, int, int, str]:
    info = target.stat()
    return info.st_uid, info.st_gid, info.st_mode, target.read_text()


def test_a_lock_file_linked_to_a_root_file_is_refused_and_the_file_stays_roots(
    tmp_path: Path, mallory: pwd.struct_passwd, root_file: Path
) -> None:
    before = untouched(root_file)
    home = tmp_path / "mal"
    data = home / "kiosk"
    access = data / "postgres-access"
    access.mkdir(parents=True)
    (access / "lock").symlink_to(root_file)
    planted(mallory, home, data, access, access / "lock")

    result = run("operators", "list", "--operator", "alice", data_dir=data)

    assert untouched(root_file) == before
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert f"{access / 'lock'} is a symbolic link" in lines[0]
    assert "remove it" in lines[0]


def test_write_private_replaces_a_planted_link_and_gives_the_file_to_the_folders_owner(
    tmp_path: Path, mallory: pwd.struct_passwd, root_file: Path
) -> None:
    before = untouched(root_file)
    folder = tmp_path / "access"
    folder.mkdir(mode=0o700)
    (folder / "handles.json").symlink_to(root_file)
    planted(mallory, folder, folder / "handles.json")

    write_private(folder / "handles.json", "[]")

    assert untouched(root_file) == before
    written = (folder / "handles.json").lstat()
    assert (written.st_uid, written.st_mode & 0o777) == (mallory.pw_uid, 0o600)
    assert not (folder / "handles.json").is_symlink()


def test_a_log_file_linked_elsewhere_is_refused_and_its_target_gets_no_line(
    tmp_path: Path, mallory: pwd.struct_passwd, root_file: Path
) -> None:
    before = untouched(root_file)
    data = tmp_path / "kiosk"
    logs = data / "logs"
    logs.mkdir(parents=True)
    (logs / LOG_FILE).symlink_to(root_file)
    planted(mallory, data, logs, logs / LOG_FILE)

    with pytest.raises(UnsafeDataEntry, match=r"is a symbolic link; .*remove it"):
        log_to_files(data, TelemetrySettings())

    assert untouched(root_file) == before


def test_a_hard_link_to_a_root_file_is_refused_not_given_away(
    tmp_path: Path, mallory: pwd.struct_passwd, root_file: Path
) -> None:
    before = untouched(root_file)
    folder = tmp_path / "mal"
    folder.mkdir()
    os.link(root_file, folder / "lock")
    planted(mallory, folder)

    with pytest.raises(UnsafeDataEntry, match="not a plain file of its own"):
        open_file(folder / "lock", os.O_RDWR | os.O_CREAT)

    assert untouched(root_file) == before


def test_a_file_another_account_owns_is_refused(tmp_path: Path, mallory: pwd.struct_passwd) -> None:
    """A file that is neither ours nor the folder owner's is not written to."""
    (tmp_path / "lock").write_text("")
    planted(mallory, tmp_path / "lock")  # tmp_path is root's: mallory is a stranger here

    with pytest.raises(UnsafeDataEntry, match="belongs to another account"):
        open_file(tmp_path / "lock", os.O_RDWR | os.O_CREAT)
