"""Running an operator's request: as the logged-in operator, off the GUI thread."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from core.accounts.sessions import OperatorSession
from core.errors import SessionExpired
from core.records import Operator
from kiosk.tasks import TaskRunner

T = TypeVar("T")


@dataclass(frozen=True)
class _SessionEnded:
    """The store refused the action: the operator's account changed since login."""

    reason: str


class OperatorActions:
    """What every operator screen calls to reach the core services.

    Each request is the operator's activity: it renews the session, and a
    session that has ended logs out instead of running anything. A request the
    store refuses because the account changed since login (disabled, new role,
    new password: SessionExpired) logs out too, back to the door. (An app-wide
    Qt event filter would see every key press, but a Python eventFilter
    returning a bool corrupts the refcount of False in PySide6 on Python 3.11.)
    """

    def __init__(
        self,
        tasks: TaskRunner,
        session: Callable[[], OperatorSession | None],
        session_ended: Callable[[str], None],
    ) -> None:
        self._tasks = tasks
        self._session = session
        self._session_ended = session_ended

    def run(
        self,
        work: Callable[[Operator], T],
        success: Callable[[T], None],
        failure: Callable[[str], None] | None = None,
        *,
        activity: bool = True,
    ) -> None:
        """``activity`` False: a read the screen makes by itself (a timer), which
        must not keep an idle session open."""
        session = self._session()
        if session is None or not session.active:
            self._session_ended("the operator session ended")
            return
        operator = session.operator() if activity else session.peek()

        def guarded() -> T | _SessionEnded:
            try:
                return work(operator)
            except SessionExpired as ended:
                return _SessionEnded(str(ended))

        def delivered(result: T | _SessionEnded) -> None:
            if not isinstance(result, _SessionEnded):
                success(result)
            elif self._session() is session:  # not a later operator's session
                self._session_ended(result.reason)

        self._tasks.run(guarded, success=delivered, failure=failure)

    def touch(self) -> bool:
        """Count a step in a form as activity; False when the session has ended."""
        session = self._session()
        if session is None or not session.active:
            self._session_ended("the operator session ended")
            return False
        session.operator()
        return True
