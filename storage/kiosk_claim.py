"""One running kiosk per kiosk id on a database.

Door commands (storage.door_commands) go to the kiosk whose id they name; two kiosk
processes under one id would each take some of them. So a kiosk holds a PostgreSQL
session-level advisory lock on its id, on a connection of its own, for as long as it
runs. The server lets the lock go when that session ends, however the process ended
(kill -9, a power cut), so a kiosk restarted after a crash takes its id again with no
cleanup, while a second kiosk that finds the id held refuses to start. Two kiosks
starting at the same moment are decided by the server's lock: exactly one gets it.

A heartbeat row was not chosen: telling a dead kiosk from a slow one needs a timeout
there, and two kiosks starting together can both read a stale row. The session is the
proof of life instead. On a TCP connection the server is told to probe its client, so
a kiosk whose machine died lets go of its id within about 11 s, not the server's
default two hours; a starting kiosk waits up to ``database.kiosk_claim_wait_s`` for
that. Taking a door command checks, in the same transaction, that this kiosk's session
still holds the id (``confirm``); a session lost to a server restart is taken again,
or the commands are left to the kiosk that took the id meanwhile.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from typing import Any, cast

import psycopg
from psycopg import errors as pg_errors
from sqlalchemy import Engine, PoolProxiedConnection, select, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from core.errors import KioskIdInUse, StoreError, quoted
from storage import schema
from storage.transactions import database_failures

log = logging.getLogger(__name__)

_KEY_CONTEXT = b"face-kiosk kiosk id\n"
# The server's probes of a TCP client that went silent: first after 5 s idle, then
# every 2 s, given up after 3 (ignored on a Unix socket, where a dead process is
# seen at once). Fixed: they decide how soon a dead kiosk's id is free.
_CLIENT_PROBES = {"tcp_keepalives_idle": 5, "tcp_keepalives_interval": 2, "tcp_keepalives_count": 3}
_HELD_BY = text(
    """
    SELECT EXISTS (
        SELECT 1 FROM pg_locks
        WHERE locktype = 'advisory' AND granted AND pid = :pid
          AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
          AND classid = CAST(:high AS oid) AND objid = CAST(:low AS oid) AND objsubid = 1
    )
    """
)


def claim_key(kiosk_id: str) -> int:
    """The advisory lock key of ``kiosk_id``: 64 bits of a hash, so that two ids
    sharing a key is not to be expected (and no fixed lock key of ours is one)."""
    digest = hashlib.sha256(_KEY_CONTEXT + kiosk_id.encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class KioskClaim:
    """This process's hold on its kiosk id; ``close()`` lets it go.

    Exists so that two running kiosks never act under one id. Owns one connection,
    outside the pool, for the process's life; a lock keeps the threads that take it
    again (``confirm``) and close it apart."""

    def __init__(self, engine: Engine, kiosk_id: str, wait_s: float) -> None:
        """``wait_s``: database.kiosk_claim_wait_s."""
        self.kiosk_id = kiosk_id
        self._engine = engine
        self._key = claim_key(kiosk_id)
        self._wait_s = wait_s
        self._lock = threading.Lock()
        self._connection: PoolProxiedConnection | None = None
        self._pid: int | None = None

    def take(self) -> None:
        """Hold the id, waiting up to ``wait_s`` for a kiosk process that died to let
        it go. Raises KioskIdInUse naming the id and the fix, or StoreError."""
        with self._lock:
            self._take(self._wait_s)

    def confirm(self, session: Session) -> None:
        """In ``session``'s transaction: that this process's session still holds the
        id; if it was lost (the server restarted), take it again at once. Raises
        KioskIdInUse if another kiosk holds it now, StoreError."""
        with self._lock:
            if self._pid is not None:
                if self._held(session, self._pid):
                    return
                log.warning(
                    "kiosk id %s was let go (its database session ended); taking it again",
                    self.kiosk_id,
                )
            self._take(0.0)
            assert self._pid is not None
            if not self._held(session, self._pid):
                raise StoreError(f"kiosk id {self.kiosk_id} could not be held again; try again")

    def close(self) -> None:
        """Let the id go: another kiosk may take it."""
        with self._lock:
            self._drop()

    def __enter__(self) -> KioskClaim:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # ---- under _lock ---------------------------------------------------------------------

    def _take(self, wait_s: float) -> None:
        self._drop()
        with database_failures():
            connection = self._engine.raw_connection()
            driver = _driver(connection)
            connection.detach()  # its own for the kiosk's life, never back in the pool
            self._connection = connection
            try:
                driver.autocommit = True
                for name, value in _CLIENT_PROBES.items():
                    driver.execute(f"SET {name} = {int(value)}")
                pid = driver.execute("SELECT pg_backend_pid()").fetchone()
                if not _locked(driver, self._key, wait_s):
                    self._drop()
                    raise KioskIdInUse(self._in_use())
            except psycopg.Error:
                self._drop()
                raise
        self._pid = int(pid[0]) if pid else None
        log.info("kiosk id %s held by this kiosk", self.kiosk_id)

    def _held(self, session: Session, pid: int) -> bool:
        high, low = (self._key >> 32) & 0xFFFFFFFF, self._key & 0xFFFFFFFF
        return bool(session.scalar(_HELD_BY, {"pid": pid, "high": high, "low": low}))

    def _drop(self) -> None:
        connection, self._connection, self._pid = self._connection, None, None
        if connection is not None:
            connection.close()  # detached: closes the session, and the lock with it

    def _in_use(self) -> str:
        holder = ""
        try:
            with sessionmaker(self._engine)() as session:
                row = session.scalar(select(schema.Kiosk).where(schema.Kiosk.id == self.kiosk_id))
                if row is not None:
                    started = f"{row.last_started_at:%Y-%m-%d %H:%M %Z}".strip()
                    holder = f" ({quoted(row.name)}, started {started})"
        except SQLAlchemyError as error:  # only the message's detail is lost
            log.warning("the kiosk holding id %s could not be read: %s", self.kiosk_id, error)
        return (
            f"kiosk id {self.kiosk_id} is in use by another running kiosk on this "
            f"database{holder}; give this kiosk an id of its own: kiosk.id in kiosk.toml "
            "or KIOSK_ID"
        )


def claim_kiosk_id(engine: Engine, kiosk_id: str, wait_s: float) -> KioskClaim:
    """The id held for this process (KioskClaim.take); close it when the kiosk stops."""
    claim = KioskClaim(engine, kiosk_id, wait_s)
    claim.take()
    return claim


def _locked(driver: psycopg.Connection[Any], key: int, wait_s: float) -> bool:
    """Take the session lock ``key``, waiting ``wait_s`` for it (the server wakes the
    wait the moment the holder's session ends); whether it was taken."""
    if wait_s <= 0:
        row = driver.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone()
        return bool(row and row[0])
    driver.execute(f"SET lock_timeout = {max(1, round(wait_s * 1000))}")
    try:
        driver.execute("SELECT pg_advisory_lock(%s)", (key,))
        taken = True
    except pg_errors.LockNotAvailable:
        taken = False
    driver.execute("RESET lock_timeout")
    return taken


def _driver(connection: PoolProxiedConnection) -> psycopg.Connection[Any]:
    return cast("psycopg.Connection[Any]", connection.driver_connection)
