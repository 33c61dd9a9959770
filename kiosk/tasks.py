"""Background work for the screens: database calls and password checks off the GUI thread."""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from PySide6.QtCore import QObject, Signal, Slot

from core.errors import KioskError

log = logging.getLogger(__name__)
T = TypeVar("T")


class TaskRunner(QObject):
    """One worker thread for everything the screens ask of the store.

    Exists so the GUI thread never runs SQL or bcrypt: a login check costs a
    third of a second. One thread keeps the store's calls in the order the
    operator made them. ``success`` and ``failure`` run on the GUI thread.
    """

    _done = Signal(object, object)  # callback, its argument

    def __init__(self, default_failure: Callable[[str], None]) -> None:
        super().__init__()
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kiosk-store")
        self._default_failure = default_failure
        self._done.connect(self._deliver)

    def run(
        self,
        work: Callable[[], T],
        success: Callable[[T], None],
        failure: Callable[[str], None] | None = None,
    ) -> None:
        report = failure or self._default_failure

        def job() -> None:
            try:
                result = work()
            except KioskError as error:
                self._done.emit(report, str(error))
            except Exception as error:
                log.exception("background task failed")
                self._done.emit(report, f"unexpected {type(error).__name__}: {error}")
            else:
                self._done.emit(success, result)

        self._pool.submit(job)

    @Slot(object, object)
    def _deliver(self, callback: Callable[[Any], None], argument: object) -> None:
        try:
            callback(argument)
        except RuntimeError as error:
            # The screen that asked was closed (log-out, time-out) before the answer came.
            if "already deleted" not in str(error):
                raise
            log.info("a result arrived after its screen closed: %s", error)

    def shutdown(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
