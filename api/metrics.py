"""kiosk-server's Prometheus metrics, served at GET /metrics (authenticated)."""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

# Latency buckets (s) from a cached read to a queue of inferences.
_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


class ApiMetrics:
    """One registry per app, so two apps in one process (tests) never share counts."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self._requests = Counter(
            "kiosk_api_requests",
            "Requests answered, by method, route and status",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self._latency = Histogram(
            "kiosk_api_request_seconds",
            "Time from a request's arrival to its answer, by route",
            ["route"],
            buckets=_BUCKETS,
            registry=self.registry,
        )
        self._refused = Counter(
            "kiosk_api_refused",
            "Requests refused by a limit: body_too_large, rate_limited, pool_full",
            ["reason"],
            registry=self.registry,
        )
        self._in_flight = Gauge(
            "kiosk_api_inference_in_flight",
            "Requests running or waiting in the inference pool",
            registry=self.registry,
        )

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        self._requests.labels(method, route, str(status)).inc()
        self._latency.labels(route).observe(seconds)

    def refused(self, reason: str) -> None:
        self._refused.labels(reason).inc()

    def watch_pool(self, in_flight: Callable[[], int]) -> None:
        self._in_flight.set_function(in_flight)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
