"""Operator sessions for the GUI: a login that ends after inactivity.

The session also ends when the operator's account changes (disabled, new role,
new password): the store refuses its next action with SessionExpired, as the
held ``Operator`` carries the session epoch read at login.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from core.errors import SessionExpired
from core.records import Operator


class OperatorSession:
    """The logged-in operator, until ``idle_s`` pass without activity or ``end()``."""

    def __init__(
        self, operator: Operator, idle_s: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._operator: Operator | None = operator
        self._idle_s = idle_s
        self._clock = clock
        self._last_activity = clock()

    @property
    def active(self) -> bool:
        return self._operator is not None and self._clock() - self._last_activity <= self._idle_s

    def operator(self) -> Operator:
        """The operator for the next action; counts as activity."""
        if self._operator is None or not self.active:
            self._operator = None
            raise SessionExpired("the operator session ended; log in again")
        self._last_activity = self._clock()
        return self._operator

    def peek(self) -> Operator:
        """The operator for a read the screen makes by itself (a page refreshing on a
        timer): not activity, so it never keeps an idle session open."""
        if self._operator is None or not self.active:
            self._operator = None
            raise SessionExpired("the operator session ended; log in again")
        return self._operator

    def end(self) -> None:
        self._operator = None
