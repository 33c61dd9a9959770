"""Supervising the embedded database server: when to try a restart, what an outage was.

Pure: the caller says what it saw and when (a monotonic clock in seconds for
durations, UTC wall time for the record); nothing here touches a process.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from core.settings import EmbeddedServerSettings

RESTARTED_ACTION = "database.restarted"
"""The audit action written when the server is back after an outage."""


@dataclass(frozen=True)
class Outage:
    """One time the server was down, from the first check that missed it to the first
    that found it again."""

    began_at: datetime
    ended_at: datetime
    down_s: float
    """Measured on the monotonic clock, so a clock step does not change it."""
    restart_attempts: int
    """Restarts tried, the successful one included (0: it came back by itself)."""
    last_error: str | None
    """Why the last failed restart failed, if one did."""

    def audit_details(self) -> dict[str, object]:
        return {
            "down_since": self.began_at.isoformat(),
            "back_at": self.ended_at.isoformat(),
            "down_s": round(self.down_s, 1),
            "restart_attempts": self.restart_attempts,
            "last_error": self.last_error,
        }


@dataclass(frozen=True)
class SupervisionStatus:
    """A snapshot for health reports and metrics."""

    up: bool
    down_since: datetime | None
    down_s: float
    """How long the current outage has lasted; 0 while up."""
    restarts: int
    """Restarts this supervisor made that brought the server back."""
    failed_restarts: int
    outages: int
    last_outage: Outage | None
    last_error: str | None


def restart_delay(failed_attempts: int, settings: EmbeddedServerSettings) -> float:
    """Seconds to wait before the next restart after ``failed_attempts`` failures in a
    row: none before the first, then ``restart_delay_s`` growing by ``restart_backoff``
    up to ``restart_delay_max_s``."""
    if failed_attempts <= 0:
        return 0.0
    # The exponent is capped: past it the maximum applies anyway, and huge powers overflow.
    exponent = min(failed_attempts - 1, 64)
    delay = settings.restart_delay_s * settings.restart_backoff**exponent
    return float(min(delay, settings.restart_delay_max_s))


@dataclass
class _Down:
    since: datetime
    since_mono: float
    failed_attempts: int = 0
    next_attempt_mono: float = 0.0
    last_error: str | None = None


@dataclass
class ServerSupervision:
    """What the supervisor remembers between checks. Not thread-safe: its owner holds
    a lock."""

    settings: EmbeddedServerSettings
    _down: _Down | None = None
    _restarts: int = 0
    _failed_restarts: int = 0
    _outages: int = 0
    _last_outage: Outage | None = None
    _last_error: str | None = field(default=None)

    def seen_down(self, now: float, wall: datetime) -> None:
        """A check found the server not running; the first such check starts an outage."""
        if self._down is None:
            self._down = _Down(wall, now, next_attempt_mono=now)

    def restart_due(self, now: float) -> bool:
        return self._down is not None and now >= self._down.next_attempt_mono

    def restart_failed(self, now: float, error: str) -> None:
        """A restart was tried and failed: wait longer before the next."""
        assert self._down is not None, "a restart is only tried while down"
        self._down.failed_attempts += 1
        self._down.last_error = error
        self._down.next_attempt_mono = now + restart_delay(
            self._down.failed_attempts, self.settings
        )
        self._failed_restarts += 1
        self._last_error = error

    def seen_up(self, now: float, wall: datetime, restarted_here: bool = False) -> Outage | None:
        """A check found the server running (``restarted_here``: because this supervisor
        just started it). Returns the outage that this ends, if there was one."""
        down = self._down
        if down is None:
            return None
        self._down = None
        if restarted_here:
            self._restarts += 1
        outage = Outage(
            began_at=down.since,
            ended_at=wall,
            down_s=max(0.0, now - down.since_mono),
            restart_attempts=down.failed_attempts + (1 if restarted_here else 0),
            last_error=down.last_error,
        )
        self._outages += 1
        self._last_outage = outage
        return outage

    def status(self, now: float) -> SupervisionStatus:
        down = self._down
        return SupervisionStatus(
            up=down is None,
            down_since=down.since if down else None,
            down_s=max(0.0, now - down.since_mono) if down else 0.0,
            restarts=self._restarts,
            failed_restarts=self._failed_restarts,
            outages=self._outages,
            last_outage=self._last_outage,
            last_error=self._last_error,
        )
