"""Back-pressure: per-client rate limits and the bounded inference pool.

Both answer at once rather than queue: a client over its rate, or a request that
finds every inference worker busy and the short queue full, gets 429 with
Retry-After. Memory stays bounded whatever the clients do.
"""

from __future__ import annotations

import asyncio
import contextvars
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from api.metrics import ApiMetrics
from api.problems import ApiProblem

T = TypeVar("T")


class RateLimiter:
    """A token bucket per (client, route): ``burst`` requests at once, refilled at
    ``per_minute``. Keeps at most ``max_clients`` buckets, forgetting the least
    recently used (a forgotten client starts with a full bucket). Thread-safe."""

    def __init__(
        self,
        per_minute: int,
        burst: int,
        max_clients: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._rate = per_minute / 60.0
        self._burst = float(burst)
        self._max = max_clients
        self._clock = clock
        self._lock = threading.Lock()
        self._buckets: OrderedDict[tuple[str, str], tuple[float, float]] = OrderedDict()

    def retry_after(self, client: str, route: str) -> float | None:
        """Take one token: None if there was one, else the seconds until there is."""
        now = self._clock()
        key = (client, route)
        with self._lock:
            tokens, at = self._buckets.pop(key, (self._burst, now))
            tokens = min(self._burst, tokens + (now - at) * self._rate)
            wait = None
            if tokens >= 1:
                tokens -= 1
            else:
                wait = (1 - tokens) / self._rate
            self._buckets[key] = (tokens, now)
            while len(self._buckets) > self._max:
                self._buckets.popitem(last=False)
        return wait


class InferencePool:
    """Runs face work on ``workers`` threads with at most ``queue`` requests waiting.

    Exists so that a burst of uploads cannot queue without bound (each holds an
    image in memory) or starve the event loop: a request finding the pool full is
    refused with 429 and Retry-After at once. A slot is given back when the work
    ends, also when its client has gone away meanwhile."""

    def __init__(self, workers: int, queue: int, retry_after_s: float, metrics: ApiMetrics) -> None:
        self._executor = ThreadPoolExecutor(workers, thread_name_prefix="kiosk-api-inference")
        self._capacity = workers + queue
        self._retry_after_s = retry_after_s
        self._metrics = metrics
        self._lock = threading.Lock()
        self._in_flight = 0
        metrics.watch_pool(lambda: self._in_flight)

    @property
    def in_flight(self) -> int:
        return self._in_flight

    async def run(self, work: Callable[[], T]) -> T:
        """``work()`` on a worker, in this request's context (its request id).
        Raises ApiProblem 429 when the pool is full, else what ``work`` raises."""
        with self._lock:
            if self._in_flight >= self._capacity:
                self._metrics.refused("pool_full")
                raise ApiProblem(
                    429,
                    "inference-busy",
                    "every face worker is busy and the queue is full; try again in "
                    f"{math.ceil(self._retry_after_s)} s (api.inference_workers, "
                    "api.inference_queue)",
                    self._retry_after_s,
                )
            self._in_flight += 1
        context = contextvars.copy_context()
        try:
            future = self._executor.submit(context.run, work)
        except BaseException:
            self._release()
            raise
        future.add_done_callback(lambda _: self._release())
        return await asyncio.wrap_future(future)

    def _release(self) -> None:
        with self._lock:
            self._in_flight -= 1

    def close(self) -> None:
        """Wait for the work running and queued, then stop the threads."""
        self._executor.shutdown(wait=True)
