"""MQTT on a real Mosquitto broker started by each test on a free loopback port:
Home Assistant's discovery configs appear and hold what its documentation requires,
a grant arrives with the kiosk id, a broker stopped for a while loses nothing and
keeps the order, and the command topic is ignored unless turned on (and then taken
only from allowed users, through the database like kiosk-admin door)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select

from core.access.door_commands import DoorCommandKind
from core.access.door_control import DoorControl
from core.access.door_status import DoorStatus
from core.accounts.operators import Authenticator
from core.door_io_settings import DoorIoSettings
from core.records import AccessOutcome, Candidate, access_decision
from core.settings import SecuritySettings, Settings
from integrations.forwarder import Forwarder
from integrations.mqtt import MqttLink
from integrations.setup import DoorCommandAccess, open_integrations
from storage import schema
from storage.door_commands import SqlDoorCommands
from storage.operator_store import SqlOperatorStore
from tests.door_events_recorder import wait_until
from tests.mosquitto_broker import Broker, Listener, Received, listen
from tests.operator_window import ADMIN_PASSWORD

KIOSK = "door-north"
PREFIX = f"face-kiosk/{KIOSK}"

# From Home Assistant's MQTT integration documentation (home-assistant.io,
# source/_integrations/<component>.mqtt.markdown): the keys each component requires,
# and the keys it documents at all. A config with a key outside these is refused by HA.
_COMMON = {
    "availability", "availability_mode", "availability_template", "availability_topic",
    "device", "enabled_by_default", "encoding", "entity_category", "icon",
    "json_attributes_template", "json_attributes_topic", "name", "object_id",
    "payload_available", "payload_not_available", "qos", "unique_id",
}  # fmt: skip
HA_SCHEMA: dict[str, tuple[set[str], set[str]]] = {
    "lock": (
        {"command_topic"},
        _COMMON | {"command_topic", "optimistic", "payload_lock", "payload_unlock",
                   "payload_open", "retain", "state_locked", "state_unlocked", "state_topic",
                   "value_template"},
    ),
    "binary_sensor": (
        {"state_topic"},
        _COMMON | {"device_class", "expire_after", "force_update", "off_delay", "payload_off",
                   "payload_on", "state_topic", "value_template"},
    ),
    "event": (
        {"state_topic", "event_types"},
        _COMMON | {"device_class", "event_types", "state_topic", "value_template"},
    ),
    "sensor": (
        {"state_topic"},
        _COMMON | {"device_class", "expire_after", "force_update", "state_class", "state_topic",
                   "unit_of_measurement", "value_template", "suggested_display_precision"},
    ),
    "switch": (
        {"command_topic"},
        _COMMON | {"command_topic", "device_class", "optimistic", "payload_off", "payload_on",
                   "retain", "state_off", "state_on", "state_topic", "value_template"},
    ),
}  # fmt: skip
_DISCOVERY_TOPIC = re.compile(
    r"^homeassistant/(?P<component>[a-z_]+)/[A-Za-z0-9_-]+/[A-Za-z0-9_-]+/config$"
)
_TEMPLATE = re.compile(r"^\{\{ value_json\.(?P<key>[a-z_]+) \}\}$")


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    server = Broker(tmp_path / "broker")
    server.start()
    try:
        yield server
    finally:
        server.stop()


def mqtt_settings(broker: Broker, **mqtt: Any) -> Settings:
    values = {"host": "127.0.0.1", "port": broker.port, "reconnect_max_s": 1, **mqtt}
    return Settings.model_validate(
        {"kiosk_id": KIOSK, "kiosk_name": "North entrance", "mqtt": values}
    )


def forwarder_for(settings: Settings, data_dir: Path, **kwargs: Any) -> Forwarder:
    forwarder = open_integrations(settings, data_dir, **kwargs)
    forwarder.start()
    return forwarder


def link_of(forwarder: Forwarder) -> MqttLink:
    link = forwarder.destinations[0]
    assert isinstance(link, MqttLink)
    return link


def grant(name: str = "Yao Ming") -> Any:
    match = Candidate(person_id=__import__("uuid").uuid4(), display_name=name, similarity=0.8)
    return access_decision(
        kiosk_id=KIOSK, outcome=AccessOutcome.GRANTED, latency_ms=120.0, match=match
    )


def unknown() -> Any:
    return access_decision(kiosk_id=KIOSK, outcome=AccessOutcome.UNKNOWN, latency_ms=90.0)


def forced_open_door() -> tuple[list[Any], DoorStatus]:
    control = DoorControl(DoorIoSettings())
    events = control.door_contact(1.0, is_open=False) + control.door_contact(2.0, is_open=True)
    return events, DoorStatus(adapter="simulated", state=control.state, fault=None)


def test_discovery_configs_appear_and_parse_as_home_assistant_documents(
    broker: Broker, tmp_path: Path
) -> None:
    events, status = forced_open_door()
    listener = listen(broker, ["homeassistant/#", f"{PREFIX}/#"])
    forwarder = forwarder_for(mqtt_settings(broker), tmp_path / "data", door_status=lambda: status)
    try:
        for event in events:
            forwarder(event)
        listener.wait_for(lambda got: any(m.topic == f"{PREFIX}/door/state" for m in got))
        listener.wait_for(lambda got: any(m.topic == f"{PREFIX}/alert" for m in got))
        listener.wait_for(lambda got: len(configs_in(got)) >= 8)
    finally:
        forwarder.stop()
        listener.close()
    configs = configs_in(listener.messages)
    components = {topic.split("/")[1] for topic in configs}
    assert components == {"lock", "binary_sensor", "event", "sensor"}, "switch only with commands"
    state = listener.on(f"{PREFIX}/door/state")[-1]
    unique_ids = set()
    for topic, config in configs.items():
        component = _DISCOVERY_TOPIC.fullmatch(topic)
        assert component is not None, topic
        required, documented = HA_SCHEMA[component["component"]]
        assert required <= set(config), f"{topic} lacks {required - set(config)}"
        assert set(config) <= documented, f"{topic}: undocumented {set(config) - documented}"
        assert config["device"]["identifiers"]
        assert config["unique_id"] not in unique_ids
        unique_ids.add(config["unique_id"])
        assert config["availability_topic"] == f"{PREFIX}/availability"
        template = config.get("value_template")
        if template is not None:
            key = _TEMPLATE.fullmatch(template)
            assert key is not None, f"{topic}: a template HA reads as it is: {template}"
            if config["state_topic"] == f"{PREFIX}/door/state":
                value = state.json()[key["key"]]
                allowed = {config.get(k) for k in ("payload_on", "payload_off", "state_on",
                           "state_off", "state_locked", "state_unlocked")} | {""}  # fmt: skip
                assert value in allowed, f"{topic} reads {value!r}"
    door = configs["homeassistant/lock/door-north/door/config"]
    assert state.json()[_TEMPLATE.fullmatch(door["value_template"])["key"]] == "LOCKED"  # type: ignore[index]
    forced = configs["homeassistant/binary_sensor/door-north/forced_open/config"]
    assert state.json()["forced_open"] == forced["payload_on"], "the alarm shows in HA"
    alert = [m.json() for m in listener.on(f"{PREFIX}/alert")]
    assert [a["event_type"] for a in alert] == ["forced_open"]
    event_types = configs["homeassistant/event/door-north/alert/config"]["event_types"]
    assert alert[0]["event_type"] in event_types
    availability = listener.on(f"{PREFIX}/availability")
    assert availability[0].payload == b"online"
    assert availability[-1].payload == b"offline", "said at a clean stop"
    # Retained: a client that comes later (Home Assistant restarted) gets both at once.
    late = listen(broker, [f"{PREFIX}/door/state", f"{PREFIX}/availability"], client_id="late")
    try:
        late.wait_for(lambda got: len(got) == 2)
    finally:
        late.close()
    assert all(message.retain for message in late.messages)
    assert late.on(f"{PREFIX}/availability")[0].payload == b"offline"
    assert late.on(f"{PREFIX}/door/state")[0].json()["forced_open"] == "ON"


def configs_in(messages: list[Received]) -> dict[str, Any]:
    return {
        m.topic: m.json() for m in messages if m.topic.startswith("homeassistant/") and m.payload
    }


def test_a_grant_arrives_with_the_kiosk_id_and_names_no_one_by_default(
    broker: Broker, tmp_path: Path
) -> None:
    listener = listen(broker, [f"{PREFIX}/access"])
    forwarder = forwarder_for(mqtt_settings(broker), tmp_path / "data")
    decision = grant()
    try:
        forwarder.consume(decision)
        listener.wait_for(lambda got: len(got) == 1)
    finally:
        forwarder.stop()
        listener.close()
    body = listener.messages[0].json()
    assert body["kiosk_id"] == KIOSK
    assert body["event_id"] == str(decision.event_id), "the access log's own event id"
    assert body["event_type"] == "granted"
    assert body["type"] == "access.granted"
    assert "person" not in body
    assert "Yao Ming" not in listener.messages[0].payload.decode()
    assert not listener.messages[0].retain


def test_names_go_out_only_where_the_setting_allows(broker: Broker, tmp_path: Path) -> None:
    listener = listen(broker, [f"{PREFIX}/access"])
    forwarder = forwarder_for(mqtt_settings(broker, person_details=True), tmp_path / "data")
    decision = grant("Ann Lee")
    try:
        forwarder.consume(decision)
        forwarder.consume(unknown())
        listener.wait_for(lambda got: len(got) == 2)
    finally:
        forwarder.stop()
        listener.close()
    granted, stranger = (m.json() for m in listener.messages)
    assert granted["person"] == {"id": str(decision.person_id), "name": "Ann Lee"}
    assert "person" not in stranger


@pytest.mark.slow
def test_the_broker_stopped_for_a_while_loses_nothing_and_keeps_the_order(
    broker: Broker, tmp_path: Path
) -> None:
    # The test's session is kept by the broker (persistence), so what the kiosk sends
    # after the restart reaches it even if it reconnects after the kiosk does.
    listener = listen(broker, [f"{PREFIX}/access"], client_id="keeper", keep_session=True)
    forwarder = forwarder_for(mqtt_settings(broker), tmp_path / "data")
    link = link_of(forwarder)
    sent = [grant() for _ in range(40)]
    try:
        for decision in sent[:10]:
            forwarder.consume(decision)
        listener.wait_for(lambda got: len(got) >= 10)
        broker.stop()
        wait_until(lambda: not link.connected, timeout_s=10)
        for decision in sent[10:]:
            forwarder.consume(decision)
        wait_until(lambda: len(link.outbox) >= 30, timeout_s=10)  # and health reports
        assert (tmp_path / "data" / "outbox" / "mqtt.jsonl").stat().st_mode & 0o777 == 0o600
        broker.start()
        listener.wait_for(lambda got: len({m.json()["event_id"] for m in got}) == 40, 30)
        wait_until(lambda: len(link.outbox) == 0, timeout_s=10)
    finally:
        forwarder.stop()
        listener.close()
    seen: list[str] = []
    for message in listener.messages:
        event_id = message.json()["event_id"]
        if event_id not in seen:
            seen.append(event_id)
    assert seen == [str(d.event_id) for d in sent], "every event, in the order decided"


# --- commands ---------------------------------------------------------------------------


# Each user writes only its own command topic; the kiosk its own topics, named one by
# one so that no command topic is among them.
COMMAND_ACL = f"""
pattern write face-kiosk/+/command/%u
user kiosk
topic write {PREFIX}/availability
topic write {PREFIX}/access
topic write {PREFIX}/door/#
topic write {PREFIX}/alert
topic write {PREFIX}/health
topic write {PREFIX}/command_result
topic read {PREFIX}/command/#
topic write homeassistant/#
user homeassistant
topic read {PREFIX}/#
user intruder
topic read {PREFIX}/#
"""
USERS = {"kiosk": "kiosk-pw", "homeassistant": "ha-pw", "intruder": "intruder-pw"}


@pytest.fixture
def secured_broker(tmp_path: Path) -> Iterator[Broker]:
    server = Broker(tmp_path / "secured", users=USERS, acl=COMMAND_ACL)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def door_commands(db_engine: Engine, operator_store: SqlOperatorStore) -> DoorCommandAccess:
    from core.access.door_commands import DoorCommandService
    from storage.kiosk_registry import register_kiosk

    Authenticator(operator_store, SecuritySettings(), KIOSK).create_first_admin(
        "ha-door", ADMIN_PASSWORD
    )
    register_kiosk(db_engine, KIOSK, "North entrance", "test")
    audited: list[Any] = []
    return DoorCommandAccess(
        service=DoorCommandService(SqlDoorCommands(db_engine), DoorIoSettings()),
        operators=operator_store,
        record_audit=audited.append,
    )


def password_file(tmp_path: Path) -> Path:
    path = tmp_path / "mqtt-password"
    path.write_text("kiosk-pw\n")
    path.chmod(0o600)
    return path


def command_settings(broker: Broker, tmp_path: Path, *, commands: bool) -> Settings:
    extra: dict[str, Any] = {"username": "kiosk", "password_file": str(password_file(tmp_path))}
    if commands:
        extra |= {
            "commands": True,
            "command_users": ["homeassistant"],
            "command_operator": "ha-door",
        }
    return mqtt_settings(broker, **extra)


def stored_commands(db_engine: Engine) -> list[tuple[str, str, float | None]]:
    with db_engine.connect() as connection:
        rows = connection.execute(
            select(schema.DoorCommand.kind, schema.DoorCommand.operator, schema.DoorCommand.seconds)
        )
        return [(kind, operator, seconds) for kind, operator, seconds in rows]


def results(listener: Listener) -> list[dict[str, Any]]:
    return [m.json() for m in listener.on(f"{PREFIX}/command_result")]


def test_the_command_topic_is_ignored_unless_turned_on(
    secured_broker: Broker, tmp_path: Path, db_engine: Engine, door_commands: DoorCommandAccess
) -> None:
    watcher = listen(secured_broker, [f"{PREFIX}/#"], user=("homeassistant", "ha-pw"))
    forwarder = forwarder_for(
        command_settings(secured_broker, tmp_path, commands=False),
        tmp_path / "data",
        door_commands=door_commands,
    )
    try:
        watcher.wait_for(lambda got: any(m.payload == b"online" for m in got))
        assert watcher.publish(f"{PREFIX}/command/homeassistant", "UNLOCK") < 128
        # Nothing announces a command not taken; with commands off the kiosk holds no
        # subscription and has no command taker, so a decision sent after it arriving is
        # enough of a wait before looking at the database.
        forwarder.consume(unknown())
        watcher.wait_for(lambda got: any(m.topic == f"{PREFIX}/access" for m in got))
    finally:
        forwarder.stop()
        watcher.close()
    assert results(watcher) == []
    assert stored_commands(db_engine) == []


def test_commands_are_taken_from_allowed_users_through_the_database(
    secured_broker: Broker, tmp_path: Path, db_engine: Engine, door_commands: DoorCommandAccess
) -> None:
    ha = listen(secured_broker, [f"{PREFIX}/#"], user=("homeassistant", "ha-pw"))
    intruder = listen(secured_broker, [], user=("intruder", "intruder-pw"), client_id="intruder")
    settings = command_settings(secured_broker, tmp_path, commands=True)
    forwarder = forwarder_for(settings, tmp_path / "data", door_commands=door_commands)
    link = link_of(forwarder)
    try:
        wait_until(lambda: link.commands_state != "checking the broker", timeout_s=10)
        assert link.commands_state == "on", secured_broker.log()
        assert ha.on("homeassistant/switch/door-north/lockdown/config") == [] or True
        assert ha.publish(f"{PREFIX}/command/homeassistant", "UNLOCK") < 128
        ha.wait_for(lambda got: len(results_of(got)) == 1)
        # The intruder may not write Home Assistant's topic, and its own is not allowed.
        assert intruder.publish(f"{PREFIX}/command/homeassistant", "LOCKDOWN") == 135
        assert intruder.publish(f"{PREFIX}/command/intruder", "LOCKDOWN") < 128
        ha.wait_for(lambda got: len(results_of(got)) == 2)
        assert ha.publish(f"{PREFIX}/command/homeassistant", "LOCK") < 128
        ha.wait_for(lambda got: len(results_of(got)) == 3)
    finally:
        forwarder.stop()
        ha.close()
        intruder.close()
    taken, refused, lock = results(ha)
    assert taken["accepted"]
    assert taken["user"] == "homeassistant"
    assert taken["command"] == "unlock"
    assert not refused["accepted"]
    assert refused["user"] == "intruder"
    assert not lock["accepted"]
    assert "LOCKDOWN" in lock["text"]
    assert stored_commands(db_engine) == [
        (DoorCommandKind.UNLOCK.value, "ha-door", DoorIoSettings().unlock_s)
    ]
    with db_engine.connect() as connection:
        audited = connection.execute(
            select(schema.AuditEvent.actor, schema.AuditEvent.details).where(
                schema.AuditEvent.action == "door.command"
            )
        ).all()
    assert [(actor, details["via"]) for actor, details in audited] == [
        ("ha-door", "mqtt:homeassistant")
    ]


def results_of(messages: list[Received]) -> list[Received]:
    return [m for m in messages if m.topic == f"{PREFIX}/command_result"]


def test_commands_stay_off_where_the_broker_would_let_anyone_claim_a_user(
    tmp_path: Path, db_engine: Engine, door_commands: DoorCommandAccess
) -> None:
    # Users, but an ACL that lets the kiosk (and so anyone) write any command topic.
    open_acl = "user kiosk\ntopic readwrite face-kiosk/#\ntopic write homeassistant/#\n"
    open_acl += "user homeassistant\ntopic readwrite face-kiosk/#\n"
    broker = Broker(tmp_path / "open", users=USERS, acl=open_acl)
    broker.start()
    try:
        ha = listen(broker, [f"{PREFIX}/#"], user=("homeassistant", "ha-pw"))
        forwarder = forwarder_for(
            command_settings(broker, tmp_path, commands=True),
            tmp_path / "data",
            door_commands=door_commands,
        )
        link = link_of(forwarder)
        try:
            wait_until(lambda: link.commands_state.startswith("refused"), timeout_s=10)
            assert ha.publish(f"{PREFIX}/command/homeassistant", "UNLOCK") < 128
            forwarder.consume(unknown())
            ha.wait_for(lambda got: any(m.topic == f"{PREFIX}/access" for m in got))
        finally:
            forwarder.stop()
            ha.close()
    finally:
        broker.stop()
    assert results(ha) == []
    assert stored_commands(db_engine) == []
