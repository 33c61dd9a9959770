"""A deadline on the database's answers, kept by the client.

A server that takes a request and never answers (stopped with SIGSTOP, hung, behind
a stalled proxy) must not hold the door. PostgreSQL's statement_timeout needs a
server that runs; libpq's TCP timeouts and keepalives see nothing wrong while the
server's kernel acknowledges every packet, and see nothing at all on a Unix socket;
psycopg's ``cancel()`` and ``cancel_safe()`` ask the server's postmaster to cancel,
which a stopped one never does (tried: ``cancel_safe`` timed out and the query went
on waiting). psycopg has no deadline of its own on a query.

So a late call's connection is cut from outside, as other drivers do (pgx closes the
connection of a query past its deadline): one watchdog thread for the whole process
shuts the connection's socket down (``shutdown(2)`` through a descriptor of our own,
a ``dup`` taken when the connection opened, so that a number libpq closed and the
process reused is never touched). libpq, waiting on that socket, wakes at once with
"server closed the connection unexpectedly", psycopg marks the connection broken and
SQLAlchemy discards it; a cut connection that still reaches a checkout is refused
there, so it is never used again.

A thread asks for the bound with ``AnswerDeadline.bounded()``; only the connections
it checks out inside the block are watched, so another thread's slow work is never
cut. The door bounds each whole call (a search, keeping a decision: someone waits at
the door); the spool's sender bounds each answer (``per_answer``), since a batch may
rightly take longer than one answer. A connection opened inside a bound waits at most
what is left of it (libpq's connect_timeout, in whole seconds), and none is opened
with less than libpq's shortest wait, 2 s, left: the bound ends there instead.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import socket
import threading
import time
import weakref
from collections.abc import Iterator
from typing import Any, cast

import psycopg
from sqlalchemy import Dialect, Engine, event, exc

from core.errors import StoreUnresponsive
from core.service_settings import DatabaseSettings

log = logging.getLogger(__name__)

# libpq (and psycopg) count connect_timeout in whole seconds and take below 2 as 2.
_SHORTEST_CONNECT_S = 2
_SOCKET = "answer_deadline_socket"


class AnswerDeadline:
    """How long one database may take to answer, for every engine (pool) on it.

    ``unanswered``: the last bound that ended had run out, and no bounded call has
    been answered since; the door then keeps its decisions in the spool at once
    (storage.event_log) instead of waiting on the database a second time.
    """

    def __init__(self, seconds: float) -> None:
        """``seconds``: database.query_deadline_s."""
        self.seconds = seconds
        self._unanswered = False
        self._lock = threading.Lock()

    @property
    def unanswered(self) -> bool:
        return self._unanswered

    def refusal(self) -> str:
        """Why a call gave up, in one line."""
        return (
            f"the database took a request and gave no answer within {self.seconds:g} s "
            "(database.query_deadline_s), so its connection was cut; check that the "
            "database server is running and not stopped, hung or overloaded"
        )

    @contextlib.contextmanager
    def bounded(self, *, per_answer: bool = False) -> Iterator[None]:
        """Hold the calling thread's database calls inside the block to ``seconds`` in
        all (each answer, with ``per_answer``). Raises StoreUnresponsive, from what the
        cut made the call raise, once the bound ran out. Inside another bound, that
        one holds."""
        if _current() is not None:
            yield
            return
        scope = _Scope(self.seconds, per_answer)
        _held.scope = scope
        _WATCHDOG.watch(scope)
        answered = False
        try:
            yield
            answered = True
        except Exception as error:
            if scope.ran_out:
                raise StoreUnresponsive(self.refusal()) from error
            raise
        finally:
            _WATCHDOG.forget(scope)
            _held.scope = None
            self._note(ran_out=scope.ran_out, answered=answered)

    def guard(self, engine: Engine, *, ping: bool) -> None:
        """Watch ``engine``'s connections under this deadline. ``ping``: test a pooled
        connection at each checkout, inside the caller's bound; this takes the place of
        SQLAlchemy's pool_pre_ping, whose ping runs before any checkout listener and so
        could not be bounded."""
        _DEADLINES[engine] = self
        dialect = engine.dialect

        def checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
            _checked_out(dbapi_connection, record, dialect if ping else None)

        event.listen(engine, "do_connect", _connect_in_time)
        # First, so that the other listeners' statements on a new connection are bounded.
        event.listen(engine, "connect", _opened, insert=True)
        event.listen(engine, "checkout", checkout)
        event.listen(engine, "checkin", _checked_in)
        event.listen(engine, "close", _closed)
        event.listen(engine, "detach", _closed)
        for awaited in ("before_cursor_execute", "commit", "rollback"):
            event.listen(engine, awaited, _answer_awaited)

    def _note(self, *, ran_out: bool, answered: bool) -> None:
        with self._lock:
            if ran_out:
                if not self._unanswered:
                    log.error("%s", self.refusal())
                self._unanswered = True
            elif answered and self._unanswered:
                self._unanswered = False
                log.warning("the database answers again")


_DEADLINES: weakref.WeakKeyDictionary[Engine, AnswerDeadline] = weakref.WeakKeyDictionary()
_deadlines_lock = threading.Lock()


def deadline_of(engine: Engine) -> AnswerDeadline:
    """The deadline ``engine`` was guarded with (storage.database.connect guards every
    engine it makes); an engine made elsewhere is guarded with the default one, its own
    pre-ping (if any) left as it was."""
    with _deadlines_lock:
        deadline = _DEADLINES.get(engine)
        if deadline is None:
            deadline = AnswerDeadline(DatabaseSettings().query_deadline_s)
            deadline.guard(engine, ping=False)
        return deadline


# ---- what a thread is bounded by, and the connections it holds ---------------------------


class _Scope:
    """One bounded block of one thread; changed under the watchdog's lock."""

    def __init__(self, seconds: float, per_answer: bool) -> None:
        self.seconds = seconds
        self.per_answer = per_answer
        self.due = time.monotonic() + seconds
        self.ran_out = False
        self.held: set[_Socket] = set()

    def left_s(self) -> float:
        return self.due - time.monotonic()


