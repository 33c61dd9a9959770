"""The kiosk's link to an MQTT broker (paho-mqtt, MQTT 5): its events out of the outbox
in order at QoS 1, a retained availability topic kept by a last will, Home Assistant
discovery, and (when on) door commands in."""

from __future__ import annotations

import contextlib
import json
import logging
import threading
from collections.abc import Callable
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from core.integration_settings import MqttSettings
from integrations.events import OutboundEvent
from integrations.ha_discovery import (
    ACCESS,
    ALERT,
    AVAILABLE,
    COMMAND_RESULT,
    DOOR_EVENT,
    DOOR_STATE,
    HEALTH,
    NOT_AVAILABLE,
    Topics,
    discovery_configs,
)
from integrations.mqtt_commands import CommandResult, DoorCommandTaker
from integrations.outbox import Outbox, OutboxLine

log = logging.getLogger(__name__)

# A command topic level no broker user can have (mqtt.command_users forbids '~'): the
# kiosk publishes there once per connection, and a broker that accepts it would accept
# a command claimed in anyone's name.
PROBE_USER = "~probe"
_GROUP_TOPICS = {"access": ACCESS, "door": DOOR_EVENT, "alert": ALERT}
_STOP_S = 5.0


class MqttLink:
    """Exists so that a broker that is down or slow never loses an event nor holds
    the door: events wait in the outbox (fsynced) and a thread of its own sends them,
    oldest first, ``max_inflight`` at a time; a batch leaves the outbox only once the
    broker acknowledged all of it (QoS 1), and paho sends again what a dropped
    connection left unacknowledged, so nothing is lost and the order holds. A message
    the broker refuses (not authorised) is set aside with the reason.

    paho's own thread keeps the connection and reconnects with growing waits; the
    availability topic is "online" (retained) while connected, and the broker
    publishes the last will "offline" when the kiosk vanishes.
    """

    name = "mqtt"

    def __init__(
        self,
        settings: MqttSettings,
        *,
        kiosk_id: str,
        kiosk_name: str,
        version: str,
        outbox: Outbox,
        password: str | None,
        commands: Callable[[Callable[[CommandResult], None]], DoorCommandTaker] | None = None,
    ) -> None:
        """``commands`` makes the command taker, given where it replies; used only with
        ``settings.commands`` on."""
        self.settings = settings
        self.outbox = outbox
        self.topics = Topics(f"{settings.topic_prefix}/{kiosk_id}")
        self._kiosk_id = kiosk_id
        self._kiosk_name = kiosk_name
        self._version = version
        self._commands = (
            commands(self.reply) if commands is not None and settings.commands else None
        )
        self._connected = threading.Event()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._acks: dict[int, ReasonCode] = {}
        """Refusals (a failure reason code) by message id, until their batch is settled."""
        self._acks_lock = threading.Lock()
        self._probe_mid: int | None = None
        self.state = "not connected yet"
        """The link in a few words, for the health sensor and the log."""
        self.commands_state = "off" if self._commands is None else "checking the broker"
        """"off", "checking the broker", "on" or "refused: ..." (the broker's ACL)."""
        self._client = self._new_client(password)
        self._sender = threading.Thread(target=self._send_forever, name="mqtt-send", daemon=True)

    # --- what the forwarder calls ----------------------------------------------------------

    def accepts(self, event: OutboundEvent) -> bool:
        return event.group in _GROUP_TOPICS or event.type == "kiosk.health"

    def records(self, event: OutboundEvent) -> list[dict[str, Any]]:
        """The outbox lines for ``event``: its topic, whether retained, the payload."""
        body = event.body(with_person=self.settings.person_details)
        event_id = str(event.event_id)
        if event.type == "kiosk.health":
            lines = [{"event_id": event_id, "topic": HEALTH, "retain": True, "payload": body}]
            if "door_state" in event.data:  # Home Assistant's lock has a state from the start
                state = {"kiosk_id": self._kiosk_id, **event.data["door_state"]}
                lines.append(
                    {"event_id": event_id, "topic": DOOR_STATE, "retain": True, "payload": state}
                )
            return lines
        lines = [
            {
                "event_id": event_id,
                "topic": _GROUP_TOPICS[event.group],
                "retain": False,
                "payload": body,
            }
        ]
        if event.group == "door" and "state" in event.data:
            lines.append(
                {
                    "event_id": event_id,
                    "topic": DOOR_STATE,
                    "retain": True,
                    "payload": {"kiosk_id": self._kiosk_id, **event.data["state"]},
                }
            )
        return lines

    def wake(self) -> None:
        self._wake.set()

    def start(self) -> None:
        s = self.settings
        if self._commands is not None:
            self._commands.start()
        self._client.connect_async(s.host, s.port, keepalive=s.keepalive_s, clean_start=True)
        self._client.loop_start()
        self._sender.start()

    def stop(self, timeout_s: float = _STOP_S) -> None:
        """Say "offline" (retained), disconnect, stop the threads; what was not
        acknowledged stays in the outbox for the next start."""
        self._stopping.set()
        self._wake.set()
        self._connected.set()  # the sender wakes and sees it is stopping
        if self._sender.is_alive():
            self._sender.join(timeout_s)
        if self._commands is not None:
            self._commands.stop(timeout_s)
        if self._client.is_connected():
            info = self._client.publish(self.topics.availability, NOT_AVAILABLE, qos=1, retain=True)
            # The connection may go first: the broker sends the last will instead.
            with contextlib.suppress(RuntimeError, ValueError):
                info.wait_for_publish(timeout_s)
        self._client.disconnect()
        self._client.loop_stop()
        self.outbox.close()

    @property
    def connected(self) -> bool:
        return self._client.is_connected()

    # --- paho's thread ---------------------------------------------------------------------

    def _new_client(self, password: str | None) -> paho.Client:
        s = self.settings
        client = paho.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"face-kiosk-{self._kiosk_id}",
            protocol=paho.MQTTv5,
        )
        if s.username:
            client.username_pw_set(s.username, password)
        if s.tls or s.tls_ca_file is not None:
            client.tls_set(ca_certs=str(s.tls_ca_file) if s.tls_ca_file else None)
        client.will_set(self.topics.availability, NOT_AVAILABLE, qos=1, retain=True)
        client.reconnect_delay_set(s.reconnect_min_s, s.reconnect_max_s)
        client.max_inflight_messages_set(s.max_inflight)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_publish = self._on_publish
        client.on_message = self._on_message
        client.on_subscribe = self._on_subscribe
        return client

    def _on_connect(
        self,
        client: paho.Client,
        _userdata: object,
        _flags: object,
        reason: ReasonCode,
        _properties: Properties | None,
    ) -> None:
        if reason.is_failure:
            self._report(f"refused by the broker: {reason}; check mqtt.username and password")
            return
        self._report("connected")
        client.publish(self.topics.availability, AVAILABLE, qos=1, retain=True)
        if self.settings.discovery:
            configs = discovery_configs(
                self.settings, self._kiosk_id, self._kiosk_name, self._version
            )
            for topic, config in configs.items():
                payload = "" if config is None else json.dumps(config)
                client.publish(topic, payload, qos=1, retain=True)
        if self._commands is not None:
            # A new session each time (clean start): checked and subscribed again.
            self.commands_state = "checking the broker"
            info = client.publish(self.topics.command(PROBE_USER), "", qos=1)
            self._probe_mid = info.mid
        self._connected.set()
        self._wake.set()

    def _on_disconnect(
        self,
        _client: paho.Client,
        _userdata: object,
        _flags: object,
        reason: ReasonCode,
        _properties: Properties | None,
    ) -> None:
        self._connected.clear()
        if not self._stopping.is_set():
            self._report(f"disconnected ({reason}); reconnecting")

    def _on_publish(
        self,
        client: paho.Client,
        _userdata: object,
        mid: int,
        reason: ReasonCode,
        _properties: Properties | None,
    ) -> None:
        if mid == self._probe_mid:
            self._probe_mid = None
            self._probe_answered(client, reason)
            return
        if reason.is_failure:
            with self._acks_lock:
                self._acks[mid] = reason

    def _probe_answered(self, client: paho.Client, reason: ReasonCode) -> None:
        if not reason.is_failure:
            self.commands_state = "refused: the broker lets anyone claim another user"
            log.error(
                "MQTT commands are off: the broker let this kiosk publish on another user's "
                "command topic, so it would let anyone send a command in another's name; "
                "add the ACL pattern in docs/integrations.md and reconnect"
            )
            return
        client.subscribe(self.topics("command/+"), qos=1)

    def _on_subscribe(
        self,
        _client: paho.Client,
        _userdata: object,
        _mid: int,
        reasons: list[ReasonCode],
        _properties: Properties | None,
    ) -> None:
        if any(reason.is_failure for reason in reasons):
            self.commands_state = "refused: the broker did not let the kiosk subscribe"
            log.error("MQTT commands are off: the broker refused the command topic: %s", reasons)
        else:
            self.commands_state = "on"

    def _on_message(self, _client: paho.Client, _userdata: object, message: Any) -> None:
        commands = self._commands
        if commands is None or self.commands_state != "on":
            return
        prefix = self.topics("command/")
        if message.retain or not message.topic.startswith(prefix):
            # A retained command would be carried out at every connection: never taken.
            return
        user = message.topic[len(prefix) :]
        if user == PROBE_USER:
            return
        commands.offer(user, bytes(message.payload))

    def reply(self, result: CommandResult) -> None:
        """A command's result on ``command_result`` (not kept while disconnected)."""
        payload = {
            "kiosk_id": self._kiosk_id,
            "user": result.user,
            "command": result.command,
            "accepted": result.accepted,
            "text": result.text,
            "command_id": result.command_id,
        }
        self._client.publish(self.topics(COMMAND_RESULT), json.dumps(payload), qos=1)

    def _report(self, state: str) -> None:
        if state != self.state:
            (log.info if state == "connected" else log.warning)("MQTT broker %s", state)
        self.state = state

    # --- the sender thread -----------------------------------------------------------------

    def _send_forever(self) -> None:
        while not self._stopping.is_set():
            self._connected.wait()
            if self._stopping.is_set():
                return
            batch = self.outbox.oldest(self.settings.max_inflight)
            if not batch:
                self._wake.wait(1.0)
                self._wake.clear()
                continue
            self._send(batch)

    def _send(self, batch: list[OutboxLine]) -> None:
        sent: list[tuple[OutboxLine, Any]] = []
        with self._acks_lock:
            # Refusals noted so far were of messages outside the outbox (discovery, a
            # command's result): the previous batch was settled.
            self._acks.clear()
        for line in batch:
            record = line.record
            topic = record.get("topic")
            if not isinstance(topic, str) or "payload" not in record:
                self.outbox.set_aside(line, "not an MQTT message: no topic or payload")
                return  # the next batch starts after it
            info = self._client.publish(
                self.topics(topic),
                json.dumps(record["payload"], separators=(",", ":")),
                qos=1,
                retain=bool(record.get("retain")),
            )
            sent.append((line, info))
        # paho sends again, after a reconnect, whatever is not acknowledged yet.
        for _, info in sent:
            while not info.is_published():
                if self._stopping.is_set():
                    return
                try:
                    info.wait_for_publish(0.5)
                except (RuntimeError, ValueError) as error:
                    log.warning("MQTT publish failed, sent again later: %s", error)
                    return
        self._settle(sent)

    def _settle(self, sent: list[tuple[OutboxLine, Any]]) -> None:
        """Forget what the broker took, in order; set aside what it refused."""
        taken: list[OutboxLine] = []
        for line, info in sent:
            with self._acks_lock:
                reason = self._acks.pop(info.mid, None)
            if reason is not None:
                self.outbox.done(taken)
                taken = []
                self.outbox.set_aside(line, f"refused by the broker: {reason}")
            else:
                taken.append(line)
        self.outbox.done(taken)
