"""One transaction per store call, with database failures turned into StoreError."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

import psycopg
from psycopg.errors import QueryCanceled
from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import Session, sessionmaker

from core.errors import StoreBusy, StoreError

_AFTER_ROLLBACK = "work_after_rollback"
# The transaction of an enclosing ``one_transaction`` block, if any (per thread/task).
_ENCLOSING: ContextVar[Session | None] = ContextVar("enclosing_transaction", default=None)


@contextmanager
def transaction(sessions: sessionmaker[Session]) -> Iterator[Session]:
    """A Session in a transaction, committed if the block ends normally.

    If it ends with an exception, the transaction rolls back, its connection goes
    back to the pool, and only then does the work registered with
    ``after_rollback`` run, before the exception propagates.

    Inside ``one_transaction`` on the same engine, the block runs in that transaction
    instead: it commits or rolls back with it, never on its own."""
    enclosing = _ENCLOSING.get()
    if enclosing is not None and enclosing.bind is sessions.kw.get("bind"):
        yield enclosing
        return
    session = sessions()
    try:
        with database_failures(), session.begin():
            yield session
    except BaseException:
        session.close()
        for work in session.info.pop(_AFTER_ROLLBACK, ()):
            work()
        raise
    finally:
        session.close()


@contextmanager
def one_transaction(engine: Engine) -> Iterator[None]:
    """Every store call on ``engine`` made by this thread inside the block joins one
    transaction: all of it is committed when the block ends normally, none of it when
    it raises (then the ``after_rollback`` work of each call runs). For a front end
    whose one request is several store calls that must change everything or nothing
    (kiosk-server's PATCH /people/{id}). The calls take their locks in the order they
    are made: make them in the order the stores document."""
    with transaction(sessionmaker(engine, expire_on_commit=False)) as session:
        token = _ENCLOSING.set(session)
        try:
            yield
        finally:
            _ENCLOSING.reset(token)


def after_rollback(session: Session, work: Callable[[], None]) -> None:
    """Run ``work`` once ``session``'s transaction (opened by ``transaction``) has
    rolled back: for what must outlive it, such as the audit of a refusal that
    rolls the action back. ``work`` must not raise."""
    session.info.setdefault(_AFTER_ROLLBACK, []).append(work)


@contextmanager
def database_failures() -> Iterator[None]:
    """Turn what the database or the pool raises into StoreBusy or StoreError."""
    try:
        yield
    except PoolTimeout as error:
        raise StoreBusy(
            "the database is busy: every connection of this kiosk stayed in use; try again"
        ) from error
    except (OperationalError, psycopg.OperationalError) as error:
        # Raw driver errors come from the search, which runs on the driver itself.
        cause = error.orig if isinstance(error, OperationalError) else error
        if isinstance(cause, QueryCanceled):
            raise StoreBusy(f"the database is busy: {first_line(error)}; try again") from error
        raise StoreError(
            f"the database is unreachable or failed ({first_line(error)}); "
            "check that the server is running"
        ) from error


def first_line(error: DBAPIError | psycopg.Error) -> str:
    cause = error.orig if isinstance(error, DBAPIError) else error
    return str(cause).strip().splitlines()[0] if cause else str(error)