class _Thread(threading.local):
    scope: _Scope | None = None


_held = _Thread()


def _current() -> _Scope | None:
    return _held.scope


class _Socket:
    """A connection's socket through a descriptor of our own: libpq may close its
    descriptor at any moment and the process give the number to another file; ours
    names this socket until ``close``."""

    def __init__(self, descriptor: int) -> None:
        self._lock = threading.Lock()
        self._socket: socket.socket | None = socket.socket(fileno=os.dup(descriptor))
        self.was_cut = False
        self.fresh = True
        self.holder: _Scope | None = None
        # Closed with the connection's record at the latest, never left to the collector.
        weakref.finalize(self, self._socket.close)

    def cut(self) -> None:
        with self._lock:
            self.was_cut = True
            if self._socket is not None:
                with contextlib.suppress(OSError):  # the peer closed it already: as good
                    self._socket.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        with self._lock:
            if self._socket is not None:
                self._socket.close()
                self._socket = None


class _Watchdog:
    """Exists so that a late call is cut without a thread per call: one thread for the
    process sleeps until the earliest bound due and cuts what a call that ran out
    holds. Started on the first bound; a daemon, it ends with the process."""

    def __init__(self) -> None:
        self._changed = threading.Condition(threading.Lock())
        self._scopes: set[_Scope] = set()
        self._thread: threading.Thread | None = None
        self._waking_at = math.inf

    def watch(self, scope: _Scope) -> None:
        with self._changed:
            self._scopes.add(scope)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="database-deadline", daemon=True
                )
                self._thread.start()
            # Woken only when it would sleep past this bound: not once per search.
            if scope.due < self._waking_at:
                self._changed.notify()

    def forget(self, scope: _Scope) -> None:
        with self._changed:
            self._scopes.discard(scope)
            for held in scope.held:
                held.holder = None
            scope.held.clear()

    def hold(self, scope: _Scope, held: _Socket) -> None:
        with self._changed:
            self._release(held)
            held.holder = scope
            scope.held.add(held)

    def release(self, held: _Socket) -> None:
        with self._changed:
            self._release(held)

    def rearm(self, scope: _Scope) -> None:
        with self._changed:
            if not scope.ran_out:
                scope.due = time.monotonic() + scope.seconds

    def give_up(self, scope: _Scope) -> None:
        """``scope`` ran out before its time: what it holds is cut, as at its deadline."""
        with self._changed:
            self._run_out(scope)

    def _run_out(self, scope: _Scope) -> None:
        scope.ran_out = True
        self._scopes.discard(scope)
        for held in scope.held:
            held.cut()

    def _release(self, held: _Socket) -> None:
        if held.holder is not None:
            held.holder.held.discard(held)
            held.holder = None

    def _run(self) -> None:
        with self._changed:
            while True:
                now = time.monotonic()
                for scope in [s for s in self._scopes if s.due <= now]:
                    self._run_out(scope)
                self._waking_at = min((scope.due for scope in self._scopes), default=math.inf)
                self._changed.wait(None if self._waking_at == math.inf else self._waking_at - now)


