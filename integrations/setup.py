"""Putting the integrations together from the settings: the outboxes in the data folder,
the secrets from their files, the MQTT link and the webhook sender, the forwarder."""

from __future__ import annotations

import importlib.metadata
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from core.access.door_commands import DoorCommandService
from core.access.door_status import DoorStatus
from core.errors import ConfigurationError
from core.log_records import KioskAuditEvent
from core.settings import Settings
from integrations.events import Alert
from integrations.forwarder import Destination, Forwarder
from integrations.mqtt import MqttLink
from integrations.mqtt_commands import CommandResult, DoorCommandTaker, OperatorLookup
from integrations.outbox import Outbox
from integrations.secret_files import read_secret
from integrations.webhooks import WebhookSender

OUTBOX_FOLDER = "outbox"
# The longest outbox line: an event is a few hundred bytes; the reason of a refusal
# and a display name included, it stays far below this.
MAX_LINE_BYTES = 64 * 1024
# The shortest webhook secret: 128 bits.
MIN_SECRET_BYTES = 16

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DoorCommandAccess:
    """What MQTT commands need from the kiosk: the door command service over the
    database, and the operator accounts to find ``mqtt.command_operator`` in."""

    service: DoorCommandService
    operators: OperatorLookup
    record_audit: Callable[[KioskAuditEvent], None]


def open_integrations(
    settings: Settings,
    data_dir: Path,
    *,
    door_status: Callable[[], DoorStatus | None] = lambda: None,
    database_offline: Callable[[], bool] = lambda: False,
    newest_verify_failure: Callable[[], int] | None = None,
    alerts_shown: Callable[[list[Alert]], None] = lambda _alerts: None,
    door_commands: DoorCommandAccess | None = None,
) -> Forwarder:
    """The forwarder with a destination for each integration turned on (none: it still
    watches for alerts, for the operator's screen). Not started. An integration whose
    secret file is missing or open to others, or whose outbox another process holds,
    is left out with the reason logged and named in the health report
    (``<name>_not_started``); the others and the alerts go on without it."""
    folder = data_dir / OUTBOX_FOLDER
    destinations: list[Destination] = []
    not_started: list[str] = []
    mqtt = settings.mqtt
    if mqtt.enabled:
        try:
            destinations.append(_mqtt_link(settings, folder, data_dir, door_commands))
        except ConfigurationError as error:
            log.error("MQTT not started: %s", error)
            not_started.append("mqtt")
    webhook = settings.webhook
    if webhook.enabled:
        try:
            destinations.append(_webhook_sender(settings, folder, data_dir))
        except ConfigurationError as error:
            log.error("webhooks not started: %s", error)
            not_started.append("webhook")
    return Forwarder(
        kiosk_id=settings.kiosk_id,
        door_name=settings.kiosk_name or settings.kiosk_id,
        destinations=destinations,
        alerts=settings.alerts,
        queue_size=settings.door.decision_queue,
        health_interval_s=mqtt.health_interval_s,
        door_status=door_status,
        database_offline=database_offline,
        newest_verify_failure=newest_verify_failure,
        alerts_shown=alerts_shown,
        not_started=tuple(not_started),
    )


def _mqtt_link(
    settings: Settings, folder: Path, data_dir: Path, door_commands: DoorCommandAccess | None
) -> MqttLink:
    mqtt = settings.mqtt
    password = (
        read_secret(mqtt.password_file, "mqtt.password_file", data_dir)
        if mqtt.password_file is not None
        else None
    )

    def taker(reply: Callable[[CommandResult], None]) -> DoorCommandTaker:
        assert door_commands is not None
        return DoorCommandTaker(
            service=door_commands.service,
            operators=door_commands.operators,
            settings=mqtt,
            door=settings.door_io,
            kiosk_id=settings.kiosk_id,
            record_audit=door_commands.record_audit,
            reply=reply,
        )

    return MqttLink(
        mqtt,
        kiosk_id=settings.kiosk_id,
        kiosk_name=settings.kiosk_name,
        version=importlib.metadata.version("face-kiosk"),
        outbox=Outbox(folder / "mqtt.jsonl", mqtt.outbox_max_messages, MAX_LINE_BYTES),
        password=password,
        commands=taker if door_commands is not None else None,
    )


def _webhook_sender(settings: Settings, folder: Path, data_dir: Path) -> WebhookSender:
    webhook = settings.webhook
    assert webhook.secret_file is not None  # WebhookSettings says so
    secret = read_secret(webhook.secret_file, "webhook.secret_file", data_dir, MIN_SECRET_BYTES)
    return WebhookSender(
        webhook,
        outbox=Outbox(folder / "webhook.jsonl", webhook.outbox_max_messages, MAX_LINE_BYTES),
        secret=secret.encode(),
    )
