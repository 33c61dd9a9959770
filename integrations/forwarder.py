"""The kiosk's events to its integrations: each decision, door event, alert and health
report turned into an outbound event and kept in every destination's outbox."""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from core.access.door_events import DoorEvent
from core.access.door_status import DoorStatus
from core.errors import KioskError
from core.integration_settings import AlertSettings
from core.records import AccessDecision, DecisionSource
from integrations.alerts import AlertWatch
from integrations.events import (
    Alert,
    OutboundEvent,
    alert_event,
    decision_event,
    door_event,
    door_state,
    health_event,
)
from integrations.outbox import Outbox

log = logging.getLogger(__name__)


class Destination(Protocol):
    """A broker or receiver the events go to (integrations.mqtt, integrations.webhooks);
    OSDP's reader, when it comes, is a decision consumer of its own instead (it answers
    the controller, it does not forward events)."""

    name: str
    outbox: Outbox
    state: str

    def accepts(self, event: OutboundEvent) -> bool: ...

    def records(self, event: OutboundEvent) -> list[dict[str, Any]]: ...

    def wake(self) -> None: ...

    def start(self) -> None: ...

    def stop(self, timeout_s: float = ...) -> None: ...


_STOP = object()


class Forwarder:
    """Exists so that the door, the recognition thread and the alert checks hand their
    events over in an instant: ``consume`` (a decision consumer) and ``__call__`` (a
    door listener) only queue, at most ``queue_size``; past it an event is counted in
    ``dropped`` and logged, never waited for. One thread turns each into its outbound
    event, in the order they came, and appends it to each destination's outbox (an
    fsync each), then wakes their senders; another looks at the database's state and
    new failed verifies every ``check_interval_s`` and sends the health report when it
    changed, or every ``health_interval_s``.

    ``not_started`` names the integrations turned on whose settings kept them from
    starting (integrations.setup): each is a problem in the health report.

    ``alerts_shown`` is told the operator's list of alerts whenever it may have
    changed, on the forwarder's thread.
    """

    def __init__(
        self,
        *,
        kiosk_id: str,
        door_name: str,
        destinations: Sequence[Destination],
        alerts: AlertSettings,
        queue_size: int,
        health_interval_s: float,
        door_status: Callable[[], DoorStatus | None] = lambda: None,
        database_offline: Callable[[], bool] = lambda: False,
        newest_verify_failure: Callable[[], int] | None = None,
        alerts_shown: Callable[[list[Alert]], None] = lambda _alerts: None,
        not_started: tuple[str, ...] = (),
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.destinations = tuple(destinations)
        self.watch = AlertWatch(alerts, door_name, clock)
        self.dropped = 0
        self._kiosk_id = kiosk_id
        self._alert_settings = alerts
        self._health_interval_s = health_interval_s
        self._door_status = door_status
        self._database_offline = database_offline
        self._newest_verify_failure = newest_verify_failure
        self._alerts_shown = alerts_shown
        self._not_started = not_started
        self._clock = clock
        self._queue: queue.Queue[object] = queue.Queue(queue_size)
        self._stopping = threading.Event()
        self._health: dict[str, Any] | None = None
        self._health_at = 0.0
        self._forwarding = threading.Thread(target=self._forward, name="integrations", daemon=True)
        self._checking = threading.Thread(target=self._check, name="alert-checks", daemon=True)

    # --- handed over from other threads ----------------------------------------------------

    def consume(self, decision: AccessDecision) -> None:
        """A decision consumer (core.access.consumers lane): returns at once."""
        if decision.source is DecisionSource.DOOR:
            self._offer(decision)

    def __call__(self, event: DoorEvent) -> None:
        """A door listener, on the door's thread: the state is read now, with the event."""
        self._offer((event, self._door_status()))

    def raise_alert(self, alert: Alert) -> None:
        self._offer(alert)

    def _offer(self, item: object) -> None:
        try:
            self._queue.put_nowait(item)
        except queue.Full:
            self.dropped += 1
            log.error(
                "integrations fell behind: an event was not forwarded (%d so far)", self.dropped
            )

    # --- lifetime --------------------------------------------------------------------------

    def start(self) -> None:
        for destination in self.destinations:
            destination.start()
        self._forwarding.start()
        self._checking.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        """Forward what is queued, then stop the destinations; safe to call twice."""
        self._stopping.set()
        if self._forwarding.is_alive():
            try:
                self._queue.put(_STOP, timeout=timeout_s)
            except queue.Full:
                log.error("integrations did not drain in %.1f s", timeout_s)
            self._forwarding.join(timeout_s)
        if self._checking.is_alive():
            self._checking.join(timeout_s)
        for destination in self.destinations:
            destination.stop(timeout_s)

    # --- the forwarding thread -------------------------------------------------------------

    def _forward(self) -> None:
        while (item := self._queue.get()) is not _STOP:
            try:
                self._handle(item)
            except Exception:  # a bug or a full disk must not end forwarding
                log.exception("an event was not forwarded")

    def _handle(self, item: object) -> None:
        alerts: list[Alert] = []
        if isinstance(item, AccessDecision):
            self._send(decision_event(item))
            alerts = self.watch.decision(item)
        elif isinstance(item, tuple):
            event, status = item
            self._send(door_event(event, self._kiosk_id, status))
            alerts = self.watch.door(event)
        elif isinstance(item, Alert):
            alerts = [item]
        elif isinstance(item, dict):
            self._send(health_event(self._kiosk_id, item))
            return
        for alert in alerts:
            log.warning("alert: %s", alert.text)
            self._send(alert_event(alert, self._kiosk_id))
        if alerts:
            self._alerts_shown(self.watch.shown())

    def _send(self, event: OutboundEvent) -> None:
        for destination in self.destinations:
            if not destination.accepts(event):
                continue
            try:
                for record in destination.records(event):
                    destination.outbox.append(record)
            except KioskError as error:  # the disk: said once per event, the door goes on
                log.error("%s: event %s not kept: %s", destination.name, event.type, error)
            destination.wake()

    # --- the checking thread ---------------------------------------------------------------

    def _check(self) -> None:
        interval = self._alert_settings.check_interval_s
        while True:
            try:
                for alert in self._checked_alerts():
                    self._offer(alert)
                self._report_health()
                self._alerts_shown(self.watch.shown())
            except Exception:  # a bug here must not end the checks
                log.exception("alert checks failed")
            if self._stopping.wait(min(interval, self._health_interval_s)):
                return

    def _checked_alerts(self) -> list[Alert]:
        alerts = self.watch.database(self._database_offline())
        if self._newest_verify_failure is not None and self._alert_settings.audit_verify:
            try:
                alerts += self.watch.verify_failures(self._newest_verify_failure())
            except KioskError as error:  # the database is down: looked at next time
                log.debug("failed verifies not read: %s", error)
        return alerts

    def _report_health(self) -> None:
        health = self.health()
        now = self._clock()
        if health != self._health or now - self._health_at >= self._health_interval_s:
            self._health, self._health_at = health, now
            self._offer(health)

    def health(self) -> dict[str, Any]:
        """The kiosk's health: "ok" or "problem", and what is wrong."""
        status = self._door_status()
        shown = [alert.kind.value for alert in self.watch.shown()]
        problems = list(shown) + [f"{name}_not_started" for name in self._not_started]
        database = "offline" if self._database_offline() else "online"
        if database == "offline":
            problems.append("database_offline")
        health: dict[str, Any] = {
            "database": database,
            "door": "none" if status is None else ("fault" if status.fault else "ok"),
            "alerts": shown,
            "dropped": self.dropped,
        }
        if status is not None:
            health["door_state"] = door_state(status, self._kiosk_id)
            if status.fault:
                problems.append("door_fault")
        for destination in self.destinations:
            outbox = destination.outbox
            health[destination.name] = {
                "state": destination.state,
                "waiting": len(outbox),
                "refused": outbox.refused,
                "set_aside": outbox.set_aside_count,
            }
            if outbox.refused:
                problems.append(f"{destination.name}_outbox_full")
        health["status"] = "problem" if problems else "ok"
        health["problems"] = sorted(set(problems))
        return health
