"""Signed webhooks to a real HTTP receiver on a loopback port, written as
docs/integrations.md tells a site to write one (its own HMAC check, not the kiosk's):
every event arrives once per event id and in order after the receiver was down for a
while; a wrong secret is rejected by the receiver's check and the event waits."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from core.records import AccessOutcome, access_decision
from core.settings import Settings
from integrations.forwarder import Forwarder
from integrations.setup import open_integrations
from integrations.webhooks import WebhookSender, verify
from tests.door_events_recorder import wait_until

SECRET = "s3cret-for-the-webhook-test-0123"
KIOSK = "door-west"
MAX_AGE_S = 300


@dataclass
class Receiver:
    """Accepts a POST whose signature checks out under ``secret`` (204), else 401;
    keeps each accepted event id once, in the order they came."""

    secret: bytes
    port: int = 0
    accepted: list[dict[str, Any]] = field(default_factory=list)
    rejected: int = 0
    posts: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    server: ThreadingHTTPServer | None = None
    thread: threading.Thread | None = None

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                timestamp = self.headers.get("X-Kiosk-Timestamp", "")
                signed = self.headers.get("X-Kiosk-Signature", "")
                expected = (
                    "v1="
                    + hmac.new(
                        receiver.secret, timestamp.encode() + b"." + body, hashlib.sha256
                    ).hexdigest()
                )
                fresh = timestamp.isdigit() and abs(time.time() - int(timestamp)) < MAX_AGE_S
                with receiver.lock:
                    receiver.posts += 1
                    if not (fresh and hmac.compare_digest(expected, signed)):
                        receiver.rejected += 1
                        self.send_response(401)
                        self.end_headers()
                        return
                    event = json.loads(body)
                    assert event["event_id"] == self.headers["X-Kiosk-Event-Id"]
                    if all(e["event_id"] != event["event_id"] for e in receiver.accepted):
                        receiver.accepted.append(event)
                self.send_response(204)
                self.end_headers()

            def log_message(self, *_args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None
        if self.thread is not None:
            self.thread.join(5)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver(SECRET.encode())
    server.start()
    try:
        yield server
    finally:
        server.stop()


def secret_file(tmp_path: Path, secret: str) -> Path:
    path = tmp_path / "webhook-secret"
    path.write_text(secret + "\n")
    path.chmod(0o600)
    return path


def webhook_forwarder(tmp_path: Path, port: int, secret: str = SECRET, **extra: Any) -> Forwarder:
    settings = Settings.model_validate(
        {
            "kiosk_id": KIOSK,
            "webhook": {
                "url": f"http://127.0.0.1:{port}/kiosk-events",
                "secret_file": str(secret_file(tmp_path, secret)),
                "retry_min_s": 0.05,
                "retry_max_s": 0.2,
                **extra,
            },
        }
    )
    forwarder = open_integrations(settings, tmp_path / "data")
    forwarder.start()
    return forwarder


def sender_of(forwarder: Forwarder) -> WebhookSender:
    sender = forwarder.destinations[0]
    assert isinstance(sender, WebhookSender)
    return sender


def refused(outcome: AccessOutcome = AccessOutcome.OFFLINE) -> Any:
    return access_decision(kiosk_id=KIOSK, outcome=outcome, latency_ms=50.0)


def test_every_event_arrives_once_in_order_after_the_receiver_was_down(
    receiver: Receiver, tmp_path: Path
) -> None:
    forwarder = webhook_forwarder(tmp_path, receiver.port)
    sender = sender_of(forwarder)
    sent = [refused() for _ in range(25)]
    try:
        for decision in sent[:5]:
            forwarder.consume(decision)
        wait_until(lambda: len(receiver.accepted) == 5)
        receiver.stop()
        for decision in sent[5:]:
            forwarder.consume(decision)
        wait_until(lambda: sender.failures >= 3, timeout_s=10)  # it tried, and waits
        assert len(sender.outbox) == 20
        receiver.start()  # the same port
        wait_until(lambda: len(receiver.accepted) == 25, timeout_s=15)
        wait_until(lambda: len(sender.outbox) == 0)
    finally:
        forwarder.stop()
    assert [e["event_id"] for e in receiver.accepted] == [str(d.event_id) for d in sent]
    assert receiver.posts == 25, "each event POSTed once it could be taken, no repeats"
    assert {e["type"] for e in receiver.accepted} == {"access.offline"}
    assert all(e["kiosk_id"] == KIOSK for e in receiver.accepted)


def test_a_wrong_secret_is_rejected_by_the_receivers_check_and_the_event_waits(
    receiver: Receiver, tmp_path: Path
) -> None:
    forwarder = webhook_forwarder(tmp_path, receiver.port, secret="not-the-receivers-secret")
    sender = sender_of(forwarder)
    try:
        forwarder.consume(refused())
        wait_until(lambda: receiver.rejected >= 2)
        assert len(sender.outbox) == 1, "a 401 is retried: the secret may be being changed"
    finally:
        forwarder.stop()
    assert receiver.accepted == []
    assert sender.state.startswith("failing: HTTP 401")


def test_only_the_chosen_event_types_are_sent_and_no_one_is_named(
    receiver: Receiver, tmp_path: Path
) -> None:
    from core.records import Candidate

    forwarder = webhook_forwarder(tmp_path, receiver.port, events=["access.granted"])
    match = Candidate(person_id=__import__("uuid").uuid4(), display_name="Bo Chen", similarity=0.7)
    granted = access_decision(
        kiosk_id=KIOSK, outcome=AccessOutcome.GRANTED, latency_ms=80.0, match=match
    )
    try:
        forwarder.consume(refused(AccessOutcome.UNKNOWN))
        forwarder.consume(granted)
        wait_until(lambda: len(receiver.accepted) == 1)
    finally:
        forwarder.stop()
    (event,) = receiver.accepted
    assert event["type"] == "access.granted"
    assert "person" not in event, "webhook.person_details is off by default"
    assert "Bo Chen" not in json.dumps(event)


def test_the_kiosks_verify_refuses_a_changed_body_an_old_timestamp_and_another_secret() -> None:
    from integrations.webhooks import signature

    body, now = b'{"event_id":"x"}', 1_700_000_000
    signed = signature(b"k" * 16, str(now), body)
    assert verify(b"k" * 16, str(now), body, signed, now=now, max_age_s=MAX_AGE_S)
    assert not verify(b"k" * 16, str(now), body + b" ", signed, now=now, max_age_s=MAX_AGE_S)
    assert not verify(b"j" * 16, str(now), body, signed, now=now, max_age_s=MAX_AGE_S)
    assert not verify(b"k" * 16, str(now), body, signed, now=now + 301, max_age_s=MAX_AGE_S)


def test_a_secret_file_others_may_read_is_refused(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = secret_file(tmp_path, SECRET)
    path.chmod(0o644)
    settings = Settings.model_validate(
        {"webhook": {"url": "http://127.0.0.1:9/x", "secret_file": str(path)}}
    )
    with caplog.at_level(logging.ERROR, logger="integrations.setup"):
        forwarder = open_integrations(settings, tmp_path / "data")
    assert not forwarder.destinations  # never sent unsigned, nor signed with a read secret
    assert forwarder.health()["problems"] == ["webhook_not_started"]
    assert "chmod 600" in caplog.text
