"""A second local account that plants links, and what the links are aimed at (a plugin).

The kiosk and kiosk-admin run as root. An account that may write somewhere on a path
root works in can put a symbolic link there, hoping root will write, chmod or chown
the link's target. These fixtures make that account for real (useradd, userdel
after), a file and a folder of root's for the links to point at (as /etc would be),
and record what a test must find unchanged in them.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

State = dict[str, tuple[int, int, int, bytes]]
"""relative path -> (uid, gid, mode, content) of every entry under a folder"""


def _local_user(prefix: str) -> Iterator[pwd.struct_passwd]:
    if os.geteuid() != 0:
        pytest.skip("the attack needs root writing where another account may write")
    if shutil.which("useradd") is None:
        pytest.skip("useradd is not installed")
    name = f"{prefix}{uuid.uuid4().hex[:8]}"
    subprocess.run(["useradd", "--no-create-home", name], check=True, capture_output=True)
    try:
        yield pwd.getpwnam(name)
    finally:
        subprocess.run(["userdel", name], check=True, capture_output=True)


@pytest.fixture
def mallory() -> Iterator[pwd.struct_passwd]:
    """A second local user, made for the test and removed after it: the one who plants."""
    yield from _local_user("kmal")


@pytest.fixture
def server_user() -> Iterator[pwd.struct_passwd]:
    """A third local user, standing for the database server's account."""
    yield from _local_user("kpgs")


@pytest.fixture
def root_file(tmp_path: Path) -> Path:
    """A file only root may read, that the planted links point at."""
    secret = tmp_path / "rootfile"
    secret.write_text("s\n")
    secret.chmod(0o600)
    return secret


@pytest.fixture
def root_folder(tmp_path: Path) -> Path:
    """A folder of root's as /etc is: 0755, holding a 0755 folder and 0644 files."""
    folder = tmp_path / "etc"
    (folder / "sub").mkdir(parents=True)
    for name, text in (("passwd", "root:x:0:0\n"), ("sub/hosts", "127.0.0.1 localhost\n")):
        (folder / name).write_text(text)
        (folder / name).chmod(0o644)
    folder.chmod(0o755)
    (folder / "sub").chmod(0o755)
    return folder


@pytest.fixture
def open_tmp() -> Iterator[Path]:
    """A temporary folder of root's in /tmp, for what walks every folder up to ``/``
    (making folders passable): pytest's own base folder is shared by the session's
    tests and must not be changed by one of them."""
    made = Path(tempfile.mkdtemp(prefix="kiosk-links-"))
    yield made
    shutil.rmtree(made)


def planted(user: pwd.struct_passwd, *entries: Path) -> None:
    """The entries belong to ``user``, as if that user had made them (links included)."""
    for entry in entries:
        os.lchown(entry, user.pw_uid, user.pw_gid)


def untouched(target: Path) -> tuple[int, int, int, str]:
    info = target.stat()
    return info.st_uid, info.st_gid, info.st_mode, target.read_text()


def state(folder: Path) -> State:
    """Every entry under ``folder`` (itself included), with its owner, mode and content:
    equal before and after only if nothing was made, removed, chmodded, chowned or
    written there."""
    found: State = {}
    for entry in (folder, *sorted(folder.rglob("*"))):
        info = entry.lstat()
        content = entry.read_bytes() if entry.is_file() and not entry.is_symlink() else b""
        found[str(entry.relative_to(folder))] = (info.st_uid, info.st_gid, info.st_mode, content)
    return found


def as_user(user: pwd.struct_passwd, *command: str) -> subprocess.CompletedProcess[str]:
    """``command`` as ``user``, with that user's group only (not ours)."""
    return subprocess.run(
        command,
        user=user.pw_uid,
        group=user.pw_gid,
        extra_groups=[],
        capture_output=True,
        text=True,
        check=False,
    )
