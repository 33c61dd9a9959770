"""A door listener that keeps every event and lets a test wait for one."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TypeVar

from core.access.door_events import DoorEvent

E = TypeVar("E", bound=DoorEvent)
WAIT_S = 5.0


class DoorEventRecorder:
    def __init__(self) -> None:
        self._condition = threading.Condition()
        self.events: list[DoorEvent] = []

    def __call__(self, event: DoorEvent) -> None:
        with self._condition:
            self.events.append(event)
            self._condition.notify_all()

    def wait_for(
        self,
        kind: type[E],
        where: Callable[[E], bool] = lambda _event: True,
        timeout_s: float = WAIT_S,
    ) -> E:
        """The first event of ``kind`` that ``where`` accepts; AssertionError if none
        came within ``timeout_s``."""

        def found() -> E | None:
            return next((e for e in self.events if isinstance(e, kind) and where(e)), None)

        with self._condition:
            self._condition.wait_for(lambda: found() is not None, timeout_s)
            event = found()
        assert event is not None, f"no {kind.__name__} within {timeout_s} s: {self.events}"
        return event

    def of(self, kind: type[E]) -> list[E]:
        with self._condition:
            return [e for e in self.events if isinstance(e, kind)]


def wait_until(condition: Callable[[], bool], timeout_s: float = WAIT_S) -> None:
    """Wait for a condition that no event announces (a module's coil), checking it
    every few milliseconds."""
    end = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > end:
            raise AssertionError(f"condition not met within {timeout_s} s")
        time.sleep(0.01)
