"""The ``[mqtt]``, ``[webhook]`` and ``[alerts]`` sections: what the kiosk tells the systems
a site already runs (docs/integrations.md). Apart from core.settings only to keep that
module short; they are its sections.
"""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import Field, field_validator, model_validator

from core.settings_base import Section as _Section

# A topic prefix: MQTT levels of letters, digits, '.', '_' and '-' (no wildcards, no '$').
_TOPIC_PATTERN = r"^[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*$"
# A broker user name as it stands in a command topic: one topic level, no wildcards.
_BROKER_USER = re.compile(r"^[A-Za-z0-9._@-]{1,64}$")

EVENT_GROUPS = ("access", "door", "alert", "kiosk")
"""The first part of every event type ("access.granted", "door.alarm", "alert.held_open",
"kiosk.health"); a webhook's ``events`` names types or whole groups ("door.*")."""


class MqttSettings(_Section):
    """Publishing decisions, door events and alerts to an MQTT broker (paho-mqtt)."""

    host: str = Field(
        "",
        max_length=253,
        description="The broker's host name or address; empty turns MQTT off.",
    )
    port: int = Field(1883, ge=1, le=65535, description="The broker's port (8883 for TLS).")
    topic_prefix: str = Field(
        "face-kiosk",
        min_length=1,
        max_length=100,
        pattern=_TOPIC_PATTERN,
        description="Topics are <topic_prefix>/<kiosk id>/...",
    )
    discovery: bool = Field(
        True, description="Publish Home Assistant MQTT discovery configs (retained)."
    )
    discovery_prefix: str = Field(
        "homeassistant",
        min_length=1,
        max_length=100,
        pattern=_TOPIC_PATTERN,
        description="Home Assistant's discovery prefix.",
    )
    username: str = Field("", max_length=128, description="The kiosk's broker user; empty: none.")
    password_file: Path | None = Field(
        None,
        description="An owner-only file (0600) holding the broker password on its first line.",
    )
    tls: bool = Field(
        False, description="Connect over TLS, checking the broker against the system's CAs."
    )
    tls_ca_file: Path | None = Field(
        None, description="CA certificate (PEM) the broker's is checked against; sets TLS on."
    )
    commands: bool = Field(
        False,
        description="Take unlock, lockdown and release from the command topic "
        "<topic_prefix>/<kiosk id>/command/<broker user>; off, the kiosk subscribes to nothing.",
    )
    command_users: tuple[str, ...] = Field(
        (),
        max_length=32,
        description="Broker users whose commands are taken; the broker's ACL must let each "
        "write only its own command topic (docs/integrations.md).",
    )
    command_operator: str = Field(
        "",
        max_length=64,
        description="The operator account MQTT commands are requested as; its permission "
        "to control doors is checked in the database for each, as for kiosk-admin door.",
    )
    home_assistant_user: str = Field(
        "homeassistant",
        max_length=64,
        description="The broker user Home Assistant connects as: the command topic its "
        "discovered lock and lockdown switch publish to.",
    )
    person_details: bool = Field(
        False,
        description="Grants carry the person's id and display name; off, no one is named.",
    )
    keepalive_s: int = Field(30, ge=5, le=3600, description="MQTT keep-alive interval.")
    reconnect_min_s: int = Field(1, ge=1, le=60, description="First wait before a reconnect.")
    reconnect_max_s: int = Field(
        60, ge=1, le=3600, description="Longest wait between reconnects (it doubles)."
    )
    max_inflight: int = Field(
        20, ge=1, le=1000, description="Messages sent before their acknowledgements."
    )
    health_interval_s: float = Field(
        60.0, ge=5, le=3600, description="The health sensor is published at least this often."
    )
    outbox_max_messages: int = Field(
        10_000,
        ge=10,
        le=1_000_000,
        description="Messages kept for the broker while it is unreachable; past it the "
        "newest are refused and counted.",
    )

    @field_validator("command_users")
    @classmethod
    def _users_are_topic_levels(cls, users: tuple[str, ...]) -> tuple[str, ...]:
        for user in users:
            if not _BROKER_USER.fullmatch(user):
                raise ValueError(
                    f"{user[:40]!r} is not a broker user name: 1 to 64 letters, digits, "
                    "'.', '_', '@' or '-'"
                )
        return users

    @model_validator(mode="after")
    def _commands_have_an_operator(self) -> MqttSettings:
        if self.commands and not (self.command_users and self.command_operator):
            raise ValueError(
                "commands = true needs command_users (the broker users allowed) and "
                "command_operator (the operator account they act as)"
            )
        if self.commands and not self.username:
            raise ValueError(
                "commands = true needs username: a broker that lets anyone in cannot say "
                "who sent a command"
            )
        if self.reconnect_max_s < self.reconnect_min_s:
            raise ValueError("reconnect_max_s must be at least reconnect_min_s")
        return self

    @property
    def enabled(self) -> bool:
        return bool(self.host)


