"""The kiosk's last line of defence: an exception nobody caught is logged, and the
door screen says so, instead of the process dying or a stack trace on the screen."""

from __future__ import annotations

import logging
import sys
import threading
from types import TracebackType

from PySide6.QtCore import QObject, Signal

log = logging.getLogger(__name__)

# What the public door screen says: nothing of the error itself, which may name paths,
# and no promise about the door (only the action that failed did not happen).
UNEXPECTED_ERROR = "unexpected error: logged for the operator"


class CrashGuard(QObject):
    """Exists so that a bug in a slot or a thread leaves the door running and closed.

    Installed as ``sys.excepthook`` and ``threading.excepthook``: each uncaught
    exception is logged with its traceback (the JSON log, for the operator) and
    ``fault`` is emitted, which may come from any thread; Qt queues it to the
    screen's thread. KeyboardInterrupt keeps its usual meaning.
    """

    fault = Signal(str)

    def __init__(self) -> None:
        super().__init__()
        self.caught = 0
        self._previous = sys.excepthook
        self._previous_thread = threading.excepthook

    def install(self) -> None:
        sys.excepthook = self._uncaught
        threading.excepthook = self._uncaught_in_thread

    def uninstall(self) -> None:
        sys.excepthook = self._previous
        threading.excepthook = self._previous_thread

    def _uncaught(
        self,
        kind: type[BaseException],
        error: BaseException,
        trace: TracebackType | None,
    ) -> None:
        if issubclass(kind, KeyboardInterrupt):
            self._previous(kind, error, trace)
            return
        self.caught += 1
        log.critical("uncaught %s", kind.__name__, exc_info=(kind, error, trace))
        self.fault.emit(UNEXPECTED_ERROR)

    def _uncaught_in_thread(self, args: threading.ExceptHookArgs) -> None:
        if args.exc_value is None:
            return
        if issubclass(args.exc_type, KeyboardInterrupt):
            self._previous_thread(args)
            return
        self._uncaught(args.exc_type, args.exc_value, args.exc_traceback)
