"""A real Mosquitto broker (Debian's `mosquitto`, installed by .ci/run) for the MQTT
tests: on a free loopback port, its configuration, users and ACL in an owner-only
folder of the test's, stopped by the test (it is ours: started here, by its pid)."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
PASSWD = shutil.which("mosquitto_passwd") or "/usr/bin/mosquitto_passwd"
START_S = 10.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Broker:
    """``users`` (name -> password) and ``acl`` (Mosquitto's acl_file text) turn on
    authentication; persistence keeps sessions and queued messages across a restart."""

    def __init__(
        self, folder: Path, users: dict[str, str] | None = None, acl: str | None = None
    ) -> None:
        self.folder = folder
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        lines = [
            f"listener {self.port} 127.0.0.1",
            # Run as root (tests and CI are): stay root, so the owner-only folder is readable.
            "user root",
            "persistence true",
            f"persistence_location {folder}/",
            f"log_dest file {folder}/mosquitto.log",
        ]
        if users:
            password_file = folder / "passwords"
            password_file.touch(mode=0o600)
            for name, password in users.items():
                subprocess.run([PASSWD, "-b", str(password_file), name, password], check=True)
            lines += ["allow_anonymous false", f"password_file {password_file}"]
        else:
            lines.append("allow_anonymous true")
        if acl is not None:
            acl_file = folder / "acl"
            acl_file.write_text(acl)
            acl_file.chmod(0o600)
            lines.append(f"acl_file {acl_file}")
        self.config = folder / "mosquitto.conf"
        self.config.write_text("\n".join(lines) + "\n")
        self.config.chmod(0o600)

    def start(self) -> None:
        self.process = subprocess.Popen(
            [MOSQUITTO, "-c", str(self.config)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + START_S
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.log()
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        raise AssertionError(f"mosquitto did not listen within {START_S} s:\n{self.log()}")

    def stop(self) -> None:
        """SIGTERM (it saves its persistence file), then SIGKILL if it hangs."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)

    def log(self) -> str:
        path = self.folder / "mosquitto.log"
        return path.read_text() if path.exists() else ""


@dataclass
class Received:
    topic: str
    payload: bytes
    retain: bool

    def json(self) -> Any:
        return json.loads(self.payload)


@dataclass
class Listener:
    """A test's MQTT client: every message on ``topics``, in the order they came."""

    client: paho.Client
    messages: list[Received] = field(default_factory=list)
    arrived: threading.Condition = field(default_factory=threading.Condition)

    def wait_for(self, check: Callable[[list[Received]], bool], timeout_s: float = 15) -> None:
        with self.arrived:
            if not self.arrived.wait_for(lambda: check(list(self.messages)), timeout_s):
                topics = [m.topic for m in self.messages]
                raise AssertionError(f"not seen within {timeout_s} s; got {topics}")

    def on(self, topic: str) -> list[Received]:
        with self.arrived:
            return [m for m in self.messages if m.topic == topic]

    def publish(self, topic: str, payload: str) -> int:
        """The broker's reason code for it (QoS 1): 135 when not authorised."""
        codes: dict[int, int] = {}
        done = threading.Event()

        def acked(_c: object, _u: object, mid: int, reason: Any, _p: object) -> None:
            codes[mid] = reason.value
            done.set()

        self.client.on_publish = acked
        info = self.client.publish(topic, payload, qos=1)
        assert done.wait(10), "no acknowledgement"
        return codes[info.mid]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def listen(
    broker: Broker,
    topics: list[str],
    *,
    user: tuple[str, str] | None = None,
    client_id: str = "test-listener",
    keep_session: bool = False,
) -> Listener:
    """Connected and subscribed (QoS 1) when it returns. ``keep_session``: the broker
    keeps the subscription and queues messages while this client or the broker is
    away (a persistent session)."""
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=paho.MQTTv5)
    if user is not None:
        client.username_pw_set(*user)
    listener = Listener(client)
    subscribed = threading.Event()

    def connected(c: paho.Client, _u: object, _f: object, reason: Any, _p: object) -> None:
        if reason.is_failure:
            return
        if topics:
            c.subscribe([(topic, 1) for topic in topics])
        else:  # a client that only publishes
            subscribed.set()

    def message(_c: object, _u: object, msg: Any) -> None:
        with listener.arrived:
            listener.messages.append(Received(msg.topic, bytes(msg.payload), bool(msg.retain)))
            listener.arrived.notify_all()

    client.on_connect = connected
    client.on_subscribe = lambda *_args: subscribed.set()
    client.on_message = message
    client.reconnect_delay_set(1, 1)
    properties = None
    if keep_session:
        properties = Properties(PacketTypes.CONNECT)
        properties.SessionExpiryInterval = 3600
    client.connect("127.0.0.1", broker.port, clean_start=not keep_session, properties=properties)
    client.loop_start()
    assert subscribed.wait(10), "the test's listener did not subscribe"
    return listener
