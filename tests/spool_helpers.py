"""Shared by the spool tests: events, a small disk of our own, an address that never answers."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, select
from sqlalchemy.orm import Session

from core.errors import SpoolFull
from core.records import AccessDecision, AccessOutcome
from storage import schema


def access(kiosk_id: str = "door-1", latency_ms: float = 40.0) -> AccessDecision:
    return AccessDecision(
        kiosk_id=kiosk_id,
        outcome=AccessOutcome.UNKNOWN,
        similarity=0.2,
        latency_ms=latency_ms,
        reason="not recognized",
    )


def stored_event_ids(engine: Engine) -> list[uuid.UUID]:
    with Session(engine) as session:
        query = select(schema.AccessEvent.event_id).order_by(schema.AccessEvent.id)
        return list(session.scalars(query))


def audit_notes(engine: Engine) -> list[tuple[str, str | None, dict[str, object]]]:
    """(action, target, details) of every audit event, oldest first."""
    with Session(engine) as session:
        rows = session.execute(
            select(
                schema.AuditEvent.action, schema.AuditEvent.target, schema.AuditEvent.details
            ).order_by(schema.AuditEvent.id)
        )
        return [(action, target, details) for action, target, details in rows]


@contextlib.contextmanager
def small_disk(folder: Path, size: str = "64k") -> Iterator[Path]:
    """A tmpfs of ``size`` mounted on ``folder`` (a folder of the test), unmounted after;
    skips the test where mounting is not permitted."""
    folder.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(folder)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here ({mounted.stderr.strip()})")
    try:
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=True)


def fill(disk: Path) -> Path:
    """Write a file on ``disk`` until it is full; returns it (delete it to free the disk)."""
    filler = disk / "filler"
    with filler.open("wb", buffering=0) as stream, contextlib.suppress(OSError):
        while stream.write(b"\0" * 512):
            pass
    return filler


@contextlib.contextmanager
def unanswering_address() -> Iterator[tuple[str, int]]:
    """A TCP port on 127.0.0.1 that never answers: a listener whose backlog is full
    and who never accepts, so the kernel drops every new SYN (as a firewall that drops
    packets would), and a connection attempt waits for its timeout."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    address = listener.getsockname()
    queued = []
    try:
        for _ in range(3):  # more than the backlog holds
            client = socket.socket()
            client.setblocking(False)
            with contextlib.suppress(BlockingIOError):
                client.connect(address)
            queued.append(client)
        yield address
    finally:
        for client in queued:
            client.close()
        listener.close()


def engine_for(host: str, port: int, connect_timeout_s: int) -> Engine:
    """An engine for a server at host:port that may not answer, failing after
    ``connect_timeout_s`` (libpq's least is 2 s)."""
    return create_engine(
        f"postgresql+psycopg://kiosk@{host}:{port}/kiosk",
        connect_args={"connect_timeout": connect_timeout_s},
        pool_pre_ping=True,
    )


def until_the_disk_refuses(keep: Callable[[], object]) -> tuple[int, SpoolFull]:
    """Call ``keep`` until it raises SpoolFull: (how many times it succeeded, the error)."""
    kept = 0
    while True:
        try:
            keep()
        except SpoolFull as error:
            return kept, error
        kept += 1
