"""Which process, if any, is the running server of a data folder; stopping only that one.

``postmaster.pid`` is a claim, not a proof: after a crash it names a process ID
that may since belong to anything. A process counts as the folder's postmaster
only when everything agrees: it is a ``postgres`` program, run by the folder's
owner, working in the folder (the postmaster changes into its data folder), and
started when the file says the server started. Anything else is stale, and a
stale file is set aside, never acted on.
"""

from __future__ import annotations

import logging
import os
import signal
import stat
from dataclasses import dataclass
from pathlib import Path

import psutil

from core.errors import StoreError
from owned_files.folders import owned_folder

log = logging.getLogger(__name__)

PID_FILE = "postmaster.pid"
# The file gives whole seconds and the kernel's start time is rounded to the boot
# second; a few seconds apart is the same start, a reused PID is far later.
_START_TIME_TOLERANCE_S = 3.0
_PROGRAM = "postgres"


@dataclass(frozen=True)
class PostmasterRecord:
    """What ``postmaster.pid`` claims (its first lines, as PostgreSQL writes them)."""

    pid: int
    data_dir: Path
    started_at: int
    """Seconds since the epoch."""
    socket_dir: Path | None
    status: str
    """"starting", "ready", "stopping" or "" while the server writes the file."""


@dataclass(frozen=True)
class Postmaster:
    """A postmaster verified to be the data folder's own."""

    record: PostmasterRecord
    process: psutil.Process


def read_record(pgdata: Path) -> PostmasterRecord | None:
    """The claim in ``pgdata/postmaster.pid``; None if there is none or it is garbage."""
    try:
        lines = (pgdata / PID_FILE).read_text("utf-8", errors="replace").splitlines()
    except FileNotFoundError:
        return None
    except OSError as error:
        raise StoreError(f"cannot read {pgdata / PID_FILE}: {error.strerror}") from error
    try:
        pid = int(lines[0])
        started_at = int(lines[2])
        data_dir = Path(lines[1].strip())
    except (IndexError, ValueError):
        return None
    if pid <= 1 or not data_dir.is_absolute():
        return None
    socket_dir = lines[4].strip() if len(lines) > 4 else ""
    status = lines[7].strip() if len(lines) > 7 else ""
    return PostmasterRecord(
        pid, data_dir, started_at, Path(socket_dir) if socket_dir else None, status
    )


def find_postmaster(pgdata: Path, owner_uid: int) -> Postmaster | None:
    """The running postmaster of ``pgdata`` (an absolute, resolved path), verified;
    None when there is none or the pid file's claim does not hold."""
    record = read_record(pgdata)
    if record is None or record.data_dir != pgdata:
        return None
    try:
        process = psutil.Process(record.pid)
        with process.oneshot():
            verified = (
                process.name() == _PROGRAM
                and process.uids().real == owner_uid
                and process.status() != psutil.STATUS_ZOMBIE
                and abs(process.create_time() - record.started_at) <= _START_TIME_TOLERANCE_S
                and Path(process.cwd()) == pgdata
            )
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return None
    return Postmaster(record, process) if verified else None


def set_aside_stale_files(pgdata: Path, socket_dir: Path) -> None:
    """Remove what a dead server left: its pid file, and the socket and socket lock
    file in the folder about to be used. Call only while holding the data folder's
    lock and after ``find_postmaster`` found no server; PostgreSQL would otherwise
    refuse to start while the stale files name a live process that is not its own.
    Both folders are reached without following a link (owned_files): a folder swapped
    for one never makes root remove a file elsewhere."""
    record = read_record(pgdata)
    with owned_folder(pgdata) as data:
        try:
            os.unlink(PID_FILE, dir_fd=data)
        except FileNotFoundError:
            pass
        else:
            claimed = f"PID {record.pid}" if record else "no readable PID"
            log.warning(
                "set aside %s (%s): no server of this folder runs", pgdata / PID_FILE, claimed
            )
    with owned_folder(socket_dir) as sockets, os.scandir(sockets) as entries:
        leftovers = [entry for entry in entries if entry.name.startswith(".s.PGSQL.")]
        for entry in leftovers:
            kind = entry.stat(follow_symlinks=False).st_mode
            if stat.S_ISSOCK(kind) or stat.S_ISREG(kind):
                os.unlink(entry.name, dir_fd=sockets)


def stop_postmaster(postmaster: Postmaster, timeout_s: float) -> None:
    """Ask the verified postmaster for a fast shutdown, then an immediate one.

    psutil checks before each signal that the process is still the one verified (its
    start time), so a PID reused in between is never signalled. Raises StoreError if
    the server outlives both requests."""
    process = postmaster.process
    for request, name in ((signal.SIGINT, "fast"), (signal.SIGQUIT, "immediate")):
        try:
            process.send_signal(request)
            process.wait(timeout_s)
            return
        except psutil.NoSuchProcess:
            return
        except psutil.TimeoutExpired:
            log.warning(
                "the database server did not finish a %s shutdown in %.0f s", name, timeout_s
            )
    raise StoreError(
        f"the database server (PID {process.pid}) did not stop; see "
        f"{postmaster.record.data_dir / 'log'}"
    )


def is_alive(pid: int, started: float) -> bool:
    """Whether ``pid`` is still the process that started at ``started`` (epoch s)."""
    try:
        return abs(psutil.Process(pid).create_time() - started) < 0.01
    except psutil.NoSuchProcess:
        return False
    except psutil.AccessDenied:  # cannot tell: keep the server running for it
        return True


def own_start_time() -> float:
    return psutil.Process(os.getpid()).create_time()
