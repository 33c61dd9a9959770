"""Signed webhooks: each chosen event POSTed as JSON to the receiver, from the outbox, in
order, retried with growing waits until the receiver takes it.

Every POST carries these headers (docs/integrations.md has a receiver):

- ``X-Kiosk-Event-Id``: the event's id; a receiver drops an id it has seen (a retry
  after a lost answer sends the same event again).
- ``X-Kiosk-Timestamp``: Unix seconds when this try was sent.
- ``X-Kiosk-Signature``: ``v1=`` and the hex HMAC-SHA256, under the shared secret,
  of the timestamp, a ".", and the body's bytes.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

from core.integration_settings import WebhookSettings
from integrations.events import OutboundEvent, matches
from integrations.outbox import Outbox, OutboxLine

log = logging.getLogger(__name__)

EVENT_ID_HEADER = "X-Kiosk-Event-Id"
TIMESTAMP_HEADER = "X-Kiosk-Timestamp"
SIGNATURE_HEADER = "X-Kiosk-Signature"
SIGNATURE_VERSION = "v1"
# Answers that say the event itself will never be taken: set aside, not retried. Any
# other 4xx (408 time-out, 429 too many, 401/403 a secret being changed...) is retried.
_REFUSED_FOR_GOOD = {400, 404, 405, 410, 413, 415, 422}
_STOP_S = 5.0


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect is not followed (urllib would turn the POST into a GET without its
    body): it is answered as a failure and tried again, so the URL gets fixed."""

    def redirect_request(self, *_args: Any, **_kwargs: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirects)


def signature(secret: bytes, timestamp: str, body: bytes) -> str:
    """The X-Kiosk-Signature value: ``v1=<hex HMAC-SHA256 of "timestamp.body">``."""
    mac = hmac.new(secret, timestamp.encode("ascii") + b"." + body, hashlib.sha256)
    return f"{SIGNATURE_VERSION}={mac.hexdigest()}"


def verify(
    secret: bytes, timestamp: str, body: bytes, signed: str, *, now: float, max_age_s: float
) -> bool:
    """A receiver's check: the signature matches (compared in constant time) and the
    timestamp is within ``max_age_s`` of ``now``, so an old POST cannot be replayed."""
    try:
        sent_at = int(timestamp)
    except ValueError:
        return False
    if abs(now - sent_at) > max_age_s:
        return False
    return hmac.compare_digest(signature(secret, timestamp, body), signed)


class WebhookSender:
    """Exists so that a receiver that is down, slow or failing never holds the door and
    never loses an event: events wait in the outbox (fsynced) and a thread of its own
    POSTs them one at a time, oldest first. An event leaves the outbox when the
    receiver answers 2xx; a connection failure, a time-out, a 5xx or a 408/429 is
    retried after ``retry_min_s``, doubling up to ``retry_max_s``, and the events
    behind it wait, so order holds. An answer that says the event will never be
    taken (400, 404, 422...) sets it aside with the status, and the next goes on."""

    name = "webhook"

    def __init__(
        self,
        settings: WebhookSettings,
        *,
        outbox: Outbox,
        secret: bytes,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.outbox = outbox
        self._secret = secret
        self._clock = clock
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._wait_s = settings.retry_min_s
        self.state = "nothing sent yet"
        self.failures = 0
        """Failed tries in a row (0 once a POST went through)."""
        self._thread = threading.Thread(target=self._send_forever, name="webhook", daemon=True)

    def accepts(self, event: OutboundEvent) -> bool:
        return matches(event.type, self.settings.events)

    def records(self, event: OutboundEvent) -> list[dict[str, Any]]:
        body = event.body(with_person=self.settings.person_details)
        return [{"event_id": str(event.event_id), "type": event.type, "body": body}]

    def wake(self) -> None:
        self._wake.set()

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout_s: float = _STOP_S) -> None:
        self._stopping.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout_s)
        self.outbox.close()

    def _send_forever(self) -> None:
        while not self._stopping.is_set():
            batch = self.outbox.oldest(1)
            if not batch:
                self._wake.wait(1.0)
                self._wake.clear()
                continue
            line = batch[0]
            problem = self._post(line)
            if problem is None:
                self.outbox.done([line])
                self._went_through()
            elif problem.startswith("refused:"):
                self.outbox.set_aside(line, f"the receiver {problem}")
                self._went_through()
            else:
                self._failed(problem)
                self._stopping.wait(self._wait_s)
                self._wait_s = min(self._wait_s * 2, self.settings.retry_max_s)

    def _post(self, line: OutboxLine) -> str | None:
        """None when taken; "refused: ..." when never to be taken; else why it failed."""
        body_object = line.record.get("body")
        if not isinstance(body_object, dict):
            return "refused: the outbox line has no body"
        body = json.dumps(body_object, separators=(",", ":")).encode()
        timestamp = str(int(self._clock()))
        request = urllib.request.Request(
            self.settings.url,
            data=body,
            method="POST",
            headers={
                "Content-Type": "application/json",
                "User-Agent": "face-kiosk",
                EVENT_ID_HEADER: str(line.record["event_id"]),
                TIMESTAMP_HEADER: timestamp,
                SIGNATURE_HEADER: signature(self._secret, timestamp, body),
            },
        )
        try:
            with _OPENER.open(request, timeout=self.settings.timeout_s) as answer:
                answer.read(1024)
                return None
        except urllib.error.HTTPError as error:
            if error.code in _REFUSED_FOR_GOOD:
                return f"refused: HTTP {error.code} {error.reason}"
            return f"HTTP {error.code} {error.reason}"
        except (urllib.error.URLError, OSError, ValueError) as error:
            reason = getattr(error, "reason", error)
            return f"not reachable: {reason}"

    def _went_through(self) -> None:
        if self.failures:
            log.warning("webhook receiver reachable again after %d failed tries", self.failures)
        self.failures = 0
        self._wait_s = self.settings.retry_min_s
        self.state = "delivering"

    def _failed(self, problem: str) -> None:
        self.failures += 1
        if self.failures == 1:
            log.warning(
                "webhook POST failed (%s); retrying with growing waits up to %g s",
                problem,
                self.settings.retry_max_s,
            )
        self.state = f"failing: {problem}"
