"""Prometheus metrics of one kiosk, served on 127.0.0.1 when a port is configured."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Protocol

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, make_wsgi_app
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from core.access.consumers import ConsumerCounts
from core.access.door_events import (
    AlarmRaised,
    DoorEvent,
    DoorFaulted,
    Unlocked,
    UnlockFailed,
    UnlockRefused,
    UnlockUnconfirmed,
)
from core.access.door_status import DoorStatus
from core.access.frame_outcome import FrameOutcome
from core.administration.server_supervision import SupervisionStatus
from core.records import AccessDecision, AccessOutcome
from telemetry.loopback_server import LoopbackServer

log = logging.getLogger(__name__)

# Seconds; the kiosk's stages take milliseconds, a decision up to a few seconds.
_STAGE_BUCKETS = (0.002, 0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.2, 0.5, 1.0, 2.0)
_DECISION_BUCKETS = (0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 2.0, 5.0, 10.0)


class SpoolStatus(Protocol):
    """What the event log tells about its spool (storage.event_log.ResilientEventLog)."""

    @property
    def pending(self) -> int: ...

    @property
    def set_aside(self) -> int: ...

    @property
    def lost(self) -> int: ...

    @property
    def trouble(self) -> str | None: ...


class KioskMetrics:
    """Counters and histograms for one kiosk, in a registry of their own (tests make
    several). Updated from the recognition and capture threads; prometheus_client's
    metrics are thread-safe."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.frames_read = Counter("kiosk_frames_read", "Frames read from the camera", registry=r)
        self.frames_dropped = Counter(
            "kiosk_frames_dropped", "Frames replaced before recognition took them", registry=r
        )
        self.frames_recognized = Counter(
            "kiosk_frames_recognized", "Frames the recognition worker processed", registry=r
        )
        self.decisions = Counter(
            "kiosk_decisions", "Door decisions by outcome", ["outcome"], registry=r
        )
        self.duress_alarms = Counter(
            "kiosk_duress_alarms", "Decisions made on a duress PIN (silent alarms)", registry=r
        )
        self.stage_seconds = Histogram(
            "kiosk_stage_seconds",
            "Time per frame in each stage: detect, embed, search, record, total",
            ["stage"],
            buckets=_STAGE_BUCKETS,
            registry=r,
        )
        self.decision_seconds = Histogram(
            "kiosk_decision_seconds",
            "From a face's first frame to its decision",
            buckets=_DECISION_BUCKETS,
            registry=r,
        )
        self.throttle_pauses = Counter(
            "kiosk_throttle_pauses", "Frames refused during a recognition cooldown", registry=r
        )
        self.camera_reconnects = Counter(
            "kiosk_camera_reconnects", "Times the camera was lost and opened again", registry=r
        )
        self.database_errors = Counter(
            "kiosk_database_errors",
            "Searches the database failed: offline or busy",
            ["kind"],
            registry=r,
        )
        self.recognition_faults = Counter(
            "kiosk_recognition_faults",
            "Frames on which recognition failed unexpectedly",
            registry=r,
        )
        self.spooled_events = Gauge(
            "kiosk_spooled_events",
            "Events waiting in the local spool for the database",
            registry=r,
        )
        self.consumer_problems = Gauge(
            "kiosk_decision_consumer_problems",
            "Decisions a consumer (log, metrics, door, integrations) failed on or dropped",
            ["consumer", "kind"],
            registry=r,
        )
        self.door_state = Gauge(
            "kiosk_door_state",
            "1 for each state the door is in: unlocked, open, lockdown, alarm, fault",
            ["state"],
            registry=r,
        )
        self.door_alarms = Counter(
            "kiosk_door_alarms", "Door alarms raised: held_open, forced_open", ["alarm"], registry=r
        )
        self.door_unlocks = Counter(
            "kiosk_door_unlocks",
            "Lock releases by cause (grant, exit_request, operator); refused, failed and "
            "unconfirmed ones (the lock's answer lost: it may have opened)",
            ["cause", "result"],
            registry=r,
        )
        self.door_faults = Counter(
            "kiosk_door_faults", "Times the door hardware stopped answering", registry=r
        )
        self.spool_set_aside_events = Gauge(
            "kiosk_spool_set_aside_events",
            "Events set aside since start, with the reason, in the spool's rejected file: "
            "unreadable, or refused by the database",
            registry=r,
        )
        self.spool_lost_events = Gauge(
            "kiosk_spool_lost_events",
            "Events since start that could be neither stored nor spooled (database down, "
            "disk full)",
            registry=r,
        )
        self.spool_trouble = Gauge(
            "kiosk_spool_trouble",
            "1 while the spool needs the operator (its disk is full), else 0",
            registry=r,
        )
        self._frames_read_seen = 0
        self._frames_dropped_seen = 0
        self._server: LoopbackServer | None = None

    def watch_database_server(self, status: Callable[[], SupervisionStatus]) -> None:
        """Report the embedded server's supervision: read at each scrape."""
        self.registry.register(_DatabaseServerCollector(status))

    def observe_frame(self, outcome: FrameOutcome) -> None:
        self.frames_recognized.inc()
        timings = outcome.timings
        for stage, ms in (
            ("detect", timings.detect_ms),
            ("embed", timings.embed_ms),
            ("search", timings.search_ms),
            ("record", timings.record_ms),
            ("total", timings.total_ms),
        ):
            if ms > 0:
                self.stage_seconds.labels(stage).observe(ms / 1000)

    def consume(self, decision: AccessDecision) -> None:
        """A decision consumer: counts decisions by outcome and their latency."""
        self.decisions.labels(decision.outcome.value).inc()
        if decision.duress:
            self.duress_alarms.inc()
        self.decision_seconds.observe(decision.latency_ms / 1000)
        if decision.outcome is AccessOutcome.OFFLINE:
            self.database_errors.labels("offline").inc()

    def watch_consumers(self, counts: dict[str, ConsumerCounts]) -> None:
        """Export each consumer's failed and dropped decisions, read from ``counts`` at
        each scrape: a failure shows at once, not only when the next decision comes."""
        for name, count in counts.items():
            failed, dropped = _reading(count, "failed"), _reading(count, "dropped")
            self.consumer_problems.labels(name, "failed").set_function(failed)
            self.consumer_problems.labels(name, "dropped").set_function(dropped)

    def observe_door(self, event: DoorEvent, status: DoorStatus) -> None:
        """A door listener (on the door's thread): counts the event, shows the state."""
        if isinstance(event, AlarmRaised):
            self.door_alarms.labels(event.alarm.value).inc()
        elif isinstance(event, Unlocked):
            self.door_unlocks.labels(event.cause.value, "done").inc()
        elif isinstance(event, UnlockRefused):
            self.door_unlocks.labels(event.cause.value, "refused").inc()
        elif isinstance(event, UnlockFailed):
            self.door_unlocks.labels("grant", "failed").inc()
        elif isinstance(event, UnlockUnconfirmed):
            self.door_unlocks.labels("grant", "unconfirmed").inc()
        elif isinstance(event, DoorFaulted):
            self.door_faults.inc()
        state = status.state
        for name, on in (
            ("unlocked", state.unlocked),
            ("open", bool(state.door_open)),
            ("lockdown", state.lockdown),
            ("alarm", bool(state.alarms)),
            ("fault", status.fault is not None),
        ):
            self.door_state.labels(name).set(1 if on else 0)

    def watch_spool(self, spool: SpoolStatus) -> None:
        """Read the spool's gauges from ``spool`` at each scrape."""
        self.spooled_events.set_function(lambda: spool.pending)
        self.spool_set_aside_events.set_function(lambda: spool.set_aside)
        self.spool_lost_events.set_function(lambda: spool.lost)
        self.spool_trouble.set_function(lambda: 0 if spool.trouble is None else 1)

    def catch_up_frames(self, read: int, dropped: int) -> None:
        """The capture thread and the frame slot count for themselves; add what is new."""
        self.frames_read.inc(max(0, read - self._frames_read_seen))
        self.frames_dropped.inc(max(0, dropped - self._frames_dropped_seen))
        self._frames_read_seen = max(read, self._frames_read_seen)
        self._frames_dropped_seen = max(dropped, self._frames_dropped_seen)

    def serve(self, port: int) -> None:
        """Serve /metrics on the loopback addresses only (127.0.0.1 and ::1, both held,
        telemetry.loopback_server): operators reach it through their own agent or a
        tunnel, never from the door's network directly. Raises ConfigurationError when
        another process holds the port on either address."""
        self._server = LoopbackServer(make_wsgi_app(self.registry), port)
        for address in self._server.addresses:
            log.info("metrics on http://%s:%d/metrics", address, port)

    def close(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None


class _DatabaseServerCollector(Collector):
    """The embedded server's state, taken from its supervisor when scraped."""

    def __init__(self, status: Callable[[], SupervisionStatus]) -> None:
        self._status = status

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        status = self._status()
        yield GaugeMetricFamily(
            "kiosk_database_server_up",
            "1 while the embedded database server runs, 0 during an outage",
            value=1 if status.up else 0,
        )
        yield GaugeMetricFamily(
            "kiosk_database_server_down_seconds",
            "How long the current outage of the embedded server has lasted; 0 while up",
            value=status.down_s,
        )
        yield CounterMetricFamily(
            "kiosk_database_server_outages",
            "Outages of the embedded server that ended",
            value=status.outages,
        )
        yield CounterMetricFamily(
            "kiosk_database_server_restarts",
            "Times the kiosk restarted its embedded server",
            value=status.restarts,
        )
        yield CounterMetricFamily(
            "kiosk_database_server_failed_restarts",
            "Restarts of the embedded server that failed",
            value=status.failed_restarts,
        )
        last = status.last_outage
        yield GaugeMetricFamily(
            "kiosk_database_server_last_outage_seconds",
            "Length of the last outage of the embedded server that ended",
            value=last.down_s if last else 0.0,
        )


def _reading(counts: ConsumerCounts, kind: str) -> Callable[[], float]:
    """``counts``' ``kind`` ("failed" or "dropped") as it is when called."""
    return lambda: float(getattr(counts, kind))
