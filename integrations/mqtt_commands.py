"""Door commands from the MQTT command topic (``[mqtt] commands``, off by default):
unlock, lockdown and release, through the same path and authority as ``kiosk-admin door``.

Who sent a command is the topic's last level, ``<prefix>/<kiosk>/command/<broker user>``.
That is only a claim unless the broker lets each user write its own command topic
alone (Mosquitto: ``pattern write <prefix>/+/command/%u``); the kiosk checks this
at every connection by trying to publish as a user that cannot exist
(integrations.mqtt), and takes no command while the broker lets it.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from core.access.door_commands import DoorCommandKind, DoorCommandService
from core.door_io_settings import DoorIoSettings
from core.errors import KioskError
from core.integration_settings import MqttSettings
from core.log_records import KioskAuditEvent
from core.records import Operator

log = logging.getLogger(__name__)

REFUSED_ACTION = "kiosk.mqtt_command_refused"
# The longest command payload read: a JSON object with a command, seconds and a reason.
_MAX_PAYLOAD = 1024
# Commands waiting for the database; more are refused (a flood is not queued up).
_QUEUE = 16
# Home Assistant's lock and switch send these plain payloads (integrations.ha_discovery).
PLAIN_PAYLOADS = {
    "UNLOCK": DoorCommandKind.UNLOCK,
    "LOCKDOWN": DoorCommandKind.LOCKDOWN,
    "RELEASE": DoorCommandKind.RELEASE,
}
LOCK_PAYLOAD = "LOCK"


class OperatorLookup(Protocol):
    def find_operator(self, username: str) -> Operator | None: ...


@dataclass(frozen=True)
class CommandResult:
    user: str
    command: str
    accepted: bool
    text: str
    command_id: int | None = None


class DoorCommandTaker:
    """Exists so that a command's database round trip never holds the MQTT network
    thread: ``offer`` queues (at most a few; more are refused), a thread of its own
    carries each out and hands the result to ``reply``.

    A command is taken only from a broker user in ``command_users``, and is requested
    as ``command_operator`` through DoorCommandService: that account's permission to
    control doors is checked against its row in the same transaction that stores the
    command and its audit event (``door.command``, with ``via`` "mqtt:<user>"); the
    kiosk's DoorCommandPoller then carries it out on the door controller. A command
    refused before the database (an unknown user, a malformed payload) is audited as
    ``kiosk.mqtt_command_refused`` with the broker user and why.
    """

    def __init__(
        self,
        *,
        service: DoorCommandService,
        operators: OperatorLookup,
        settings: MqttSettings,
        door: DoorIoSettings,
        kiosk_id: str,
        record_audit: Callable[[KioskAuditEvent], None],
        reply: Callable[[CommandResult], None],
    ) -> None:
        self._service = service
        self._operators = operators
        self._settings = settings
        self._door = door
        self._kiosk_id = kiosk_id
        self._record_audit = record_audit
        self._reply = reply
        self._queue: queue.Queue[tuple[str, bytes] | None] = queue.Queue(_QUEUE)
        self._thread = threading.Thread(target=self._run, name="mqtt-commands", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout_s: float) -> None:
        if not self._thread.is_alive():
            return
        try:
            self._queue.put(None, timeout=timeout_s)
        except queue.Full:
            return
        self._thread.join(timeout_s)

    def offer(self, user: str, payload: bytes) -> None:
        """From the MQTT thread: returns at once."""
        try:
            self._queue.put_nowait((user, payload[: _MAX_PAYLOAD + 1]))
        except queue.Full:
            log.warning("MQTT command from %s refused: %d already wait", user, _QUEUE)

    def _run(self) -> None:
        while (item := self._queue.get()) is not None:
            user, payload = item
            try:
                result = self.take(user, payload)
            except Exception:  # a bug here must not end the command thread
                log.exception("MQTT command from %s failed", user)
                result = CommandResult(user, "?", False, "the kiosk failed; see its log")
            self._reply(result)

    def take(self, user: str, payload: bytes) -> CommandResult:
        """Carry out one command; the result says what became of it."""
        if user not in self._settings.command_users:
            return self._refused(user, "?", f"broker user {user!r} is not in mqtt.command_users")
        try:
            kind, seconds, reason = self._parse(payload)
        except ValueError as error:
            return self._refused(user, "?", str(error))
        operator = self._operators.find_operator(self._settings.command_operator)
        if operator is None:
            return self._refused(
                user,
                kind.value,
                f"no operator account {self._settings.command_operator!r} "
                "(mqtt.command_operator); create it with kiosk-admin operators add",
            )
        try:
            command_id = self._service.request(
                operator,
                kiosk_id=self._kiosk_id,
                kind=kind,
                reason=reason or f"MQTT user {user}",
                seconds=seconds,
                via=f"mqtt:{user}",
            )
        except KioskError as error:  # refused (the permission, a value) or unreachable
            log.warning("MQTT command %s from %s refused: %s", kind.value, user, error)
            return CommandResult(user, kind.value, False, str(error))
        log.info("MQTT command %s from %s stored as command %d", kind.value, user, command_id)
        return CommandResult(user, kind.value, True, "sent to the door", command_id)

    def _parse(self, payload: bytes) -> tuple[DoorCommandKind, float | None, str]:
        """(kind, seconds for an unlock, reason); ValueError saying what is wrong."""
        if len(payload) > _MAX_PAYLOAD:
            raise ValueError(f"a command is at most {_MAX_PAYLOAD} bytes")
        try:
            text = payload.decode("utf-8").strip()
        except UnicodeDecodeError as error:
            raise ValueError("a command is UTF-8 text") from error
        if text == LOCK_PAYLOAD:
            raise ValueError(
                "the door locks by itself after each unlock; send LOCKDOWN to keep it locked"
            )
        if text in PLAIN_PAYLOADS:
            kind = PLAIN_PAYLOADS[text]
            return kind, self._door.unlock_s if kind is DoorCommandKind.UNLOCK else None, ""
        try:
            body = json.loads(text)
        except ValueError as error:
            raise ValueError(
                'a command is UNLOCK, LOCKDOWN, RELEASE or JSON {"command": ...}'
            ) from error
        if not isinstance(body, dict):
            raise ValueError('a JSON command is an object: {"command": "unlock", ...}')
        try:
            kind = DoorCommandKind(str(body.get("command")))
        except ValueError as error:
            raise ValueError("command is one of unlock, lockdown, release") from error
        seconds = body.get("seconds", self._door.unlock_s)
        if kind is DoorCommandKind.UNLOCK and (
            isinstance(seconds, bool) or not isinstance(seconds, int | float)
        ):
            raise ValueError("seconds is a number")
        reason = body.get("reason", "")
        if not isinstance(reason, str):
            raise ValueError("reason is text")
        return kind, float(seconds) if kind is DoorCommandKind.UNLOCK else None, reason

    def _refused(self, user: str, command: str, why: str) -> CommandResult:
        log.warning("MQTT command from %s refused: %s", user, why)
        try:
            self._record_audit(
                KioskAuditEvent(
                    self._kiosk_id,
                    REFUSED_ACTION,
                    {"broker_user": user[:64], "command": command, "why": why[:300]},
                )
            )
        except KioskError as error:
            log.error("a refused MQTT command was not audited: %s", error)
        return CommandResult(user, command, False, why)
