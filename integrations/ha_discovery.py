"""Home Assistant MQTT discovery: the kiosk as one device with its door as a lock, the
door contact, its alarms and a hardware fault as binary sensors, decisions and alerts
as event entities, its health as a sensor, and (with commands on) lockdown as a switch.

Each config is retained at ``<discovery_prefix>/<component>/<node id>/<object id>/config``
and holds only keys Home Assistant documents for its component; the state topics'
values are published ready to compare (ON/OFF, LOCKED/UNLOCKED: integrations.events),
so every template is a plain ``{{ value_json.<key> }}``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from core.integration_settings import MqttSettings

AVAILABLE, NOT_AVAILABLE = "online", "offline"


@dataclass(frozen=True)
class Topics:
    """Where the kiosk publishes, under ``<topic_prefix>/<kiosk id>``."""

    base: str

    def __call__(self, relative: str) -> str:
        return f"{self.base}/{relative}"

    @property
    def availability(self) -> str:
        return self("availability")

    def command(self, user: str) -> str:
        return self(f"command/{user}")


ACCESS, DOOR_EVENT, DOOR_STATE, ALERT, HEALTH = (
    "access",
    "door/event",
    "door/state",
    "alert",
    "health",
)
COMMAND_RESULT = "command_result"
ACCESS_EVENT_TYPES = ["granted", "unknown", "no_face", "offline", "liveness_failed", "refused"]
ALERT_EVENT_TYPES = [
    "unknown_faces",
    "liveness_failures",
    "forced_open",
    "held_open",
    "database_offline",
    "audit_verify_failed",
    "duress",
]


def node_id(kiosk_id: str) -> str:
    """The kiosk id as a discovery topic level: [a-zA-Z0-9_-] only."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", kiosk_id)


def discovery_configs(
    settings: MqttSettings, kiosk_id: str, kiosk_name: str, version: str
) -> dict[str, dict[str, Any] | None]:
    """Config topic -> config; None for an entity to remove (an empty retained payload)."""
    topics = Topics(f"{settings.topic_prefix}/{kiosk_id}")
    node = node_id(kiosk_id)
    device = {
        "identifiers": [f"face-kiosk-{node}"],
        "name": kiosk_name or kiosk_id,
        "manufacturer": "face-kiosk",
        "model": "face-recognition door kiosk",
        "sw_version": version,
    }

    def entity(object_id: str, name: str, **keys: Any) -> dict[str, Any]:
        return {
            "name": name,
            "unique_id": f"face-kiosk-{node}-{object_id}",
            "device": device,
            "availability_topic": topics.availability,
            "payload_available": AVAILABLE,
            "payload_not_available": NOT_AVAILABLE,
            "qos": 1,
            **keys,
        }

    def state_sensor(object_id: str, name: str, key: str, device_class: str) -> dict[str, Any]:
        return entity(
            object_id,
            name,
            state_topic=topics(DOOR_STATE),
            value_template=f"{{{{ value_json.{key} }}}}",
            payload_on="ON",
            payload_off="OFF",
            device_class=device_class,
        )

    commands = topics.command(settings.home_assistant_user)
    lockdown = entity(
        "lockdown",
        "Lockdown",
        command_topic=commands,
        payload_on="LOCKDOWN",
        payload_off="RELEASE",
        state_topic=topics(DOOR_STATE),
        value_template="{{ value_json.lockdown }}",
        state_on="ON",
        state_off="OFF",
        icon="mdi:lock-alert",
    )
    configs: dict[str, dict[str, Any] | None] = {
        # The lock's command topic is required by Home Assistant; with commands off the
        # kiosk does not subscribe to it, and the lock shows its state only. LOCK is
        # answered (command_result) with why not: the door relocks by itself.
        "lock/door": entity(
            "door",
            "Door",
            command_topic=commands,
            payload_lock="LOCK",
            payload_unlock="UNLOCK",
            state_topic=topics(DOOR_STATE),
            value_template="{{ value_json.lock }}",
            state_locked="LOCKED",
            state_unlocked="UNLOCKED",
            optimistic=False,
        ),
        "binary_sensor/contact": state_sensor("contact", "Door contact", "contact", "door"),
        "binary_sensor/forced_open": state_sensor(
            "forced_open", "Door forced open", "forced_open", "safety"
        ),
        "binary_sensor/held_open": state_sensor(
            "held_open", "Door held open", "held_open", "problem"
        ),
        "binary_sensor/door_fault": state_sensor("door_fault", "Door fault", "fault", "problem"),
        "event/access": entity(
            "access",
            "Access",
            state_topic=topics(ACCESS),
            event_types=ACCESS_EVENT_TYPES,
            icon="mdi:face-recognition",
        ),
        "event/alert": entity(
            "alert",
            "Alert",
            state_topic=topics(ALERT),
            event_types=ALERT_EVENT_TYPES,
            icon="mdi:alert",
        ),
        "sensor/health": entity(
            "health",
            "Health",
            state_topic=topics(HEALTH),
            value_template="{{ value_json.status }}",
            json_attributes_topic=topics(HEALTH),
            entity_category="diagnostic",
            icon="mdi:heart-pulse",
        ),
        "switch/lockdown": lockdown if settings.commands else None,
    }
    return {
        f"{settings.discovery_prefix}/{component}/{node}/{object_id}/config": config
        for component_object, config in configs.items()
        for component, object_id in [component_object.split("/")]
    }
