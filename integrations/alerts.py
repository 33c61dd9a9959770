"""When the kiosk raises an alert: repeated unknown faces or failed liveness checks at
its door, a door forced or held open, the database unreachable too long, an audit
verify that found the logs tampered with."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

from core.access.door_events import Alarm, AlarmCleared, AlarmRaised, DoorEvent
from core.integration_settings import AlertSettings
from core.records import AccessDecision, AccessOutcome
from integrations.events import Alert, AlertKind, is_duress

_ALARM_KINDS = {Alarm.FORCED_OPEN: AlertKind.FORCED_OPEN, Alarm.HELD_OPEN: AlertKind.HELD_OPEN}
# A condition's alert stays in the operator's list while it lasts; one about a count
# (or a failed verify) for this long after it was raised, in windows.
_SHOWN_WINDOWS = 1


class AlertWatch:
    """Exists so that each alert is raised once, when its condition starts, and the
    operator's list holds what is going on now.

    Counts come from the decisions (this kiosk's door); at ``unknown_faces`` unknown
    faces within ``window_min`` an alert is raised and the count starts again, so a
    crowd raises one alert per window, not one per face. Thread-safe: decisions,
    door events and the periodic checks come from different threads.
    """

    def __init__(
        self,
        settings: AlertSettings,
        door_name: str,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._settings = settings
        self._door = door_name
        self._clock = clock
        self._window_s = settings.window_min * 60
        self._seen: dict[AlertKind, deque[float]] = {
            AlertKind.UNKNOWN_FACES: deque(maxlen=max(1, settings.unknown_faces)),
            AlertKind.LIVENESS_FAILURES: deque(maxlen=max(1, settings.liveness_failures)),
        }
        self._lock = threading.Lock()
        self._conditions: dict[AlertKind, Alert] = {}
        """Alerts whose condition lasts (a door alarm, the database offline)."""
        self._recent: list[tuple[float, Alert]] = []
        """Alerts about a moment, with when they were raised (clock)."""
        self._offline_since: float | None = None
        self._verify_failures_seen: int | None = None

    def decision(self, decision: AccessDecision) -> list[Alert]:
        if is_duress(decision):
            # Silent: sent out, never listed where the door's own screen could show it.
            return [Alert(kind=AlertKind.DURESS, text=f"duress PIN used at {self._door}")]
        kind, limit, what = {
            AccessOutcome.UNKNOWN: (
                AlertKind.UNKNOWN_FACES,
                self._settings.unknown_faces,
                "unknown faces",
            ),
            AccessOutcome.LIVENESS_FAILED: (
                AlertKind.LIVENESS_FAILURES,
                self._settings.liveness_failures,
                "failed liveness checks",
            ),
        }.get(decision.outcome, (None, 0, ""))
        if kind is None or limit == 0:
            return []
        now = self._clock()
        with self._lock:
            seen = self._seen[kind]
            seen.append(now)
            if len(seen) < limit or now - seen[0] > self._window_s:
                return []
            seen.clear()
            alert = Alert(
                kind=kind,
                text=f"{limit} {what} at {self._door} within {self._settings.window_min:g} min",
                details={"count": limit, "window_min": self._settings.window_min},
            )
            self._recent.append((now, alert))
        return [alert]

    def door(self, event: DoorEvent) -> list[Alert]:
        if not self._settings.door_alarms:
            return []
        if not isinstance(event, AlarmRaised | AlarmCleared):
            return []
        kind = _ALARM_KINDS[event.alarm]
        what = event.alarm.value.replace("_", " ")
        raised = isinstance(event, AlarmRaised)
        alert = Alert(
            kind=kind,
            text=f"door {what} at {self._door}" + ("" if raised else ": ended"),
            active=raised,
            occurred_at=event.occurred_at,
        )
        with self._lock:
            if raised:
                self._conditions[kind] = alert
            else:
                self._conditions.pop(kind, None)
        return [alert]

    def database(self, offline: bool) -> list[Alert]:
        """Called every ``check_interval_s`` with whether the database is unreachable."""
        limit = self._settings.database_offline_s
        now = self._clock()
        with self._lock:
            if not offline:
                self._offline_since = None
                ended = self._conditions.pop(AlertKind.DATABASE_OFFLINE, None)
                if ended is None:
                    return []
                return [
                    Alert(
                        kind=AlertKind.DATABASE_OFFLINE,
                        text=f"the database is reachable again from {self._door}",
                        active=False,
                    )
                ]
            if self._offline_since is None:
                self._offline_since = now
            if (
                limit == 0
                or now - self._offline_since < limit
                or AlertKind.DATABASE_OFFLINE in self._conditions
            ):
                return []
            alert = Alert(
                kind=AlertKind.DATABASE_OFFLINE,
                text=f"the database has been unreachable from {self._door} for over {limit:g} s",
                details={"offline_s": round(now - self._offline_since, 1)},
            )
            self._conditions[AlertKind.DATABASE_OFFLINE] = alert
            return [alert]

    def verify_failures(self, newest: int) -> list[Alert]:
        """``newest``: the id of the newest failed-verify event in the audit log (0:
        none). The first reading is the baseline; a later, higher one raises."""
        if not self._settings.audit_verify:
            return []
        with self._lock:
            seen, self._verify_failures_seen = self._verify_failures_seen, newest
            if seen is None or newest <= seen:
                return []
            alert = Alert(
                kind=AlertKind.AUDIT_VERIFY_FAILED,
                text="audit verify found the audit or access log tampered with; "
                "see docs/security.md, 'When audit verify fails'",
            )
            self._recent.append((self._clock(), alert))
        return [alert]

    def shown(self) -> list[Alert]:
        """What the operator's screen lists now: lasting conditions, then recent counts."""
        now = self._clock()
        keep_s = self._window_s * _SHOWN_WINDOWS
        with self._lock:
            self._recent = [(at, alert) for at, alert in self._recent if now - at <= keep_s]
            return [*self._conditions.values(), *(alert for _, alert in self._recent)]