_WATCHDOG = _Watchdog()


class _RanOut(psycopg.OperationalError):
    """A connection asked for after the caller's bound ran out."""


# ---- the pool's events -------------------------------------------------------------------


def _connect_in_time(
    dialect: Dialect, _record: Any, cargs: tuple[Any, ...], cparams: dict[str, Any]
) -> Any:
    """Inside a bound: connect within what is left of it, or not at all. A server that
    takes the connection and never answers it runs the bound out as a late query
    does. The engine's parameters stay as they are (a copy is passed)."""
    scope = _current()
    if scope is None:
        return None
    left = scope.left_s()
    if left < _SHORTEST_CONNECT_S:
        _WATCHDOG.give_up(scope)
        raise _RanOut("too little time was left to connect to the database")
    wanted = math.floor(left)
    if cparams.get("connect_timeout") is not None:
        wanted = min(wanted, int(float(cparams["connect_timeout"])))
    try:
        return dialect.connect(*cargs, **{**cparams, "connect_timeout": wanted})
    except psycopg.errors.ConnectionTimeout:
        _WATCHDOG.give_up(scope)
        raise


def _opened(dbapi_connection: Any, record: Any) -> None:
    held = record.info[_SOCKET] = _Socket(dbapi_connection.fileno())
    scope = _current()
    if scope is not None:
        _WATCHDOG.hold(scope, held)


def _checked_out(dbapi_connection: Any, record: Any, dialect: Dialect | None) -> None:
    scope = _current()
    if scope is not None and scope.ran_out:
        raise _RanOut("the database gave no answer in time; no connection is taken now")
    held: _Socket | None = record.info.get(_SOCKET)
    if held is None:
        return
    if held.was_cut:
        raise exc.DisconnectionError("this connection was cut for an answer that came too late")
    if scope is not None:
        _WATCHDOG.hold(scope, held)
    if dialect is not None and not held.fresh:
        _ping(dialect, dbapi_connection)
    held.fresh = False


def _ping(dialect: Dialect, dbapi_connection: Any) -> None:
    _answer_awaited()
    try:
        dialect.do_ping(dbapi_connection)
    except psycopg.Error as error:
        if dialect.is_disconnect(cast(Any, error), dbapi_connection, None):
            # As pool_pre_ping does: a server restart cut every pooled connection.
            raise exc.InvalidatePoolError(str(error)) from error
        raise


def _checked_in(_dbapi_connection: Any, record: Any) -> None:
    held: _Socket | None = record.info.get(_SOCKET) if record is not None else None
    if held is not None:
        _WATCHDOG.release(held)


def _closed(_dbapi_connection: Any, record: Any) -> None:
    held: _Socket | None = record.info.pop(_SOCKET, None)
    if held is not None:
        _WATCHDOG.release(held)
        held.close()


def _answer_awaited(*_event: Any) -> None:
    """A statement, COMMIT or ROLLBACK is about to wait for its answer: a per-answer
    bound starts again."""
    scope = _current()
    if scope is not None and scope.per_answer:
        _WATCHDOG.rearm(scope)