class WebhookSettings(_Section):
    """Signed HTTP POSTs of chosen events to one receiver (HMAC-SHA256)."""

    url: str = Field(
        "",
        max_length=2000,
        description="The receiver's http:// or https:// URL; empty turns webhooks off.",
    )
    secret_file: Path | None = Field(
        None,
        description="An owner-only file (0600) holding the signing secret (16 bytes or more).",
    )
    events: tuple[str, ...] = Field(
        ("access.*", "door.*", "alert.*"),
        min_length=1,
        max_length=64,
        description='Event types sent: names ("access.granted") or groups ("door.*").',
    )
    person_details: bool = Field(
        False,
        description="Grants carry the person's id and display name; off, no one is named.",
    )
    timeout_s: float = Field(10.0, gt=0, le=120, description="One POST's time-out.")
    retry_min_s: float = Field(1.0, gt=0, le=600, description="First wait after a failed POST.")
    retry_max_s: float = Field(
        300.0, gt=0, le=86400, description="Longest wait between tries (it doubles)."
    )
    outbox_max_messages: int = Field(
        10_000,
        ge=10,
        le=1_000_000,
        description="Events kept for the receiver while it is unreachable; past it the "
        "newest are refused and counted.",
    )

    @field_validator("url")
    @classmethod
    def _http_url(cls, url: str) -> str:
        if url and not re.fullmatch(r"https?://[^\s/?#]+[^\s]*", url):
            raise ValueError("give an http:// or https:// URL")
        return url

    @field_validator("events")
    @classmethod
    def _known_types(cls, events: tuple[str, ...]) -> tuple[str, ...]:
        for name in events:
            group, _, rest = name.partition(".")
            if group not in EVENT_GROUPS or not re.fullmatch(r"\*|[a-z_]{1,40}", rest):
                raise ValueError(
                    f"{name[:40]!r} is not an event type: "
                    + ", ".join(f"{g}.*" for g in EVENT_GROUPS)
                    + ' or one type, e.g. "access.granted"'
                )
        return events

    @model_validator(mode="after")
    def _secret_for_url(self) -> WebhookSettings:
        if self.url and self.secret_file is None:
            raise ValueError("url needs secret_file: every POST is signed")
        if self.retry_max_s < self.retry_min_s:
            raise ValueError("retry_max_s must be at least retry_min_s")
        return self

    @property
    def enabled(self) -> bool:
        return bool(self.url)


class AlertSettings(_Section):
    """When the kiosk raises an alert (MQTT, webhooks, the operator's screen)."""

    unknown_faces: int = Field(
        5, ge=0, le=1000, description="Unknown faces at the door within window_min; 0: off."
    )
    liveness_failures: int = Field(
        3, ge=0, le=1000, description="Failed liveness checks within window_min; 0: off."
    )
    window_min: float = Field(
        5.0, gt=0, le=1440, description="The window (minutes) those are counted over."
    )
    door_alarms: bool = Field(True, description="Forced and held-open doors raise alerts.")
    database_offline_s: float = Field(
        300.0,
        ge=0,
        le=86400,
        description="The database unreachable this long raises an alert; 0: off.",
    )
    audit_verify: bool = Field(
        True, description="An audit verify that finds the logs tampered with raises an alert."
    )
    check_interval_s: float = Field(
        30.0,
        ge=1,
        le=3600,
        description="How often the database's state and new failed verifies are looked at.",
    )
