"""The connections the 1:N search runs on: kept apart, and set up for searching.

The door searches on every camera frame. Through a Session on the shared pool,
a search paid for a liveness ping at checkout, then BEGIN, a statement for its
settings and COMMIT around the one query that matters, and for SQLAlchemy's
handling of each: 1.9 ms of a 4.6 ms search at 2,000 templates (PERFORMANCE.md).
These connections get the search's settings once, when they open, and run in
autocommit, so a search is one prepared statement and one round trip on the
driver's connection. Nothing else runs on them, so their settings reach no
other query.
"""

from __future__ import annotations

import functools
import threading
import weakref
from collections.abc import Callable, Mapping
from typing import Any, cast

import psycopg
from sqlalchemy import (
    Connection,
    Dialect,
    Engine,
    PoolProxiedConnection,
    TextClause,
    create_engine,
    event,
)

from storage.database import CONNECTION_ARGS, POOL_TIMEOUT_S, register_vector_types

SEARCH_TIMEOUT_MS = 2000
# The door searches one frame at a time; a second connection covers an overlap.
SEARCH_POOL_SIZE = 1
SEARCH_POOL_OVERFLOW = 1

_SETTINGS = (
    # A search that waits longer is answered "busy" (storage.transactions).
    f"SET statement_timeout = {SEARCH_TIMEOUT_MS}",
    # The model filter may drop index candidates; keep scanning until enough remain.
    "SET hnsw.iterative_scan = relaxed_order",
    # Below some ten thousand rows the planner prices a full scan lower than the
    # index; searching through HNSW always keeps latency flat as the gallery grows.
    "SET enable_seqscan = off",
)
_EF_SEARCH = "hnsw.ef_search"

_pools: weakref.WeakKeyDictionary[Engine, Engine] = weakref.WeakKeyDictionary()
_pools_lock = threading.Lock()


def search_engine(engine: Engine) -> Engine:
    """The search connections to ``engine``'s database: opened on first use,
    disposed with ``engine``."""
    with _pools_lock:
        pool = _pools.get(engine)
        if pool is None:
            pool = _pools[engine] = _open(engine)
            event.listen(engine, "engine_disposed", _disposer(pool))
        return pool


def run_search(
    pool: Engine, statement: TextClause, parameters: Mapping[str, Any], ef_search: int | None
) -> list[tuple[Any, ...]]:
    """``statement``'s rows, explored with ``ef_search`` (None: a read on the door's
    path that uses no vector index, such as its access rules, run as it is).

    With no liveness ping, the first search after the server restarted finds its
    connection cut off; the pool then starts over, and the search runs once more."""
    try:
        return _search_once(pool, statement, parameters, ef_search)
    except _ConnectionLost:
        pool.dispose()  # a restart cut every connection, not just this one
    return _search_once(pool, statement, parameters, ef_search)


def use_ef_search(connection: Connection, ef_search: int) -> None:
    """Set ``hnsw.ef_search`` on a search connection, unless it already has it."""
    _use_ef_search(connection.connection, ef_search)


class _ConnectionLost(psycopg.OperationalError):
    pass


def _search_once(
    pool: Engine, statement: TextClause, parameters: Mapping[str, Any], ef_search: int | None
) -> list[tuple[Any, ...]]:
    # The driver's own connection: SQLAlchemy's statement handling cost 0.5 ms a search.
    connection = pool.raw_connection()
    driver = _driver(connection)
    try:
        if ef_search is not None:
            _use_ef_search(connection, ef_search)
        sql = _driver_sql(statement, pool.dialect)
        return driver.execute(sql, parameters, prepare=True).fetchall()
    except psycopg.OperationalError as error:
        if driver.broken:
            connection.invalidate(error)
            raise _ConnectionLost(str(error)) from error
        raise
    finally:
        connection.close()


def _use_ef_search(connection: PoolProxiedConnection, ef_search: int) -> None:
    if connection.info.get(_EF_SEARCH) != ef_search:
        _driver(connection).execute(f"SET {_EF_SEARCH} = {int(ef_search)}")
        connection.info[_EF_SEARCH] = ef_search


def _driver(connection: PoolProxiedConnection) -> psycopg.Connection[Any]:
    return cast("psycopg.Connection[Any]", connection.driver_connection)


@functools.lru_cache(maxsize=8)
def _driver_sql(statement: TextClause, dialect: Dialect) -> str:
    return str(statement.compile(dialect=dialect))


def _open(engine: Engine) -> Engine:
    pool = create_engine(
        engine.url,
        pool_size=SEARCH_POOL_SIZE,
        max_overflow=SEARCH_POOL_OVERFLOW,
        pool_timeout=POOL_TIMEOUT_S,
        isolation_level="AUTOCOMMIT",
        connect_args={**CONNECTION_ARGS, "application_name": "face-kiosk search"},
    )
    event.listen(pool, "connect", register_vector_types)
    event.listen(pool, "connect", _set_up_for_search)
    return pool


def _set_up_for_search(connection: Any, _record: Any) -> None:
    with connection.cursor() as cursor:
        for setting in _SETTINGS:
            cursor.execute(setting)
    # Settings made inside a transaction would end with it.
    connection.commit()


def _disposer(pool: Engine) -> Callable[[Engine], None]:
    def dispose(_engine: Engine) -> None:
        pool.dispose()

    return dispose
