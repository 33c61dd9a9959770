"""Handing each decision to the consumers that may be slow, off the recognition path."""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

from core.access.door import DecisionConsumer
from core.records import AccessDecision

log = logging.getLogger(__name__)


@dataclass
class ConsumerCounts:
    """What became of the decisions handed to one consumer."""

    consumed: int = 0
    failed: int = 0
    """It raised; logged, and the next decision is handed over as usual."""
    dropped: int = 0
    """Its queue was full (it fell behind by ``queue_size``): the decision was skipped."""


class DecisionRelay:
    """Exists so that a slow or failing consumer (a log file on a full disk, a door
    controller that does not answer, a webhook) never delays or stops recognition.

    Each consumer gets its own thread and a queue of at most ``queue_size``
    decisions; ``consume`` only enqueues, so it returns at once. A consumer that
    raises is logged and counted, and keeps receiving decisions; one that falls
    behind loses the newest decisions past its queue, counted as dropped.
    ``close`` hands over what is queued, within ``timeout_s`` per consumer; what a
    consumer has not taken by then is counted as dropped.
    """

    def __init__(self, consumers: Sequence[tuple[str, DecisionConsumer]], queue_size: int) -> None:
        """``consumers``: (name for the logs and counts, consumer) pairs."""
        if queue_size < 1:
            raise ValueError("queue_size must be at least 1")
        self.counts = {name: ConsumerCounts() for name, _ in consumers}
        self._lanes = [
            _Lane(name, consumer, queue_size, self.counts[name]) for name, consumer in consumers
        ]
        for lane in self._lanes:
            lane.start()

    def consume(self, decision: AccessDecision) -> None:
        for lane in self._lanes:
            lane.offer(decision)

    def close(self, timeout_s: float = 2.0) -> None:
        """Stop every lane after what it holds; safe to call more than once."""
        for lane in self._lanes:
            lane.stop(timeout_s)


_STOP = object()


class _Lane(threading.Thread):
    def __init__(
        self, name: str, consumer: DecisionConsumer, queue_size: int, counts: ConsumerCounts
    ) -> None:
        super().__init__(name=f"decisions-{name}", daemon=True)
        self._consumer = consumer
        self._counts = counts
        self._queue: queue.Queue[object] = queue.Queue(queue_size)
        self._counts_lock = threading.Lock()
        self._closed = False
        self._offers = threading.Lock()

    def offer(self, decision: AccessDecision) -> None:
        with self._offers:  # never queued behind the stop, where it would go unsaid
            why = "closed" if self._closed else ""
            if not why:
                try:
                    self._queue.put_nowait(decision)
                except queue.Full:
                    why = "fell behind"
        if why:
            with self._counts_lock:
                self._counts.dropped += 1
            log.warning("decision consumer %s %s; %s skipped", self.name, why, decision.event_id)

    def run(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            assert isinstance(item, AccessDecision)
            try:
                self._consumer.consume(item)
            except BaseException:  # even SystemExit: a dead lane would skip every decision
                with self._counts_lock:
                    self._counts.failed += 1
                log.exception("decision consumer %s failed on %s", self.name, item.event_id)
            else:
                with self._counts_lock:
                    self._counts.consumed += 1

    def stop(self, timeout_s: float) -> None:
        """Within ``timeout_s`` in all: what is queued is handed over; what is not by
        then is taken back, counted as dropped and logged, never lost unsaid."""
        with self._offers:
            self._closed = True  # offered from now on: dropped and counted
        if not self.is_alive():
            return
        deadline = time.monotonic() + timeout_s
        try:
            self._queue.put(_STOP, timeout=timeout_s)
        except queue.Full:
            pass
        else:
            self.join(max(0.0, deadline - time.monotonic()))
        undelivered = 0
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            undelivered += isinstance(item, AccessDecision)
        alive = self.is_alive()
        if alive:  # its stop was taken back above: it ends once its consumer returns
            with contextlib.suppress(queue.Full):
                self._queue.put_nowait(_STOP)
        elif not undelivered:
            return
        with self._counts_lock:
            self._counts.dropped += undelivered
        log.warning(
            "decision consumer %s closed%s; %d decisions not handed over",
            self.name,
            f" still busy after {timeout_s:.1f} s" if alive else "",
            undelivered,
        )
